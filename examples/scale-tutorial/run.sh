#!/usr/bin/env bash
# The Scale tutorial ("deploy your first process") on ades, end to end, with the CLI and
# curl: the io-demo process (copies a text file to new-output.txt) is written, built, run,
# published to a registry, deployed, and then run by a strike on every file dropped into
# an input workspace, its product landing several folders deep in the output workspace;
# then (the tutorial's recipe step) a recipe chains io-demo with a second io-demo run on
# its copy, the strike is edited to trigger the recipe, and the recipe's product lands in
# the output workspace too. The test suite runs it (tests/it/strikes.rs).
#
# Needs: Docker, an ades binary (ADES, default `ades` on PATH) and an open registry on
# loopback (REGISTRY, default 127.0.0.1:5000; e.g. `docker run -d -p 127.0.0.1:5000:5000
# registry:2`). Everything else (the server, its folders) lives in a temporary directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ades=${ADES:-ades}
registry=${REGISTRY:-127.0.0.1:5000}
token=tutorial-admin-token
work=$(mktemp -d)
server=
org=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  # The image pulled back from the registry for the deploy: its names are not kept (the tag,
  # and the digest the pinned deploy pulled it by). By name, never by id with -f: the id is
  # io-demo's own, whose other names must stay. A name already gone is no failure.
  if [ -n "$org" ]; then
    docker images --digests --filter "reference=$registry/$org/*" \
      --format '{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}' |
      tr ' ' '\n' | grep -v -e ':<none>$' -e '@<none>$' |
      xargs -r docker rmi >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }

say "Steps 1-4: the process, its Dockerfile and its Seed manifest"
mkdir "$work/io-demo"
"$ades" seed init "$work/io-demo" >/dev/null          # a starter seed.manifest.json
# The tutorial's process, Dockerfile and manifest, as examples/io-demo holds them.
cp "$root/examples/io-demo/run.sh" "$root/examples/io-demo/Dockerfile" \
   "$root/examples/io-demo/seed.manifest.json" "$work/io-demo/"
printf 'A few lines of text\nfor the io-demo process.\n' >"$work/input.txt"

say "Step 5: build the Seed image and try it"
bash "$root/examples/base/build.sh" >/dev/null 2>&1   # the local base image (busybox)
"$ades" seed build "$work/io-demo" >/dev/null 2>&1
"$ades" run io-demo-1.0.0-seed:1.0.0 -i "INPUT_FILE=$work/input.txt" -o "$work/tried"
cmp "$work/input.txt" "$work/tried/new-output.txt"

say "Step 6: publish it to the registry"
org="tutorial$(date +%s%N | tail -c 9)"
"$ades" seed publish io-demo-1.0.0-seed:1.0.0 -r "$registry" -O "$org"
image="$registry/$org/io-demo-1.0.0-seed:1.0.0"

say "Step 7: start ades and deploy the image from the registry"
mkdir "$work/input" "$work/output" "$work/data"
chmod 755 "$work" "$work/input" "$work/output"
# Step 9's default output workspace is configured up front; the workspace itself is
# created in step 8 (checked when a job publishes).
cat >"$work/ades.toml" <<TOML
[processes.io-demo]
output_workspace = "tutorial-output"
TOML
port=$((30000 + RANDOM % 20000))
B=http://127.0.0.1:$port
ADES__AUTH__ADMIN_TOKEN=$token ADES__CATALOG__DISCOVER_LOCAL_IMAGES=false \
  "$ades" serve --bind "127.0.0.1:$port" --data-dir "$work/data" --config "$work/ades.toml" \
  2>"$work/server.log" &
server=$!
for _ in $(seq 300); do
  curl -fs "$B/" >/dev/null && break
  kill -0 "$server" 2>/dev/null || { echo "ades serve stopped:"; cat "$work/server.log"; exit 1; }
  sleep 0.2
done
curl -fsS -X POST "$B/processes" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/vnd.ades.image+json' -d "{\"image\": \"$image\"}" \
  -o /dev/null -w 'deploy: %{http_code}\n'
curl -fsS "$B/processes/io-demo" | grep -o '"title":"[^"]*"' | head -1

say "Step 8: the input and output workspaces"
for name in input output; do
  curl -fsS -X POST "$B/workspaces" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' \
    -d "{\"title\": \"Tutorial $name\", \"configuration\": {\"broker\": {\"type\": \"host\", \"host_path\": \"$work/$name\"}}}" \
    -o /dev/null -w "workspace tutorial-$name: %{http_code}\n"
done

say "Steps 10-11: a strike running io-demo on every file (rule .*)"
curl -fsS -X POST "$B/strikes" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{
    "title": "Tutorial strike",
    "configuration": {
      "workspace": "tutorial-input",
      "monitor": {"type": "dir-watcher", "transfer_suffix": "_tmp"},
      "files_to_ingest": [{"filename_regex": ".*"}],
      "recipe": {"name": "io-demo"}
    }}' -o /dev/null -w 'strike: %{http_code}\n'

say "Step 12: drop input.txt into the input folder and find the product"
cp "$work/input.txt" "$work/input/input.txt"
product=
for _ in $(seq 300); do
  product=$(find "$work/output" -name new-output.txt | head -1)
  [ -n "$product" ] && cmp -s "$work/input.txt" "$product" && break
  sleep 0.2
done
if [ -z "$product" ]; then
  echo "no product in the output workspace; ingests:"
  curl -fsS "$B/ingests"; echo; tail -30 "$work/server.log"; exit 1
fi
echo "product: ${product#"$work/output/"}"
cmp "$work/input.txt" "$product"
curl -fsS "$B/ingests?strike=tutorial-strike" | grep -o '"status":"[a-z]*"' | head -1

say "Recipe step: a recipe chaining io-demo with a second io-demo on its copy"
# A Scale recipe type: node `copy` runs io-demo on the recipe's input, node `again` runs
# io-demo on the file `copy` produced. Each step is a job of io-demo, so its product
# goes to io-demo's default output workspace.
curl -fsS -X POST "$B/processes" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/vnd.ades.recipe+json' -d '{
    "name": "tutorial-recipe",
    "title": "io-demo, twice",
    "description": "Copies the dropped file, then copies the copy.",
    "definition": {
      "input": {"files": [{"name": "INPUT_FILE", "media_types": ["text/plain"], "required": true, "multiple": false}]},
      "nodes": {
        "copy": {
          "dependencies": [],
          "input": {"INPUT_FILE": {"type": "recipe", "input": "INPUT_FILE"}},
          "node_type": {"node_type": "job", "job_type_name": "io-demo", "job_type_version": "1.0.0", "job_type_revision": 1}
        },
        "again": {
          "dependencies": [{"name": "copy", "acceptance": true}],
          "input": {"INPUT_FILE": {"type": "dependency", "node": "copy", "output": "OUTPUT_FILE"}},
          "node_type": {"node_type": "job", "job_type_name": "io-demo", "job_type_version": "1.0.0", "job_type_revision": 1}
        }
      }
    }}' -o /dev/null -w 'recipe deploy: %{http_code}\n'

say "Recipe step: a second input workspace and a strike whose rule triggers the recipe"
# A strike of its own on a folder of its own: editing the first strike would work too
# (PATCH /strikes/tutorial-strike), but its watcher takes the new definition up within a
# third of [ingest] lease_seconds, so a file dropped at once could still meet the old one.
mkdir "$work/recipe-input"
chmod 755 "$work/recipe-input"
curl -fsS -X POST "$B/workspaces" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' \
  -d "{\"title\": \"Tutorial recipe input\", \"configuration\": {\"broker\": {\"type\": \"host\", \"host_path\": \"$work/recipe-input\"}}}" \
  -o /dev/null -w "workspace tutorial-recipe-input: %{http_code}\n"
curl -fsS -X POST "$B/strikes" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{
    "title": "Tutorial recipe strike",
    "configuration": {
      "workspace": "tutorial-recipe-input",
      "monitor": {"type": "dir-watcher", "transfer_suffix": "_tmp"},
      "files_to_ingest": [{"filename_regex": ".*\\.txt"}],
      "recipe": {"name": "tutorial-recipe"}
    }}' -o /dev/null -w 'recipe strike: %{http_code}\n'

say "Recipe step: drop second.txt and find the recipe's product"
printf 'Another text,\nthrough the recipe.\n' >"$work/second.txt"
cp "$work/second.txt" "$work/recipe-input/second.txt"
# The ingest of second.txt names the workflow job; its last step (`again`) is the job
# whose folder holds the recipe's product.
recipe_product=
for _ in $(seq 450); do
  recipe_product=$(curl -fsS "$B/ingests?strike=tutorial-recipe-strike" | python3 -c '
import json, sys, urllib.request
for ingest in json.load(sys.stdin)["results"]:
    job = ingest.get("job") or {}
    if ingest.get("file_name") != "second.txt" or not job.get("href"):
        continue
    request = urllib.request.Request(job["href"], headers={"Authorization": "Bearer " + sys.argv[1]})
    workflow = json.load(urllib.request.urlopen(request))
    if workflow["status"] != "successful":
        continue
    for link in workflow["links"]:
        if link["rel"] == "urn:ades:rel:step" and link["title"].startswith("Step again"):
            print(workflow["processID"], link["href"].rsplit("/", 1)[1])
' "$token" 2>/dev/null || true)
  [ -n "$recipe_product" ] && break
  sleep 0.2
done
if [ -z "$recipe_product" ]; then
  echo "the recipe did not run; ingests:"
  curl -fsS "$B/ingests?strike=tutorial-recipe-strike"; echo; tail -30 "$work/server.log"; exit 1
fi
read -r recipe_process step_job <<<"$recipe_product"
echo "recipe job: $recipe_process, step again: $step_job"
product=$(find "$work/output" -path "*/$step_job/new-output.txt" | head -1)
[ -n "$product" ] || { echo "no product of step again in the output workspace"; exit 1; }
echo "recipe product: ${product#"$work/output/"}"
cmp "$work/second.txt" "$product"
echo "tutorial complete"
