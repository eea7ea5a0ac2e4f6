#!/usr/bin/env bash
# The one prepared run for a lent GPU machine (no network; PyTorch installed there). Prepare here
# with `python3 -m hostkit.device_bundle`, then run this script there with .devcomfy, .whl and
# .devshim carried. Results go to $OUT (at most 8 files come back):
#   cuda_tests.log   the in-process suite's model-patch, sampling, strength and RoPE tests on CUDA
#   train_cost.json  issue 14: LoRA training cost at real size (benchmarks/train_cost.py)
#   condition_modes_real_size.{md,json}  issue 16 (benchmarks/step_cost.py --real-size)
#   toy.log + $TOY_FILES   toy models trained on the GPU by the command $TOY (when set; it runs beside
#                          the tests, so it should train in a copy of the tree: toy_models/train_gpu.sh)
# TRAIN_LIMIT=0 STEP_LIMIT=0 skip the two real-size benchmarks.
# SMOKE=1 runs every step at toy size on whatever device there is (a check of this script, here).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
if [[ -d .whl ]] && ls .whl/*.whl >/dev/null 2>&1 && [[ -z "${SMOKE:-}" ]]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD/.devshim
fi
export VIDEOCANVAS_COMFYUI=${VIDEOCANVAS_COMFYUI:-$PWD/.devcomfy/ComfyUI} PYTHONUNBUFFERED=1
[[ -z "${SMOKE:-}" ]] && export VIDEOCANVAS_DEVICE=cuda
ln -sfn "$PWD" "$VIDEOCANVAS_COMFYUI/custom_nodes/comfyui-videocanvas"
PY=${PY:-python3}
DEV=cuda; [[ -n "${SMOKE:-}" ]] && DEV=cpu
stamp() { echo "[gpu_check $(date +%T)] $*"; }

stamp "device"; { nvidia-smi -L 2>/dev/null; $PY -c "import torch; print(torch.__version__, torch.cuda.is_available())"; } \
    | tee "$OUT/cuda_tests.log"

# Toy models train beside the tests (which are not timed); the timed benchmarks run alone after.
if [[ -n "${TOY:-}" ]]; then
    stamp "toy training in the background: $TOY"
    timeout "${TOY_LIMIT:-300}" bash -c "$TOY" > "$OUT/toy.log" 2>&1 &
    toy_pid=$!
fi

stamp "CUDA tests"
# In-process tests only: the server tests need ComfyUI's frontend package, which is not carried.
export VIDEOCANVAS_NO_SERVER=1
TESTS=(tests/host/test_model_patch.py tests/unit/test_in_context.py tests/host/test_strength.py tests/host/test_rope_options.py
       tests/host/test_memory.py tests/host/test_bundled_model.py tests/host/test_sparse_tokens.py
       tests/host/test_cached_conditions.py tests/host/test_i2v.py)
existing=(); for t in "${TESTS[@]}"; do [[ -f $t ]] && existing+=("$t"); done
timeout "${TEST_LIMIT:-180}" $PY -m pytest "${existing[@]}" -q -p no:cacheprovider -ra 2>&1 \
    | tee -a "$OUT/cuda_tests.log" | tail -n 40

if [[ -n "${TOY:-}" ]]; then
    stamp "waiting for the toy training"; wait "$toy_pid"; echo "toy exit $?" >> "$OUT/toy.log"
    for f in ${TOY_FILES:-}; do [[ -f $f ]] && cp "$f" "$OUT/"; done
fi
[[ "${TRAIN_LIMIT:-200}" == 0 && "${STEP_LIMIT:-150}" == 0 ]] && { stamp "done"; ls -la "$OUT"; exit 0; }

stamp "train cost"
if [[ -n "${SMOKE:-}" ]]; then quick=(--quick); else quick=(); fi
timeout "${TRAIN_LIMIT:-200}" $PY -m benchmarks.train_cost --device $DEV "${quick[@]}" \
    --out "$OUT/train_cost.json" 2>&1 | tail -n 30

stamp "step cost, real size"
if [[ -n "${SMOKE:-}" ]]; then smoke=(--smoke); else smoke=(); fi
timeout "${STEP_LIMIT:-150}" $PY -m benchmarks.step_cost --real-size --device $DEV "${smoke[@]}" \
    --out "$OUT" 2>&1 | tail -n 30
stamp "done"; ls -la "$OUT"
