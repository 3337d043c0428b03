#!/bin/sh
# Runs the echo process asynchronously and follows its job the cheap way: long polls that
# the server answers when the job's document changes (Prefer: wait, If-None-Match), then
# prints the results and the job's provenance record in PROV-N.
#
#   sh examples/clients/follow_job.sh [BASE_URL]        (default http://127.0.0.1:8080)
#
# Needs curl and sed. Exits non-zero when a step fails, so it is also a test
# (tests/it/polling.rs).
set -eu
base=${1:-http://127.0.0.1:8080}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Submit: 201 Created with the job's URL in Location.
curl -fsS -o /dev/null -D "$work/headers" -X POST "$base/processes/echo/execution" \
  -H 'Content-Type: application/json' -H 'Prefer: respond-async' \
  -d '{"inputs": {"MESSAGE": "followed by long polls"}}'
job=$(sed -n 's/^[Ll]ocation: *//p' "$work/headers" | tr -d '\r')
echo "job: $job"

# Follow: each request is held until the document differs from the one we hold.
tag=
while :; do
  code=$(curl -sS -o "$work/status" -D "$work/headers" -w '%{http_code}' \
    -H 'Prefer: wait=30' ${tag:+-H "If-None-Match: $tag"} "$job")
  case $code in
    200) ;;
    304) continue ;;
    *) echo "GET $job answered $code" >&2; exit 1 ;;
  esac
  tag=$(sed -n 's/^[Ee][Tt]ag: *//p' "$work/headers" | tr -d '\r')
  status=$(sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p' "$work/status")
  echo "status: $status"
  case $status in
    successful) break ;;
    failed | dismissed) exit 1 ;;
  esac
done

echo "results:"
curl -fsS "$job/results"
echo
echo "provenance (PROV-N):"
curl -fsS "$job/prov?f=provn"
