#!/usr/bin/env bash
# Deploys examples/workflows/io-demo-recipe.json (a Scale recipe type) as the process
# io-demo-fan-out, runs it synchronously on a small text, shows the workflow job with its
# steps, and undeploys it. The test suite runs it (tests/it/workflows.rs).
# Needs: the io-demo example built (`ades seed build examples/io-demo`) and a server started
# with an admin token, e.g. `ades serve --admin-token secret`.
set -euo pipefail
B=${B:-http://127.0.0.1:8080}
TOKEN=${TOKEN:-secret}
here=$(dirname "$0")

# 1. Deploy the recipe: its nodes are checked against the processes offered here.
curl -fsS -X POST "$B/processes" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/vnd.ades.recipe+json' --data-binary "@$here/io-demo-recipe.json" \
  -o /dev/null -w 'deploy: %{http_code}\n'
# 2. Its description: the recipe's input, and the outputs of the nodes nothing consumes.
curl -fsS "$B/processes/io-demo-fan-out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("inputs:", ", ".join(d["inputs"]), "| outputs:", ", ".join(d["outputs"]))'
# 3. Run it and wait for the whole graph (a synchronous execute), outputs by reference:
#    each links into the workflow job's outputs, `<node>/<file>`.
response=$(curl -fsS -X POST "$B/processes/io-demo-fan-out/execution" \
  -H 'Content-Type: application/json' \
  -d '{"inputs": {"INPUT_FILE": "hello, recipe\n"}, "response": "document",
       "outputs": {"left.OUTPUT_FILE": {"transmissionMode": "reference"},
                   "right.OUTPUT_FILE": {"transmissionMode": "reference"}}}')
echo "$response"
job=$(echo "$response" | python3 -c '
import json, sys
href = json.load(sys.stdin)["left.OUTPUT_FILE"]["href"]
print(href.split("/jobs/")[1].split("/")[0])')
# 4. The workflow job links each step's job; each step links back to it.
curl -fsS "$B/jobs/$job" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("workflow", d["jobID"], d["status"], "-", d.get("message"))
for link in d["links"]:
    if link["rel"] == "urn:ades:rel:step":
        print("  ", link["title"], link["href"])'
# 5. One output, served from the workflow job (a hard link to the step's file).
curl -fsS "$B/jobs/$job/outputs/left/new-output.txt"
curl -fsS -X DELETE "$B/processes/io-demo-fan-out" -H "Authorization: Bearer $TOKEN" \
  -o /dev/null -w 'undeploy: %{http_code}\n'
