#!/usr/bin/env bash
# The test command: set up (venv, engine, base image), lint, then the whole suite.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
VENV="${BAKERY_VENV:-$ROOT/.venv}"
"$VENV/bin/ruff" check bakery tests bench
"$VENV/bin/lint-imports"  # the layers of docs/architecture.md: a back-edge fails here
"$VENV/bin/bakery" lint
exec "$VENV/bin/python" -m pytest -ra "$@"
