#!/usr/bin/env bash
# The README's test command: build (or reuse) the host, then run the whole suite inside it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(python3 -m hostkit.setup --print python)
exec "$PY" -m pytest "$@"
