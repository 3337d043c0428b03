#!/usr/bin/env bash
# Data-driven processing (README, "Data-driven processing"): how long from a file landing
# in a watched workspace to its job starting (p50, p99; a host folder and an S3 prefix),
# and how many small files a strike ingests per second (1,000 files, each recorded with
# the job it starts; no workers, so only ingesting is timed). Needs Docker, a built ades
# (cargo build --release, or ADES=path/to/ades) and, for S3, ADES_TEST_S3_ENDPOINT
# (scripts/start-s3.sh; without it the S3 rows are skipped).
set -euo pipefail
cd "$(dirname "$0")/../.."
ades=${ADES:-target/release/ades}
latency_files=${LATENCY_FILES:-40}
bulk_files=${BULK_FILES:-1000}
s3=${ADES_TEST_S3_ENDPOINT:-}
work=$(mktemp -d)
servers=()
trap 'for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
mkdir -p "$work/image" "$work/host" "$work/bulk"
chmod 755 "$work" "$work/host" "$work/bulk"
run=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')

bash examples/base/build.sh >/dev/null 2>&1
printf 'cat "$1" > "$2/out-copy.txt"\n' >"$work/image/run.sh"
printf 'FROM ades-busybox:latest\nCOPY run.sh /app/run.sh\nENTRYPOINT ["/bin/sh", "/app/run.sh"]\n' >"$work/image/Dockerfile"
cat >"$work/image/seed.manifest.json" <<'JSON'
{"seedVersion": "1.0.0", "job": {"name": "bench-ingest-copy", "jobVersion": "1.0.0",
 "packageVersion": "1.0.0", "title": "Copy", "description": "Copies INPUT",
 "maintainer": {"name": "ades", "email": "ades@example.org"}, "timeout": 60,
 "interface": {"command": "${INPUT} ${OUTPUT_DIR}", "inputs": {"files": [{"name": "INPUT"}]},
  "outputs": {"files": [{"name": "OUT", "pattern": "out-*"}]}}}}
JSON
"$ades" seed build "$work/image" >/dev/null 2>&1

config() { # $1 data dir
  cat <<TOML
data_dir = "$1"
[catalog]
rescan_seconds = 0
[workspaces.bench-host.configuration.broker]
type = "host"
host_path = "$work/host"
[workspaces.bench-bulk.configuration.broker]
type = "host"
host_path = "$work/bulk"
TOML
  if [ -n "$s3" ]; then
    for name in lat bulk; do cat <<TOML
[workspaces.bench-s3-$name.configuration.broker]
type = "s3"
bucket_name = "ades-test-in"
prefix = "bench-$run-$name"
region_name = "us-east-1"
endpoint = "$s3"
[workspaces.bench-s3-$name.configuration.broker.credentials]
access_key_id = "ades-test"
secret_access_key = "ades-test-secret"
TOML
    done
  fi
}

start() { # $1 name, $2 workers, $3 port
  config "$work/data-$1" >"$work/$1.toml"
  ADES__AUTH__ADMIN_TOKEN=bench ADES__QUEUE__WORKERS=$2 ADES__LIMITS__CLIENT_REQUESTS_IN_FLIGHT=0 \
    "$ades" serve --bind "127.0.0.1:$3" --config "$work/$1.toml" 2>"$work/$1.log" &
  servers+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$3/" >/dev/null && return; sleep 0.2; done
  echo "the server $1 did not start:"; tail -20 "$work/$1.log"; exit 1
}

port_a=$((20000 + RANDOM % 20000)); port_b=$((port_a + 1))
start latency 4 "$port_a"
start bulk 0 "$port_b"

WORK="$work" S3="$s3" RUN="$run" PORT_A="$port_a" PORT_B="$port_b" \
LATENCY_FILES="$latency_files" BULK_FILES="$bulk_files" python3 - <<'PY'
import json, os, subprocess, time, urllib.request
from datetime import datetime

work, s3, run = os.environ["WORK"], os.environ["S3"], os.environ["RUN"]
a = f"http://127.0.0.1:{os.environ['PORT_A']}"
b = f"http://127.0.0.1:{os.environ['PORT_B']}"
n, bulk = int(os.environ["LATENCY_FILES"]), int(os.environ["BULK_FILES"])

def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": "Bearer bench", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")

def strike(base, name, workspace, monitor, rescan):
    call("POST", f"{base}/strikes", {"name": name, "configuration": {
        "workspace": workspace,
        "monitor": {"type": monitor, "settle_seconds": 0, "rescan_seconds": rescan},
        "files_to_ingest": [{"filename_regex": ".*"}],
        "recipe": {"name": "bench-ingest-copy"}}})

def put_s3(prefix, name, text):
    subprocess.run(["curl", "-sf", "-X", "PUT", "--aws-sigv4", "aws:amz:us-east-1:s3",
                    "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                    "--user", "ades-test:ades-test-secret", "--data-binary", text,
                    f"{s3}/ades-test-in/{prefix}/{name}"], check=True)

def ingests(base, name, want):
    deadline = time.time() + 600
    while True:
        page = call("GET", f"{base}/ingests?strike={name}&limit=1000")
        got = page["results"]
        while page.get("next") and len(got) < want:
            page = call("GET", page["next"]); got += page["results"]
        if len(got) >= want or time.time() > deadline:
            return got
        time.sleep(0.2)

def when(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

rows = []
for kind in (["host", "s3"] if s3 else ["host"]):
    name = f"lat-{kind}"
    strike(a, name, "bench-host" if kind == "host" else "bench-s3-lat",
           "dir-watcher" if kind == "host" else "s3", 10 if kind == "host" else 0.5)
    # A new strike is taken by a replica within a third of lease_seconds: wait for it.
    while not call("GET", f"{a}/strikes/{name}")["watched_by"]:
        time.sleep(0.1)
    time.sleep(0.5)
    dropped = {}
    for i in range(n):
        file = f"f-{i:04}.txt"
        if kind == "host":
            tmp = os.path.join(work, "host", file + "_tmp")
            with open(tmp, "w") as f:
                f.write(f"file {i}\n")
            os.rename(tmp, os.path.join(work, "host", file))
        else:
            put_s3(f"bench-{run}-lat", file, f"file {i}\n")
        dropped[file] = time.time()
        time.sleep(0.5)
    got = ingests(a, name, n)
    lat_ingest, lat_start = [], []
    for ingest in got:
        t0 = dropped[ingest["file_name"]]
        lat_ingest.append(when(ingest["created"]) - t0)
        deadline = time.time() + 120
        while True:
            job = call("GET", f"{a}/jobs/{ingest['job']['id']}")
            if job.get("started") or time.time() > deadline:
                break
            time.sleep(0.2)
        lat_start.append(when(job["started"]) - t0)
    rows.append((kind, len(got), pct(lat_ingest, 50), pct(lat_ingest, 99),
                 pct(lat_start, 50), pct(lat_start, 99)))
print(f"{'monitor':<8} {'files':>5} {'ingested p50':>13} {'p99':>7} {'job started p50':>16} {'p99':>7}")
for kind, count, i50, i99, s50, s99 in rows:
    print(f"{kind:<8} {count:>5} {i50*1000:>10.0f} ms {i99*1000:>4.0f} ms {s50*1000:>13.0f} ms {s99*1000:>4.0f} ms")

print()
for kind in (["host", "s3"] if s3 else ["host"]):
    for i in range(bulk):
        if kind == "host":
            with open(os.path.join(work, "bulk", f"b-{i:05}.txt"), "w") as f:
                f.write(f"small file {i}\n")
        else:
            put_s3(f"bench-{run}-bulk", f"b-{i:05}.txt", f"small file {i}\n")
    name = f"bulk-{kind}"
    start = time.time()
    strike(b, name, "bench-bulk" if kind == "host" else "bench-s3-bulk",
           "dir-watcher" if kind == "host" else "s3", 1)
    got = ingests(b, name, bulk)
    took = time.time() - start
    jobs = sum(1 for g in got if g.get("job"))
    print(f"{kind}: {len(got)} files ingested ({jobs} jobs created) in {took:.1f} s: {len(got)/took:.0f} files/s")
PY
