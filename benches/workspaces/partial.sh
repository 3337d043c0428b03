#!/usr/bin/env bash
# Seed `partial` in place against a copy: one job reads the first 1 % of a 2 GiB file of a
# host workspace, once from an input marked `partial` (bind-mounted in place) and once from
# the same input without it (staged: copied into the job's directory first). Prints the
# submit-to-successful time of each (best of RUNS). Needs Docker and a built ades
# (cargo build --release, or ADES=path/to/ades).
set -euo pipefail
cd "$(dirname "$0")/../.."
ades=${ADES:-target/release/ades}
runs=${RUNS:-3}
size_mib=${SIZE_MIB:-2048}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/data" "$work/ws" "$work/images"
chmod 755 "$work" "$work/ws"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/ws/big.bin"
chmod 644 "$work/ws/big.bin"
read_bytes=$((size_mib * 1024 * 1024 / 100))

bash examples/base/build.sh >/dev/null
for partial in true false; do
  dir="$work/images/$partial"
  mkdir -p "$dir"
  printf 'head -c %s "$1" | wc -c > "$2/out-read.txt"\n' "$read_bytes" >"$dir/run.sh"
  printf 'FROM ades-busybox:latest\nCOPY run.sh /app/run.sh\nENTRYPOINT ["/bin/sh", "/app/run.sh"]\n' >"$dir/Dockerfile"
  cat >"$dir/seed.manifest.json" <<JSON
{"seedVersion": "1.0.0", "job": {"name": "bench-partial-$partial", "jobVersion": "1.0.0",
 "packageVersion": "1.0.0", "title": "Reads 1 %", "description": "Reads the first 1 % of INPUT",
 "maintainer": {"name": "ades", "email": "ades@example.org"}, "timeout": 600,
 "interface": {"command": "\${INPUT} \${OUTPUT_DIR}",
  "inputs": {"files": [{"name": "INPUT", "partial": $partial}]},
  "outputs": {"files": [{"name": "OUT", "pattern": "out-*"}]}}}}
JSON
  "$ades" seed build "$dir" >/dev/null
done

cat >"$work/ades.toml" <<TOML
data_dir = "$work/data"
[queue]
max_input_bytes = $((4 * 1024 * 1024 * 1024))
[workspaces.bench.configuration.broker]
type = "host"
host_path = "$work/ws"
TOML
port=$((20000 + RANDOM % 10000))
"$ades" serve --config "$work/ades.toml" --bind "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done

run_once() { # process -> seconds
  local start end location status
  start=$(date +%s.%N)
  location=$(curl -fsS -D - -o /dev/null -X POST "http://127.0.0.1:$port/processes/$1/execution" \
    -H 'Content-Type: application/json' -H 'Prefer: respond-async' \
    -d '{"inputs": {"INPUT": {"href": "workspace://bench/big.bin"}}}' | tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
  while :; do
    status=$(curl -fsS "$location" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
    case "$status" in successful) break ;; failed | dismissed) echo "job $status" >&2; exit 1 ;; esac
    sleep 0.05
  done
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

for partial in true false; do
  best=""
  for _ in $(seq 1 "$runs"); do
    took=$(run_once "bench-partial-$partial")
    if [ -z "$best" ] || [ "$(echo "$took < $best" | bc)" = 1 ]; then best=$took; fi
  done
  printf 'partial=%-5s %d MiB input, 1 %% read: best of %d: %.2f s\n' "$partial" "$size_mib" "$runs" "$best"
done
