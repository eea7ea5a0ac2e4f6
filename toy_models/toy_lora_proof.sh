#!/usr/bin/env bash
# Toy-scale proof of the LoRA route (issue 14, item 3): a plain toy T2V base (no conditions, the
# bundled toy's data and budget), then a VideoCanvas LoRA on it with the product trainer
# (python -m trainer), then the fidelity benchmark for base + LoRA beside the fully trained toy.
#   DEVICE=cuda LORA_RANK=32 STEPS=3000 bash toy_models/toy_lora_proof.sh
# On a 2-core CPU each stage takes its --minutes / steps budget (the base alone 44 min): run it on
# a GPU. Results: bench_out/toy_lora_r$LORA_RANK/results.md against bench_out/toy_full/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$(python3 -m hostkit.setup --print python)}
COMFY=$(python3 -m hostkit.setup --print comfyui)
DEVICE=${DEVICE:-cuda}
LORA_RANK=${LORA_RANK:-32}  # not RANK: torchrun's variable of that name
STEPS=${STEPS:-3000}
MINUTES=${MINUTES:-44}
CLIPS=${CLIPS:-1024}  # the bundled toy's training set
EVAL_STEPS=${EVAL_STEPS:-20}
RUN=train_runs/toy_lora_r$LORA_RANK

"$PY" -m toy_models.train_dit --data-only --clips "$CLIPS" --device "$DEVICE"
[[ -f train_runs/toy_t2v_plain.safetensors ]] ||
    "$PY" -m toy_models.train_dit --variant plain --clips "$CLIPS" --minutes "$MINUTES" --device "$DEVICE"
# the trainer's cache is keyed on the files, so existing clips are not written again
[[ -d train_runs/toy_clips ]] || "$PY" -m toy_models.export_clips --clips "$CLIPS" --out train_runs/toy_clips
"$PY" -m trainer --comfyui "$COMFY" --device "$DEVICE" \
    --model train_runs/toy_t2v_plain.safetensors --vae models/vae/videocanvas_toy_vae.safetensors \
    --data train_runs/toy_clips --out "$RUN" --cache train_runs/toy_lora_cache --sizes 64x64 --length 17 \
    --rank "$LORA_RANK" --steps "$STEPS" --batch-size 16 --lr 1e-3 --warmup 100 \
    --min-anchors 0 --max-anchors 4 --micro-batch 16 --save-every 500 $([[ -f $RUN/state.json ]] && echo --resume)
"$PY" -m trainer.merge --model train_runs/toy_t2v_plain.safetensors \
    --lora "$RUN/videocanvas_lora.safetensors" --out "$RUN/merged.safetensors"
"$PY" -m benchmarks.evaluate --variants icc --weights "icc=$RUN/merged.safetensors" --steps "$EVAL_STEPS" \
    --out "bench_out/toy_lora_r$LORA_RANK"
[[ -f bench_out/toy_full/results.md ]] ||
    "$PY" -m benchmarks.evaluate --variants icc --steps "$EVAL_STEPS" --out bench_out/toy_full
[[ -f bench_out/toy_plain/results.md ]] ||
    "$PY" -m benchmarks.evaluate --variants icc --weights icc=train_runs/toy_t2v_plain.safetensors \
        --steps "$EVAL_STEPS" --out bench_out/toy_plain
# the LoRAs saved on the way (--save-every): how close it gets after how many steps
rows=("plain base, no LoRA=bench_out/toy_plain")
for lora in "$RUN"/videocanvas_lora_step*.safetensors; do
    [[ -e $lora ]] || continue
    step=${lora##*_step}; step=${step%.safetensors}
    out=bench_out/toy_lora_r${LORA_RANK}_step$step
    if [[ ! -f $out/results.md ]]; then
        "$PY" -m trainer.merge --model train_runs/toy_t2v_plain.safetensors --lora "$lora" --out "$RUN/merged_$step.safetensors"
        "$PY" -m benchmarks.evaluate --variants icc --weights "icc=$RUN/merged_$step.safetensors" \
            --steps "$EVAL_STEPS" --out "$out"
    fi
    rows+=("base + LoRA r$LORA_RANK, $((10#$step)) steps=$out")
done
rows+=("base + LoRA r$LORA_RANK, $STEPS steps=bench_out/toy_lora_r$LORA_RANK" "fully trained toy=bench_out/toy_full")
"$PY" -m benchmarks.summarize "${rows[@]}" | tee "bench_out/toy_lora_r$LORA_RANK/summary.md"
