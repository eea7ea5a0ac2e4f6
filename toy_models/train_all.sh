#!/usr/bin/env bash
# The toy model pipeline, as run for the bundled default (see models/MODEL_CARD.md). Resumable:
# every trainer takes --resume. Needs the host: python3 -m hostkit.setup. Each model has a 44-minute
# wall-clock budget (--minutes; the decoder's further training ran 61 of a 90-minute cap) on a
# 2-core CPU; a GPU is used when present.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(python3 -m hostkit.setup --print python)
"$PY" -m toy_models.train_vae
"$PY" -m toy_models.calibrate_vae  # exact per-channel latent rescale, folded into the weights
# The decoder trained further on full 64x64 clips with the encoder frozen: every latent (and so the
# DiT training set below) stays as it was; only what the decoder draws from them gets sharper.
"$PY" -m toy_models.train_vae --init models/vae/videocanvas_toy_vae.safetensors --decoder-only \
    --crop 64 --batch 4 --lr 5e-4 --steps 4367 --minutes 90 --run train_runs/vae_decoder
"$PY" -m toy_models.eval_vae --clips 8
# The three DiT variants share one encoded training set, the same 5000-step schedule and the same
# time budget; one after the other, each with both cores (~0.24 s a step for icc on 2 CPU cores).
"$PY" -m toy_models.train_dit --data-only
for variant in icc nearest replace; do
    "$PY" -m toy_models.train_dit --variant "$variant" > "train_runs/dit_$variant.out" 2>&1
done
# The image-to-video and VACE toys (the paper's baselines), on the same data (VACE from the icc DiT); their
# condition inputs are encoded once per pre-drawn anchor set (4 per clip) instead of every step
"$PY" -m toy_models.train_dit --variant concat --pool 4 > train_runs/dit_concat.out 2>&1
"$PY" -m toy_models.train_dit --variant vace --pool 4 > train_runs/dit_vace.out 2>&1
"$PY" -m benchmarks.evaluate
