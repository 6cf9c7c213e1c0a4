#!/usr/bin/env bash
# Set the machine up if needed, then bring the stack up. Arguments go to `rvlocal up`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/rvlocal up "$@"
