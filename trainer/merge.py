"""python -m trainer.merge: fold a LoRA into a diffusion model's weights (W + s * alpha/rank * up @ down,
what LoraLoaderModelOnly applies at strength s), for tools that take one checkpoint file.

    python -m trainer.merge --model base.safetensors --lora lora.safetensors --out merged.safetensors
"""

from __future__ import annotations

import argparse
import sys

import torch
from safetensors.torch import load_file, save_file

from .lora import PREFIX, LoRAError


def merge(base: dict[str, torch.Tensor], lora: dict[str, torch.Tensor], strength: float = 1.0,
          source: str = "lora") -> dict[str, torch.Tensor]:
    """A new state dict; every LoRA layer must be a weight of `base` with matching size."""
    out = dict(base)
    prefix = "model.diffusion_model." if any(k.startswith("model.diffusion_model.") for k in base) else ""
    downs = sorted(k for k in lora if k.startswith(PREFIX) and k.endswith(".lora_down.weight"))
    if not downs:
        raise LoRAError(f"{source}: no '{PREFIX}<module>.lora_down.weight' keys: not a LoRA in ComfyUI's "
                        f"format for a Wan diffusion model")
    for down_key in downs:
        name = down_key[len(PREFIX):-len(".lora_down.weight")]
        key = f"{prefix}{name}.weight"
        down, up = lora[down_key].float(), lora[f"{PREFIX}{name}.lora_up.weight"].float()
        if key not in base or base[key].shape != (up.shape[0], down.shape[1]):
            raise LoRAError(f"{source}: layer '{name}' is not a {up.shape[0]}x{down.shape[1]} weight of "
                            f"the model: a LoRA of another model")
        alpha = float(lora.get(f"{PREFIX}{name}.alpha", torch.tensor(float(down.shape[0]))))
        w = base[key]
        out[key] = (w.float() + strength * alpha / down.shape[0] * (up @ down)).to(w.dtype).contiguous()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trainer.merge", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--lora", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--strength", type=float, default=1.0)
    args = ap.parse_args(argv)
    for path in (args.model, args.lora):
        if not path.endswith(".safetensors"):
            raise SystemExit(f"{path}: only .safetensors files are loaded")
    try:
        merged = merge(load_file(args.model), load_file(args.lora), args.strength, args.lora)
    except LoRAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    save_file(merged, args.out)
    print(f"merged {args.lora} into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
