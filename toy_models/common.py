"""What the trainers share: device choice, resumable safetensors-only checkpoints, a JSONL log,
ComfyUI's own model classes and latent format (the weights must load in ComfyUI unchanged)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "models"  # committed weights, registered with ComfyUI's loaders by vc_nodes/__init__.py
VAE_FILE = BUNDLED / "vae" / "videocanvas_toy_vae.safetensors"  # the toy VAE the trainers read or write


def comfy_modules():
    """Import ComfyUI (from the host built by hostkit.setup) for its Wan classes."""
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    from hostkit.inprocess import add_comfy_to_path

    add_comfy_to_path()
    import comfy.latent_formats
    import comfy.ldm.wan.model
    import comfy.ldm.wan.vae
    import comfy.ops

    return comfy


def pick_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    # every core by default; VC_THREADS or OMP_NUM_THREADS (several runs side by side) win: two
    # runs of 2 threads each on 2 cores spin against each other and ran 5x slower per step
    threads = os.environ.get("VC_THREADS") or os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1
    torch.set_num_threads(max(1, int(threads)))
    return torch.device("cpu")


class RunDir:
    """train_runs/<name>/: log.jsonl, state.safetensors + state.json (resume), final weights."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.t0 = time.monotonic()

    def log(self, **row) -> None:
        row = {"t": round(time.monotonic() - self.t0, 1), **row}
        with open(self.path / "log.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)

    def save_state(self, model: torch.nn.Module, opt: torch.optim.Optimizer, meta: dict) -> None:
        """Model and Adam moments as safetensors (no pickle), step counters as JSON."""
        tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        names = {id(p): n for n, p in model.named_parameters()}
        for group in opt.param_groups:
            for p in group["params"]:
                for key, val in opt.state.get(p, {}).items():
                    if torch.is_tensor(val) and val.ndim > 0:
                        tensors[f"opt.{names[id(p)]}.{key}"] = val.detach().cpu().contiguous()
        adam_step = next((float(s["step"]) for s in opt.state.values() if "step" in s), 0.0)
        save_file(tensors, str(self.path / "state.safetensors.tmp"))
        os.replace(self.path / "state.safetensors.tmp", self.path / "state.safetensors")
        (self.path / "state.json").write_text(json.dumps({**meta, "adam_step": adam_step}))

    def load_state(self, model: torch.nn.Module, opt: torch.optim.Optimizer) -> dict | None:
        if not (self.path / "state.json").exists():
            return None
        tensors = load_file(str(self.path / "state.safetensors"))
        meta = json.loads((self.path / "state.json").read_text())
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        for name, p in model.named_parameters():
            state = {key: tensors[f"opt.{name}.{key}"].to(p.device)
                     for key in ("exp_avg", "exp_avg_sq") if f"opt.{name}.{key}" in tensors}
            if state:
                state["step"] = torch.tensor(meta["adam_step"])
                opt.state[p] = state
        return meta


def export_weights(model: torch.nn.Module, path: Path, dtype=torch.float32) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().to(dtype).contiguous() for k, v in model.state_dict().items()},
              str(path))
    return path


class StepBudget:
    """`--steps 0`: as many steps as fit the time budget, fixed after a short timed start (the cosine
    schedule needs its length up front). The chosen count is logged; pass it as --steps to repeat a
    run exactly."""

    def __init__(self, steps: int, deadline: float, probe: int = 60, margin: float = 0.92):
        self.steps, self.deadline, self.probe, self.margin = steps, deadline, probe, margin
        self.auto = steps <= 0
        self.t_probe = None
        if self.auto:
            self.steps = 10 ** 9  # until fixed; the warm-up does not depend on it

    def after(self, step: int, run: RunDir, start: int = 0) -> None:
        """Call after each step; at `probe` steps into the run the total is fixed."""
        if not self.auto:
            return
        done = step + 1 - start
        if done == 10:  # the first steps include kernel selection and allocator warm-up
            self.t_probe = time.monotonic()
        elif done == self.probe and self.t_probe is not None:
            per_step = (time.monotonic() - self.t_probe) / (self.probe - 10)
            left = max(0.0, self.deadline - time.monotonic()) * self.margin
            self.steps = step + 1 + int(left / per_step)
            self.auto = False
            run.log(event="steps fixed to fit the time budget", steps=self.steps,
                    seconds_per_step=round(per_step, 4))


def cosine_lr(step: int, total: int, peak: float, warmup: int = 100) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.05 + 0.95 * 0.5 * (1 + torch.cos(torch.tensor(progress * torch.pi)).item()))
