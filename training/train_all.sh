#!/usr/bin/env bash
# The toy model pipeline, as run for the bundled default (see models/MODEL_CARD.md). Resumable:
# every trainer takes --resume. Needs the host: python3 -m hostkit.setup.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(python3 -m hostkit.setup --print python)
"$PY" -m training.train_vae --minutes 40 --steps 3000
"$PY" -m training.eval_vae --clips 16
# The three DiT variants share one dataset (built by the first) and the same step budget; they run
# side by side, one thread each.
VC_THREADS=1 "$PY" -m training.train_dit --variant icc --steps 1800 --minutes 36 &
while [ ! -f train_runs/dit_data_512.safetensors ]; do sleep 10; done
VC_THREADS=1 "$PY" -m training.train_dit --variant nearest --steps 1800 --minutes 36 &
VC_THREADS=1 "$PY" -m training.train_dit --variant replace --steps 1800 --minutes 36 &
wait
"$PY" -m benchmarks.evaluate
