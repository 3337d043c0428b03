#!/usr/bin/env bash
# Two ades instances: A (the orchestrator, $A, configured with ades-a.toml) and B (the
# remote, $REMOTE). Deploys on A a Scale recipe with a node on B and a Part 3 deployable
# workflow whose nested process runs on B, runs both, shows where each step ran, and
# undeploys them. The test suite runs it (tests/it/remotes.rs).
# Needs: the io-demo example built (`ades seed build examples/io-demo`; both instances
# offer it) and the two servers started as ades-a.toml says.
set -euo pipefail
A=${A:-http://127.0.0.1:8080}
REMOTE=${REMOTE:-http://127.0.0.1:8081}
TOKEN=${TOKEN:-secret}
here=$(dirname "$0")

# 1. The recipe: node `there` names `b:io-demo`, described on B at deploy.
curl -fsS -X POST "$A/processes" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/vnd.ades.recipe+json' \
  --data-binary "@$here/io-demo-remote-recipe.json" -o /dev/null -w 'recipe deploy: %{http_code}\n'
response=$(curl -fsS -X POST "$A/processes/io-demo-here-and-there/execution" \
  -H 'Content-Type: application/json' \
  -d '{"inputs": {"INPUT_FILE": "hello, remote\n"}, "response": "document",
       "outputs": {"there.OUTPUT_FILE": {"transmissionMode": "value"}}}')
echo "recipe result: $response"
job=$(curl -fsS "$A/jobs?processID=io-demo-here-and-there" | python3 -c '
import json, sys
print(json.load(sys.stdin)["jobs"][0]["jobID"])')
curl -fsS "$A/jobs/$job" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("workflow", d["status"], "-", d.get("message"))
for link in d["links"]:
    if link["rel"] == "urn:ades:rel:step":
        print("  ", link["title"])'
for step in $(curl -fsS "$A/jobs/$job" | python3 -c '
import json, sys
for l in json.load(sys.stdin)["links"]:
    if l["rel"] == "urn:ades:rel:step": print(l["href"])'); do
  curl -fsS "$step" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("   step", d["jobID"][:8], d["status"], "-", d.get("message"))'
done

# 2. The Part 3 deployable workflow: its nested process URL is on B.
sed "s#REMOTE_URL#$REMOTE#g" "$here/io-demo-part3.json" | curl -fsS -X POST "$A/processes" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data-binary @- \
  -o /dev/null -w 'part 3 deploy: %{http_code}\n'
curl -fsS "$A/processes/io-demo-there-then-here" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("inputs:", ", ".join(d["inputs"]), "| outputs:", ", ".join(d["outputs"]))'
curl -fsS -X POST "$A/processes/io-demo-there-then-here/execution" \
  -H 'Content-Type: application/json' -d '{"inputs": {"text": "hello, part 3\n"}}'
echo
echo "jobs on the remote: $(curl -fsS "$REMOTE/jobs?processID=io-demo" | python3 -c '
import json, sys
print(len(json.load(sys.stdin)["jobs"]))')"

# 3. Undeploy both.
for id in io-demo-here-and-there io-demo-there-then-here; do
  curl -fsS -X DELETE "$A/processes/$id" -H "Authorization: Bearer $TOKEN" \
    -o /dev/null -w "undeploy $id: %{http_code}\n"
done
