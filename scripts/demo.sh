#!/usr/bin/env bash
# The README's main job: real VideoCanvas workflows through a real headless ComfyUI on the bundled
# model; writes videos and a contact sheet under out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(python3 -m hostkit.setup --print python)
exec "$PY" -m benchmarks.demo "$@"
