#!/usr/bin/env bash
# The NDVI example with a remote step, on two ades instances: A, the orchestrator, runs
# the workflows and calls B, the remote, configured in A as [remotes.b]. run.sh runs on A
# with recipe-remote.json (its ndvi node is `b:ndvi`) and nested-remote.json (its ndvi
# process URL is on B), and checks the same summary numbers.
#
# With A and REMOTE set (e.g. A=http://127.0.0.1:8080 REMOTE=http://127.0.0.1:8081
# TOKEN=secret, A started with that admin token and a [remotes.b] whose url is REMOTE,
# as examples/workflows/remote/ades-a.toml shows) it uses those servers; without, it
# starts both with `ades serve` on free ports in temporary data directories and stops
# them at the end. Both must offer the three step images (build.sh; SKIP_BUILD=1 skips
# it). ADES names the ades binary. Needs what run.sh needs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -z "${ADES:-}" ]; then
  if command -v ades >/dev/null; then ADES=ades; else ADES=$root/target/debug/ades; fi
fi
export ADES
[ "${SKIP_BUILD:-0}" = 1 ] || bash "$here/build.sh" >&2

servers=() data=''
cleanup() {
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; done
  rm -rf ${data:+"$data"}
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Starts `ades serve` on 127.0.0.1:$2 with data in $data/$1 and the rest of the
# arguments, and waits until it answers.
serve() {
  local name=$1 port=$2
  shift 2
  mkdir -p "$data/$name"
  "$ADES" serve --bind "127.0.0.1:$port" --data-dir "$data/$name" "$@" \
    > "$data/$name.log" 2>&1 &
  servers+=($!)
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && return
    kill -0 "${servers[-1]}" 2>/dev/null || { cat "$data/$name.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "ades serve ($name) did not answer" >&2
  exit 1
}

if [ -z "${A:-}" ]; then
  data=$(mktemp -d)
  TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  echo "$TOKEN" > "$data/admin-token"
  remote_port=$(free_port)
  REMOTE=http://127.0.0.1:$remote_port
  serve b "$remote_port"
  # A calls B on loopback: the address guard refuses that unless allowed.
  cat > "$data/ades-a.toml" <<TOML
[queue]
allow_private_urls = true

[remotes.b]
url = "$REMOTE"
poll_seconds = 0.25
max_poll_seconds = 2.0
TOML
  a_port=$(free_port)
  A=http://127.0.0.1:$a_port
  serve a "$a_port" --admin-token-file "$data/admin-token" --config "$data/ades-a.toml"
  echo "started ades serve: A at $A, B (remote) at $REMOTE"
fi
: "${REMOTE:?set REMOTE to the URL of the server A knows as [remotes.b]}"

B=$A TOKEN=${TOKEN:-secret} REMOTE=$REMOTE SKIP_BUILD=1 \
  RECIPE=$here/recipe-remote.json NESTED=$here/nested-remote.json bash "$here/run.sh"

# Where the NDVI ran: B has one ndvi job for the recipe and two for the nested request.
echo "ndvi jobs on the remote: $(curl -fsS "$REMOTE/jobs?processID=ndvi" | python3 -c '
import json, sys
print(len(json.load(sys.stdin)["jobs"]))')"
