#!/usr/bin/env bash
# Starts two real OCI registries (Debian's docker-registry, installed by scripts/test-all.sh)
# for the tests, each with its own storage under target/registry/ so runs never share state
# with the machine's own registry service:
#   127.0.0.1:5000  open (anonymous pull and push);
#   127.0.0.1:5001  basic authentication, user `ades`, password `ades-secret`.
# The Docker engine treats 127.0.0.0/8 as an insecure registry, so it pulls from and pushes to
# both over plain HTTP. Prints nothing on stdout; idempotent (a running registry is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
exec 1>&2

root="$(pwd)/target/registry"
mkdir -p "$root/open" "$root/auth"

if [ ! -s "$root/htpasswd" ]; then
  htpasswd -Bbn ades ades-secret >"$root/htpasswd"
fi

write_config() { # name port auth-block
  cat >"$root/$1.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $root/$1
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$2
$3
YAML
}
write_config open 5000 ""
write_config auth 5001 "auth:
  htpasswd:
    realm: ades-test
    path: $root/htpasswd"

status() { curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/v2/" 2>/dev/null || true; }

start() { # name port expected-status-of-/v2/
  [ "$(status "$2")" = "$3" ] && return
  nohup docker-registry serve "$root/$1.yml" >"$root/$1.log" 2>&1 </dev/null &
  for _ in $(seq 1 50); do
    [ "$(status "$2")" = "$3" ] && return
    sleep 0.2
  done
  echo "the $1 registry did not start on 127.0.0.1:$2; see $root/$1.log" >&2
  tail -20 "$root/$1.log" >&2 || true
  exit 1
}
start open 5000 200
start auth 5001 401
