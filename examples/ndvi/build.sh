#!/usr/bin/env bash
# Builds the NDVI example's three Seed images (ndvi-1.0.0-seed:1.0.0,
# ndvi-threshold-1.0.0-seed:1.0.0, ndvi-summary-1.0.0-seed:1.0.0): the step programs are
# compiled static (.cargo/config.toml) into <repo>/target/examples-ndvi, each copied alone
# into a build context there, and built FROM scratch with `ades seed build`, which
# validates the step's manifest and attaches it as the image label. Idempotent: cargo and
# docker rebuild only what changed.
# Needs: cargo, docker, and `ades` on PATH (or ADES=/path/to/ades; else target/debug/ades).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/examples-ndvi}
if [ -z "${ADES:-}" ]; then
  if command -v ades >/dev/null; then ADES=ades; else ADES=$root/target/debug/ades; fi
fi

# RUSTFLAGS in the environment replaces the rustflags of .cargo/config.toml: keep the
# programs static all the same (they run in an empty image).
if [ -n "${RUSTFLAGS:-}" ]; then export RUSTFLAGS="$RUSTFLAGS -C target-feature=+crt-static"; fi
(cd "$here" && cargo build --release --locked --bins)
binaries=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release
for step in ndvi threshold summary; do
  context=$CARGO_TARGET_DIR/images/$step
  mkdir -p "$context"
  cp "$binaries/$step" "$context/step"
  cp "$here/Dockerfile" "$context/Dockerfile"
  "$ADES" seed build -M "$here/images/$step/seed.manifest.json" "$context"
done
