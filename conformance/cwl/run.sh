#!/usr/bin/env bash
# Runs the CWL v1.2 conformance tests (v1.2/, Apache-2.0, see v1.2/LICENSE.txt) with
# `ades cwl run` through cwltest (PyPI) and prints the pass rate per tag.
#
#   conformance/cwl/run.sh                      # every test
#   conformance/cwl/run.sh --tags required      # only the required ones
#   conformance/cwl/run.sh -n 1-10              # cwltest's own selection flags
#
# Needs docker and the host's Debian packages for the local base image (build-base.sh);
# installs cwltest and cwltool into target/py-cwl; builds ades unless ADES_BIN names one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
venv=target/py-cwl
if ! "$venv/bin/cwltest" --version >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check cwltest cwltool
fi
if [ -z "${ADES_BIN:-}" ]; then
  cargo build --quiet --bin ades
  ADES_BIN="$root/target/debug/ades"
fi
export ADES_BIN
bash "$here/build-base.sh" >/dev/null
# The log and the JUnit report stay in target/cwl-conformance/ for reading afterwards.
results=target/cwl-conformance
rm -rf "$results" && mkdir -p "$results"
status=0
"$venv/bin/cwltest" --test "$here/v1.2/conformance_tests.yaml" --tool "$here/ades-cwl-runner" \
  -j "${CWL_JOBS:-2}" --timeout "${CWL_TIMEOUT:-120}" --junit-xml "$results/results.xml" "$@" \
  > "$results/log" 2>&1 || status=$?
grep -E "tests passed|failures|unsupported|All tests" "$results/log" || true
"$venv/bin/python" "$here/summary.py" "$results/results.xml"
exit $status
