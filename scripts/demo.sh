#!/usr/bin/env bash
# The main job: set up, lint the definitions, then bake the example images.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
BAKERY="${BAKERY_VENV:-$ROOT/.venv}/bin/bakery"
"$BAKERY" lint
"$BAKERY" build web lb
