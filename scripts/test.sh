#!/usr/bin/env bash
# Set the machine up if needed, then run the whole test suite (unit + integration).
# Arguments go to pytest, e.g. scripts/test.sh -m "not integration".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/pytest "$@"
