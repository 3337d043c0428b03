#!/usr/bin/env bash
# Deploys the echo example from a registry as a process, runs it, shows its package and
# undeploys it. The test suite runs it (tests/it/deploy.rs).
# Needs: a server started with an admin token, e.g.
#   ADES__CATALOG__DISCOVER_LOCAL_IMAGES=false ades serve --admin-token secret
# and the echo example pushed to a registry:
#   ades seed build examples/echo && docker tag echo-1.0.0-seed:1.0.0 127.0.0.1:5000/acme/echo-1.0.0-seed:1.0.0
#   docker push 127.0.0.1:5000/acme/echo-1.0.0-seed:1.0.0
set -euo pipefail
B=${B:-http://127.0.0.1:8080}
TOKEN=${TOKEN:-secret}
here=$(dirname "$0")

# 1. Deploy from an OGC application package (the manifest is read from the image's label).
curl -fsS -X POST "$B/processes" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/ogcapppkg+json' --data-binary "@$here/app-package.json"
echo
# 2. Describe and run it (the image is pulled on the first run if it is not local).
curl -fsS "$B/processes/echo" | head -c 400; echo
curl -fsS -X POST "$B/processes/echo/execution" -H 'Content-Type: application/json' \
  -d '{"inputs": {"MESSAGE": "hello from a deployed process"}, "outputs": {"ECHOED": {}}, "response": "raw"}'
echo
# 3. The package as deployed, then undeploy.
curl -fsS "$B/processes/echo/package"; echo
curl -fsS -X DELETE "$B/processes/echo" -H "Authorization: Bearer $TOKEN" -o /dev/null -w 'undeploy: %{http_code}\n'
