#!/usr/bin/env bash
# The NDVI example end to end: builds the three step images (build.sh), deploys
# recipe.json (a Scale recipe type) as the process ndvi-mask-summary, runs it on the
# sample raster, runs the same chain as the OGC API Part 3 nested execute request
# nested-execute.json, checks both summaries against the numbers expected from the
# sample's known pixel values, and undeploys the recipe. The test suite runs it
# (tests/it/ndvi.rs).
#
# With B set (e.g. B=http://127.0.0.1:8080 TOKEN=secret) it uses that server, started
# with that admin token; without, it starts `ades serve` on a free port in a temporary
# data directory and stops it at the end. SKIP_BUILD=1 skips the build. ADES names the
# ades binary (default: `ades` on PATH, else target/debug/ades).
# Needs: bash, curl, python3, docker, cargo (for the build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -z "${ADES:-}" ]; then
  if command -v ades >/dev/null; then ADES=ades; else ADES=$root/target/debug/ades; fi
fi
export ADES
recipe=${RECIPE:-$here/recipe.json}
nested=${NESTED:-$here/nested-execute.json}
[ "${SKIP_BUILD:-0}" = 1 ] || bash "$here/build.sh" >&2

results=$(mktemp -d)
server='' data=''
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; fi
  rm -rf "$results" ${data:+"$data"}
}
trap cleanup EXIT

# 1. A server: the one given, or our own for the length of this script.
if [ -z "${B:-}" ]; then
  data=$(mktemp -d)
  TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  echo "$TOKEN" > "$data/admin-token"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  B=http://127.0.0.1:$port
  "$ADES" serve --bind "127.0.0.1:$port" --data-dir "$data" \
    --admin-token-file "$data/admin-token" > "$data/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "$B/" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$data/serve.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "started ades serve at $B"
fi
TOKEN=${TOKEN:-secret}

# 2. Deploy the recipe (replace it when an earlier run left it there). Its nodes are
#    checked against the processes offered here: the three images just built.
code=$(curl -sS -o "$results/deploy.json" -w '%{http_code}' -X POST "$B/processes" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/vnd.ades.recipe+json' \
  --data-binary "@$recipe")
if [ "$code" = 409 ]; then
  code=$(curl -sS -o "$results/deploy.json" -w '%{http_code}' -X PUT \
    "$B/processes/ndvi-mask-summary" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/vnd.ades.recipe+json' --data-binary "@$recipe")
fi
echo "deploy: $code"
case $code in 2??) ;; *) cat "$results/deploy.json" >&2; exit 1 ;; esac
curl -fsS "$B/processes/ndvi-mask-summary" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("inputs:", ", ".join(sorted(d["inputs"])), "| outputs:", ", ".join(sorted(d["outputs"])))'

# 3. Run the recipe synchronously (the sample inline, base64), every output by value.
python3 - "$here/sample/red-nir.tif" > "$results/recipe-execute.json" <<'PY'
import base64, json, sys
sample = base64.b64encode(open(sys.argv[1], "rb").read()).decode()
print(json.dumps({"inputs": {
    "RED_NIR": {"value": sample, "encoding": "base64", "mediaType": "image/tiff"},
    "THRESHOLD": 0.3}, "response": "document"}))
PY
curl -fsS -X POST "$B/processes/ndvi-mask-summary/execution" -H 'Content-Type: application/json' \
  --data-binary "@$results/recipe-execute.json" -o "$results/recipe.json"

# 4. The same chain as a Part 3 nested execute of ndvi-summary: its NDVI input is an
#    execution of ndvi, its MASK input one of ndvi-threshold, whose NDVI is one of ndvi.
sed "s#REMOTE_URL#${REMOTE:-}#g" "$nested" > "$results/nested-request.json"
curl -fsS -X POST "$B/processes/ndvi-summary/execution" -H 'Content-Type: application/json' \
  --data-binary "@$results/nested-request.json" -o "$results/nested.json"

# 5. Check both against what the sample's pixels give (see src/bin/make-sample.rs): four
#    land bands of 16 rows, each with one NDVI; the 8x8 corner of water is no data.
python3 - "$results/recipe.json" "$results/nested.json" "$here/sample/red-nir.tif" \
  "$results/nested-request.json" <<'PY'
import base64, json, struct, sys

def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]

# (pixels, red, nir) per land band; the steps compute NDVI in float32.
bands = [(16 * 64 - 64, 600, 300), (16 * 64, 1800, 2200), (16 * 64, 800, 2400), (16 * 64, 400, 3600)]
ndvi = [(n, f32((nir - red) / (nir + red))) for n, red, nir in bands]
valid = sum(n for n, _ in ndvi)
above = sum(n for n, v in ndvi if v > 0.3)
expected = {"VALID_PIXELS": valid, "ABOVE_PIXELS": above, "FRACTION_ABOVE": above / valid,
            "NDVI_MIN": min(v for _, v in ndvi), "NDVI_MAX": max(v for _, v in ndvi),
            "NDVI_MEAN": sum(n * v for n, v in ndvi) / valid}
recipe, nested = (json.load(open(path)) for path in sys.argv[1:3])
sample = base64.b64encode(open(sys.argv[3], "rb").read()).decode()
assert sample in open(sys.argv[4]).read(), "the nested request does not hold sample/red-nir.tif"
failed = False
for name, got in (("recipe", {k.removeprefix("summary."): v for k, v in recipe.items()}),
                  ("nested", nested)):
    for key, want in expected.items():
        if abs(got[key] - want) > 1e-6:
            print(f"{name}: {key} is {got[key]}, expected {want}")
            failed = True
    if json.loads(got["SUMMARY"]["value"])["validPixels"] != valid:
        print(f"{name}: summary.json disagrees: {got['SUMMARY']}")
        failed = True
    print(f"{name}: valid {got['VALID_PIXELS']}, above 0.3 {got['ABOVE_PIXELS']} "
          f"({got['FRACTION_ABOVE']:.4f}), NDVI min {got['NDVI_MIN']:.4f} "
          f"max {got['NDVI_MAX']:.4f} mean {got['NDVI_MEAN']:.4f}")
sys.exit(1 if failed else 0)
PY
echo "summaries: as expected"

curl -fsS -X DELETE "$B/processes/ndvi-mask-summary" -H "Authorization: Bearer $TOKEN" \
  -o /dev/null -w 'undeploy: %{http_code}\n'
