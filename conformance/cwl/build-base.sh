#!/usr/bin/env bash
# Builds `ades-cwl-base:latest`: an image FROM scratch made of this Debian host's own files
# (bash, dash as /bin/sh, coreutils, grep, sed, mawk, tar, gzip, findutils, diffutils, util-linux,
# python3 with its standard library, and the shared libraries they load). There is no
# registry to pull from, so the CWL conformance tests' images (debian:stable-slim,
# python:3-slim, alpine:latest) are tags of this one local image (bash:4.4 adds the official
# image's entrypoint), and a CWL tool without DockerRequirement runs in it too.
#
# Cached: nothing is built when the image exists with the same package list (a label holds
# its hash). Needs: docker, dpkg, and the Debian packages below installed on the host.
set -euo pipefail
packages=(bash dash coreutils grep sed mawk tar gzip findutils diffutils util-linux
  python3-minimal python3.11-minimal libpython3.11-minimal libpython3.11-stdlib)
tags=(ades-cwl-base:latest debian:stable-slim python:3-slim alpine:latest)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "error: install ${missing[*]} first (apt-get install ${missing[*]})" >&2
  exit 1
fi
versions=$(dpkg-query -W -f '${Package}=${Version}\n' "${packages[@]}" | sort)
hash=$(printf '%s\n%s\n' "$versions" "$(sha256sum "$0" | cut -d' ' -f1)" | sha256sum | cut -c1-16)
label() { docker image inspect -f '{{index .Config.Labels "org.ades.cwl-base"}}' "$1" 2>/dev/null || true; }
if [ "$(label ades-cwl-base:latest)" = "$hash" ] && [ "$(label bash:4.4)" = "$hash" ]; then
  for t in "${tags[@]:1}"; do docker tag ades-cwl-base:latest "$t"; done
  echo "ades-cwl-base:latest is up to date"
  exit 0
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
list="$context/files"
# Every regular file and link the packages install (documentation aside).
for p in "${packages[@]}"; do dpkg -L "$p"; done \
  | grep -vE '^/usr/share/(doc|man|info|locale|lintian)' \
  | while read -r f; do [ -f "$f" ] || [ -L "$f" ] && echo "$f"; done > "$list.pkg"
# The shared libraries their programs and modules load, with the links that name them.
: > "$list.libs"
while read -r f; do
  if [ -f "$f" ] && [ -x "$f" -o "${f%.so}" != "$f" ] && file -b "$f" 2>/dev/null | grep -q ELF; then
    ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^[ \t]*\/lib/{print $1}' >> "$list.libs"
  fi
done < "$list.pkg"
sort -u "$list.libs" | while read -r lib; do
  echo "$lib"
  readlink -f "$lib"
done > "$list.libs2"
{ cat "$list.pkg"; cat "$list.libs2"; echo /lib64/ld-linux-x86-64.so.2; echo /usr/lib64/ld-linux-x86-64.so.2; } \
  | sort -u | while read -r f; do
      [ -e "$f" ] || continue
      # /bin, /lib, /lib64, /sbin are links to /usr on Debian 12: store the real paths
      # (the links are made in the image below).
      d=$(readlink -f "$(dirname "$f")")
      [ -d "$d" ] && ! [ -L "$f" -a -d "$f" ] && echo "${d#/}/$(basename "$f")"
    done | sed 's#^/##' | sort -u > "$list"
mkdir -p "$context/links"
for d in bin sbin lib lib64; do ln -s "usr/$d" "$context/links/$d"; done
tar -C "$context/links" -cf "$context/links.tar" bin sbin lib lib64
mkdir -p "$context/extra/tmp" "$context/extra/var/spool/cwl" "$context/extra/etc"
chmod 1777 "$context/extra/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' > "$context/extra/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$context/extra/etc/group"
tar -C / --no-recursion -cf "$context/rootfs.tar" -T "$list"
cat > "$context/Dockerfile" <<DOCKERFILE
FROM scratch
ADD links.tar /
ADD rootfs.tar /
COPY extra/ /
RUN ["/usr/bin/dash", "-c", "[ -e /usr/bin/sh ] || ln -s dash /usr/bin/sh; [ -e /usr/bin/python3 ] || ln -s python3.11 /usr/bin/python3; [ -e /usr/bin/python ] || ln -s python3 /usr/bin/python; [ -e /usr/bin/awk ] || ln -s mawk /usr/bin/awk"]
ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8
LABEL org.ades.cwl-base=$hash
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t ades-cwl-base:latest "$context" >/dev/null
for t in "${tags[@]:1}"; do docker tag ades-cwl-base:latest "$t"; done
# bash:4.4 as the official image behaves: its ENTRYPOINT runs a command given as is, and
# hands anything else (`-c ...`, a script) to bash.
bash_context="$context/bash"
mkdir -p "$bash_context"
cat > "$bash_context/entrypoint.sh" <<'ENTRYPOINT'
#!/bin/sh
if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1")" ]; then
  set -- bash "$@"
fi
exec "$@"
ENTRYPOINT
chmod 755 "$bash_context/entrypoint.sh"
cat > "$bash_context/Dockerfile" <<DOCKERFILE
FROM ades-cwl-base:latest
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["bash"]
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t bash:4.4 "$bash_context" >/dev/null
echo "built ades-cwl-base:latest (also tagged ${tags[*]:1}) and bash:4.4"
