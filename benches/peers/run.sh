#!/usr/bin/env bash
# The peer benchmark: ades against pygeoapi and PyWPS on this machine, the same load from
# the same tool (wrk), one table of results and ratios.
#
#   bash benches/peers/run.sh
#
# Installs what it needs: wrk (Debian), pygeoapi, PyWPS and gunicorn (PyPI, into the virtual
# environment target/peers-venv), builds ades in release mode and the echo example image.
# Each server listens on loopback with comparable settings: ades with its defaults (SQLite,
# its default workers); pygeoapi and PyWPS under gunicorn with one worker per core, their
# own hello-world processes, pygeoapi's PostgreSQL job manager (a fresh database on the
# PostgreSQL of scripts/start-postgres.sh) and PyWPS's SQLite log.
#
# Measured, each for PEERS_SECONDS (default 10) with PEERS_CONNECTIONS (default 8)
# connections, every request on a new connection (`Connection: close`, as clients that
# poll do):
#   describe    GET one process description (WPS 1.0.0 DescribeProcess for PyWPS)
#   list        GET the process list (WPS 1.0.0 GetCapabilities for PyWPS)
#   submit      asynchronous executes; ades's run echo containers meanwhile
#   idle RSS    the servers' resident memory (every process of theirs) before any load
# and for ades alone, PEERS_JOBS (default 200) asynchronous echo jobs from submission of
# the first to the end of the last, against the same containers started with plain
# `docker run --rm`, PEERS_DOCKER_PARALLEL (default 6) at a time.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
seconds=${PEERS_SECONDS:-10}
connections=${PEERS_CONNECTIONS:-8}
jobs=${PEERS_JOBS:-200}
parallel=${PEERS_DOCKER_PARALLEL:-6}
cores=$(nproc)
work=$(mktemp -d /tmp/ades-peers.XXXXXX)
venv=$root/target/peers-venv
pids=()

log() { printf '==> %s\n' "$*" >&2; }

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
  if [ -n "${pg_db:-}" ]; then psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v wrk >/dev/null; then
  log "installing wrk"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq wrk >/dev/null
fi
if ! "$venv/bin/python" -c 'import pygeoapi, pywps, gunicorn, psycopg2, geoalchemy2' 2>/dev/null; then
  log "installing pygeoapi, PyWPS and gunicorn into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check pygeoapi pywps gunicorn \
    psycopg2-binary sqlalchemy geoalchemy2
fi
log "building ades (release) and the echo image"
cargo build --release --quiet
ades=$root/target/release/ades
bash examples/base/build.sh >/dev/null
"$ades" seed build examples/echo >/dev/null
image=echo-1.0.0-seed:1.0.0

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_up() {
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null "$1" && return
    sleep 0.2
  done
  echo "$1 did not answer; see $work/*.log" >&2
  exit 1
}

# Resident memory of a process and its children, MiB.
rss_mib() {
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  awk -v kib="$total" 'BEGIN { printf "%.1f", kib / 1024 }'
}

# Successful requests (2xx/3xx) per second wrk sustains on a URL (extra arguments go to
# wrk): a refusal (a full queue's 503, say) is not a submission, so it is not counted.
rate() {
  local url=$1
  shift
  wrk -t 2 -c "$connections" -d "${seconds}s" -H 'Connection: close' "$@" "$url" 2>&1 |
    awk '/ requests in / {total = $1; secs = $4 + 0}
         /Non-2xx or 3xx responses:/ {failed = $5}
         END {if (secs > 0) printf "%.0f", (total - failed) / secs; else printf "0"}'
}

log "starting ades, pygeoapi and PyWPS"
ades_port=$(free_port)
# The queue bound (queue.max_queued, 10,000 by default) is raised: at 1,000 submissions a
# second a 10 s run reaches the default bound, and the bound, not the server, would be
# measured (pygeoapi and PyWPS have none).
ADES__QUEUE__MAX_QUEUED=${PEERS_MAX_QUEUED:-1000000} \
  "$ades" serve --bind "127.0.0.1:$ades_port" --data-dir "$work/ades" >"$work/ades.log" 2>&1 &
ades_pid=$!
pids+=("$ades_pid")

pygeoapi_port=$(free_port)
mkdir -p "$work/pygeoapi-out"
# pygeoapi's PostgreSQL manager reads and writes a table `jobs` it does not create: a
# fresh database with that table (the columns its manager writes) for every run.
pg_admin=$(bash scripts/start-postgres.sh)
pg_db=pygeoapi_peers_$$
psql -q "$pg_admin" -c "CREATE DATABASE $pg_db" >/dev/null
pg_url=${pg_admin%/*}/$pg_db
psql -q "$pg_url" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE TABLE jobs (
  type text, identifier text PRIMARY KEY, process_id text,
  created timestamptz, started timestamptz, updated timestamptz, finished timestamptz,
  status text, location text, mimetype text, message text, progress integer
);
SQL
sed -e "s|@PORT@|$pygeoapi_port|g" -e "s|@WORK@|$work|g" -e "s|@PGURL@|$pg_url|g" \
  benches/peers/pygeoapi.yml >"$work/pygeoapi.yml"
export PYGEOAPI_CONFIG=$work/pygeoapi.yml PYGEOAPI_OPENAPI=$work/pygeoapi-openapi.yml
"$venv/bin/pygeoapi" openapi generate "$PYGEOAPI_CONFIG" --output-file "$PYGEOAPI_OPENAPI" >/dev/null 2>&1
"$venv/bin/gunicorn" -w "$cores" -b "127.0.0.1:$pygeoapi_port" pygeoapi.flask_app:APP \
  >"$work/pygeoapi.log" 2>&1 &
pygeoapi_pid=$!
pids+=("$pygeoapi_pid")

pywps_port=$(free_port)
mkdir -p "$work/pywps-out" "$work/pywps-work"
sed -e "s|@PORT@|$pywps_port|g" -e "s|@WORK@|$work|g" benches/peers/pywps.cfg >"$work/pywps.cfg"
PEERS_PYWPS_CFG=$work/pywps.cfg "$venv/bin/gunicorn" -w "$cores" -b "127.0.0.1:$pywps_port" \
  --chdir benches/peers pywps_app:application >"$work/pywps.log" 2>&1 &
pywps_pid=$!
pids+=("$pywps_pid")

ades_url=http://127.0.0.1:$ades_port
pygeoapi_url=http://127.0.0.1:$pygeoapi_port
pywps_url=http://127.0.0.1:$pywps_port/wps
wait_up "$ades_url/processes/echo"
wait_up "$pygeoapi_url/processes/hello-world"
wait_up "$pywps_url?service=WPS&request=GetCapabilities"
sleep 3
idle_ades=$(rss_mib "$ades_pid")
idle_pygeoapi=$(rss_mib "$pygeoapi_pid")
idle_pywps=$(rss_mib "$pywps_pid")

log "describe"
describe_ades=$(rate "$ades_url/processes/echo")
describe_pygeoapi=$(rate "$pygeoapi_url/processes/hello-world")
describe_pywps=$(rate "$pywps_url?service=WPS&version=1.0.0&request=DescribeProcess&identifier=hello")
log "list"
list_ades=$(rate "$ades_url/processes")
list_pygeoapi=$(rate "$pygeoapi_url/processes")
list_pywps=$(rate "$pywps_url?service=WPS&version=1.0.0&request=GetCapabilities")

log "submit"
submit() {
  PEERS_BODY=$2 PEERS_CONTENT_TYPE=$3 rate "$1" -s benches/peers/submit.lua
}
submit_ades=$(submit "$ades_url/processes/echo/execution" '{"inputs": {"MESSAGE": "hi"}}' application/json)
submit_pygeoapi=$(submit "$pygeoapi_url/processes/hello-world/execution" '{"inputs": {"name": "hi"}}' application/json)
wps_execute='<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1"><ows:Identifier>hello</ows:Identifier><wps:DataInputs><wps:Input><ows:Identifier>name</ows:Identifier><wps:Data><wps:LiteralData>hi</wps:LiteralData></wps:Data></wps:Input></wps:DataInputs><wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true"/></wps:ResponseForm></wps:Execute>'
submit_pywps=$(submit "$pywps_url" "$wps_execute" text/xml)

# The submit run queued far more jobs than the workers run in minutes: the waiting ones are
# cancelled (as an operator would, through the store) and the running ones end before the
# jobs-to-done run starts.
log "cancelling the jobs the submit run queued"
"$ades" jobs cancel --status accepted --database-url "sqlite://$work/ades/ades.db" --yes \
  >/dev/null 2>"$work/cancel.log"
queued() { curl -fs "$ades_url/jobs?status=accepted&status=running&limit=1" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["jobs"]))'; }
while [ "$(queued)" != 0 ]; do sleep 1; done

log "$jobs echo jobs through ades"
started=$(date +%s.%N)
for i in $(seq 1 "$jobs"); do
  curl -fs -o /dev/null -X POST "$ades_url/processes/echo/execution" -H 'Prefer: respond-async' \
    -H 'Content-Type: application/json' -d "{\"inputs\": {\"MESSAGE\": \"job $i\"}}"
done
while [ "$(queued)" != 0 ]; do sleep 0.2; done
ades_jobs=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

log "$jobs echo containers with docker run --rm, $parallel at a time"
mkdir -p "$work/raw"
started=$(date +%s.%N)
seq 1 "$jobs" | xargs -P "$parallel" -I{} sh -c \
  "mkdir -p '$work/raw/{}' && docker run --rm -e MESSAGE='job {}' -e OUTPUT_DIR=/out -v '$work/raw/{}:/out' $image >/dev/null"
raw_jobs=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f ×", a / b; else printf "n/a" }'; }

echo
echo "Peer benchmark, $(date -u +%Y-%m-%d), $cores cores: wrk, $connections connections, ${seconds} s a run, Connection: close"
echo
echo "| measurement | ades | pygeoapi | PyWPS | ades ÷ pygeoapi | ades ÷ PyWPS |"
echo "| --- | --- | --- | --- | --- | --- |"
echo "| describe (req/s) | $describe_ades | $describe_pygeoapi | $describe_pywps | $(ratio "$describe_ades" "$describe_pygeoapi") | $(ratio "$describe_ades" "$describe_pywps") |"
echo "| list (req/s) | $list_ades | $list_pygeoapi | $list_pywps | $(ratio "$list_ades" "$list_pygeoapi") | $(ratio "$list_ades" "$list_pywps") |"
echo "| async submit (req/s) | $submit_ades | $submit_pygeoapi | $submit_pywps | $(ratio "$submit_ades" "$submit_pygeoapi") | $(ratio "$submit_ades" "$submit_pywps") |"
echo "| idle RSS (MiB) | $idle_ades | $idle_pygeoapi | $idle_pywps | $(ratio "$idle_ades" "$idle_pygeoapi") | $(ratio "$idle_ades" "$idle_pywps") |"
echo
echo "| $jobs echo containers to done | seconds |"
echo "| --- | --- |"
echo "| ades, default settings | $ades_jobs |"
echo "| docker run --rm, $parallel at a time | $raw_jobs |"
echo "| ades ÷ raw | $(ratio "$ades_jobs" "$raw_jobs") |"
