#!/usr/bin/env bash
# Builds the local image `ades-busybox:latest` (FROM scratch + Debian's busybox-static) that
# the example Seed jobs start from. Needs: docker, and /bin/busybox from `busybox-static`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ]; then
  echo "error: $busybox is missing; install it with: apt-get install busybox-static" >&2
  exit 1
fi
if ldd "$busybox" >/dev/null 2>&1; then
  echo "error: $busybox is dynamically linked; install busybox-static (not busybox)" >&2
  exit 1
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$here/Dockerfile" "$context/Dockerfile"
cp "$busybox" "$context/busybox"
DOCKER_BUILDKIT=0 docker build -q -t ades-busybox:latest "$context" >/dev/null
echo "built ades-busybox:latest"
