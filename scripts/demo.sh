#!/usr/bin/env bash
# The main job: set up, lint the definitions, bake and verify web, roll it out to staging
# behind HAProxy (blue/green; a no-op when that image is already live), then print the
# URL that answers. Run it twice: the second run changes nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
VENV="${BAKERY_VENV:-$ROOT/.venv}"
BAKERY="$VENV/bin/bakery"
"$BAKERY" lint
"$BAKERY" build web lb
"$BAKERY" verify web
"$BAKERY" rollout web --env staging --yes
"$BAKERY" status --env staging
# Ask the load balancer itself, so the URL printed is one that answered just now.
"$VENV/bin/python" - <<'PY'
import json, subprocess, sys
import httpx
status = json.loads(subprocess.run([sys.prefix + "/bin/bakery", "status", "--env", "staging", "--json"],
                                   check=True, capture_output=True, text=True).stdout)
row = next(s for s in status["services"] if s["service"] == "web")
page = httpx.get(row["url"] + "version", timeout=5)
page.raise_for_status()
print(f"web {page.text.strip()} answers at {row['url']}")
PY
