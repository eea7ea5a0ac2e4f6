"""The training loop: flow matching with Wan's shift through the VideoCanvas in-context forward.

Per sample (all its randomness from anchors.sample_generator(seed, step, index)):
  sigma = shift * u / (1 + (shift - 1) * u), u ~ U(0, 1)   (the noise levels Wan samples at)
  z_t = (1 - sigma) z + sigma e;  target = e - z            (ComfyUI's flow-matching convention)
  conditions: anchors drawn anew, each canvas encoded on its own as one image by the model's VAE,
  in context at timestep 0 with interpolated positions (vc_core.paradigms.in_context.in_context_forward,
  the very forward inference runs); the loss is the MSE on the video tokens only (the condition
  tokens are dropped from the output before it is taken).

Samples are drawn one by one, then those of one shape (size, text length, anchor count) run as one
forward of up to `micro_batch` rows, each row with its own anchor positions
(ConditionLatents.row_frames): the same losses as one forward per sample, faster where memory allows.

A step averages the loss over the global batch (batch_size samples per process x processes); with
several processes (torchrun) the LoRA gradients are summed across processes by all-reduce, which is
what DDP does (a LoRA's few MB of gradients need no bucketing). With shard_base (FSDP2) the frozen
base is split across those processes as well, each holding ~1/N of it and gathering a block's
weights only while the block runs; the LoRA stays whole on every process and is reduced as above.
State (LoRA + Adam moments) is saved as safetensors + JSON, never pickle; a resumed run continues
to the same result.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ._pack import vc
from .anchors import draw_anchors, render_canvases, sample_generator
from .lora import DEFAULT_TARGETS, LoRASet


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 1  # samples per process per step
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup: int = 0
    max_grad_norm: float = 1.0
    rank: int = 16
    alpha: float | None = None  # None: alpha = rank (scale 1)
    targets: tuple[str, ...] = DEFAULT_TARGETS
    min_anchors: int = 1
    max_anchors: int = 20
    min_crop: float = 0.2  # fraction of the frame's area
    max_crop: float = 1.0
    shift: float | None = None  # None: the model's own sampling shift
    seed: int = 0
    gradient_checkpointing: bool = False
    micro_batch: int = 1  # samples per forward (same shape only): speed for memory, same losses
    policy: str = "interpolate"
    stride: int = 4  # the VAE's temporal stride
    extra: dict = field(default_factory=dict)

    def resumable_fields(self) -> dict:
        """What must not change between a run and its resumption (steps may grow)."""
        d = asdict(self)
        d.pop("steps")
        d.pop("extra")
        d.pop("micro_batch")  # how samples are grouped into forwards, not what is trained
        d["targets"] = list(d["targets"])
        return d


@dataclass
class Sample:
    latent: torch.Tensor  # [C, f, h, w], latent format applied
    pixels: torch.Tensor  # [T, H, W, 3] uint8
    context: torch.Tensor  # [n, 4096]


def sigma_of(u: torch.Tensor, shift: float) -> torch.Tensor:
    return shift * u / (1 + (shift - 1) * u)


def predict(wan, x_t: torch.Tensor, sigma: torch.Tensor, context: torch.Tensor,
            conditions: torch.Tensor | None, frames: Sequence[int], stride: int = 4,
            policy: str = "interpolate", row_frames: Sequence[Sequence[int]] = ()) -> torch.Tensor:
    """The model's velocity for the video tokens: the in-context forward inference runs, with the
    conditions [1 or B, C, K, h, w] (latent format applied) clean at the given pixel frames (or, per
    batch row, at row_frames); without conditions, the same forward with none appended. Wan's
    timestep is sigma x 1000."""
    wf, icc = vc("wan_forward"), vc("paradigms.in_context")
    if conditions is None or not len(frames):
        conditions = x_t.new_zeros(x_t.shape[0], x_t.shape[1], 0, *x_t.shape[3:])
        frames, row_frames = (), ()
    rows = tuple(tuple(int(f) for f in r) for r in row_frames) if len(row_frames) > 1 else ()
    cond = wf.ConditionLatents(conditions, tuple(int(f) for f in frames), stride=stride, row_frames=rows)
    return icc.in_context_forward(wan, x_t, sigma * 1000.0, context, cond, policy)


@contextlib.contextmanager
def reference_kernels():
    """ComfyUI's own switch for training (`comfy.model_management.in_training`, 0.33.0 and later):
    while it is on, the model's RoPE and fused kernels take their reference torch paths, which have
    a backward (comfy-kitchen's `apply_rope1` has none). Off again afterwards, so sampling runs what
    it always runs. Hosts without the switch have no such kernels: setting it there changes nothing."""
    import comfy.model_management as mm

    before = getattr(mm, "in_training", False)
    mm.in_training = True
    try:
        yield
    finally:
        mm.in_training = before


@contextlib.contextmanager
def checkpointed_blocks(wan, enabled: bool):
    """Gradient checkpointing of every transformer block, wrapped from outside (the forward code
    stays the one inference runs): activations inside a block are recomputed in the backward."""
    if not enabled:
        yield
        return
    from torch.utils.checkpoint import checkpoint

    originals = []
    for block in wan.blocks:
        fwd = block.forward
        originals.append((block, block.__dict__.get("forward")))
        block.forward = (lambda f: lambda *a, **k: checkpoint(f, *a, use_reentrant=False, **k))(fwd)
    try:
        yield
    finally:
        for block, own in originals:
            if own is None:
                del block.forward  # the class's method shows again
            else:
                block.forward = own


def shard_base(wan, dist: Distributed, device: torch.device) -> dict:
    """Shard the frozen base across the processes with FSDP2: every transformer block on its own
    (gathered for its forward and again for its backward, freed after), then the root (embeddings,
    head, ...). Parameters are split along their first dimension onto `device`, so each process keeps
    ~1/N of the base. Returns {"processes", "base_elements", "local_elements"} of this process."""
    if dist.world < 2:
        raise ValueError("shard_base: shards the base across the processes of a distributed launch "
                         "(torchrun --nproc_per_node N -m trainer ... --shard-base); this is one process")
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    fp8 = sorted({str(p.dtype) for p in wan.parameters() if p.dtype.itemsize == 1 and p.is_floating_point()})
    if fp8 and torch.distributed.get_backend() == "gloo":
        raise ValueError(f"shard_base: the base holds {', '.join(fp8)} weights, which gloo (the CPU "
                         f"backend) cannot gather; shard bf16/fp16/fp32 weights there")
    total = sum(p.numel() for p in wan.parameters())
    mesh = init_device_mesh(device.type, (dist.world,))
    for block in wan.blocks:
        fully_shard(block, mesh=mesh)
    fully_shard(wan, mesh=mesh)
    local = sum(p.to_local().numel() for p in wan.parameters())
    return {"processes": dist.world, "base_elements": total, "local_elements": local}


def is_sharded(wan) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(wan, FSDPModule)


@contextlib.contextmanager
def through_root(wan):
    """While a sharded base runs: the in-context forward calls wan.forward_orig, not wan(...), so
    FSDP's root hooks (gather the root's weights, set up the backward) would never run; route that
    call through Module.__call__ with forward_orig as the forward."""
    wan.forward = type(wan).forward_orig.__get__(wan)
    wan.forward_orig = lambda *args, **kwargs: wan(*args, **kwargs)
    try:
        yield
    finally:
        del wan.forward_orig, wan.forward  # the class's methods show again


class Distributed:
    """torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); one process without it."""

    def __init__(self, device_type: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        # RANK alone (a shell variable of that name, say) is no launcher: read only with a world
        multi = self.world > 1
        self.rank = int(os.environ.get("RANK", "0")) if multi else 0
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0")) if multi else 0
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if device_type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self):
        if self.world > 1:
            torch.distributed.barrier()

    def sum_(self, tensors):
        if self.world > 1:
            for t in tensors:
                torch.distributed.all_reduce(t)

    def max_(self, value: int, device: torch.device) -> int:
        if self.world == 1:
            return value
        t = torch.tensor(value, device=device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return int(t)

    def gather(self, obj) -> list:
        """obj of every process, in rank order (on every process)."""
        if self.world == 1:
            return [obj]
        out = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out

    def close(self):
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


class Trainer:
    """LoRA training of one WanModel on cached clips.

    clips: a sequence of Sample (or anything with latent/pixels/context), read by index;
    encode_anchors: canvases [K, H, W, 3] in 0..1 -> [1, C, K, h, w] latents (latent format applied),
    each canvas encoded on its own as one image (models.encode_images with the model's VAE).
    """

    def __init__(self, wan, clips: Sequence, encode_anchors: Callable, config: TrainConfig,
                 device: torch.device, compute_dtype: torch.dtype = torch.float32, shift: float = 1.0,
                 lora: LoRASet | None = None, dist: Distributed | None = None):
        self.wan, self.clips, self.encode_anchors = wan, clips, encode_anchors
        self.config, self.device, self.dtype = config, torch.device(device), compute_dtype
        self.shift = float(config.shift if config.shift is not None else shift)
        self.dist = dist or Distributed(self.device.type)
        self.sharded = is_sharded(wan)
        if not len(clips):
            raise ValueError("training needs at least one clip")
        wan.requires_grad_(False)
        self.lora = (lora or LoRASet(wan, config.rank, config.alpha, config.targets, seed=config.seed))
        self.lora.to(self.device)
        self.params = [p for _, p in sorted(self.lora.named_parameters())]
        self.opt = torch.optim.AdamW(self.params, lr=config.lr, weight_decay=config.weight_decay,
                                     foreach=False)
        self.step = 0
        self.losses: list[float] = []

    # --- one sample, one step -------------------------------------------------------------
    def clip_index(self, step: int, j: int) -> int:
        """Clip of sample j of the global batch at `step`: epochs of seeded permutations, so every
        clip is seen once per epoch, whatever the number of processes."""
        n = len(self.clips)
        g = step * self.config.batch_size * self.dist.world + j
        perm = torch.randperm(n, generator=sample_generator(self.config.seed, g // n, 0, "epoch"))
        return int(perm[g % n])

    def draw(self, step: int, j: int, clip_index: int | None = None, stream: str = "sample") -> dict:
        """Everything random about sample j of `step` (noise level, noise, anchors), from its own
        generator, and the clip's cached latent and text."""
        cfg = self.config
        clip = self.clips[self.clip_index(step, j) if clip_index is None else clip_index]
        gen = sample_generator(cfg.seed, step, j, stream)
        z = clip.latent.to(self.device, torch.float32).unsqueeze(0)
        sigma = sigma_of(torch.rand(1, generator=gen), self.shift).to(self.device)
        eps = torch.randn(z.shape, generator=gen).to(self.device)
        t, h, w, _ = clip.pixels.shape
        anchors = draw_anchors(gen, t, h, w, cfg.max_anchors, cfg.min_anchors, cfg.min_crop, cfg.max_crop)
        return {"z": z, "sigma": sigma, "eps": eps, "anchors": anchors, "pixels": clip.pixels,
                "context": clip.context.to(self.device).unsqueeze(0)}

    def losses_of(self, draws: list[dict]) -> torch.Tensor:
        """[n] per-sample losses of samples of one shape (latent, text length, anchor count), as one
        forward: each row's canvases encoded on its own as one image, each row at its own positions."""
        cfg = self.config
        z = torch.cat([d["z"] for d in draws])
        sigma = torch.cat([d["sigma"] for d in draws])
        eps = torch.cat([d["eps"] for d in draws])
        frames = [[a.frame for a in d["anchors"]] for d in draws]
        conditions = None
        if frames[0]:
            canvases = torch.cat([render_canvases(d["pixels"], d["anchors"]) for d in draws])
            conditions = self.encode_anchors(canvases).to(self.device)  # [1, C, n*K, h, w]
            conditions = torch.cat(conditions.split(len(frames[0]), dim=2))  # [n, C, K, h, w]
        x_t = (1 - sigma.view(-1, 1, 1, 1, 1)) * z + sigma.view(-1, 1, 1, 1, 1) * eps
        context = torch.cat([d["context"] for d in draws])
        with self._autocast(), (through_root(self.wan) if self.sharded else contextlib.nullcontext()):
            v = predict(self.wan, x_t.to(self.dtype), sigma, context.to(self.dtype),
                        None if conditions is None else conditions.to(self.dtype),
                        frames[0], cfg.stride, cfg.policy, row_frames=frames)
        return ((v.float() - (eps - z)) ** 2).flatten(1).mean(dim=1)

    def sample_loss(self, step: int, j: int, clip_index: int | None = None,
                    stream: str = "sample") -> torch.Tensor:
        return self.losses_of([self.draw(step, j, clip_index, stream)])[0]

    def micro_batches(self, draws: list[dict]) -> list[list[dict]]:
        """Samples grouped by shape, in drawing order, at most micro_batch per group."""
        groups: dict[tuple, list[dict]] = {}
        for d in draws:
            key = (tuple(d["z"].shape), tuple(d["context"].shape), len(d["anchors"]))
            groups.setdefault(key, []).append(d)
        size = max(1, self.config.micro_batch)
        return [g[i:i + size] for g in groups.values() for i in range(0, len(g), size)]

    @torch.no_grad()
    def eval_loss(self, draws: int = 4) -> float:
        """Mean loss over `draws` fixed draws (noise level, noise, anchors) per clip, from a stream
        of their own: the same draws at every call, so values at different steps compare."""
        attached = bool(self.lora._hooks)
        self.lora.attach(self.wan)
        try:
            with reference_kernels():
                total = sum(float(self.sample_loss(d, 0, i, stream="eval"))
                            for i in range(len(self.clips)) for d in range(draws))
        finally:
            if not attached:
                self.lora.detach()
        return total / (draws * len(self.clips))

    def _autocast(self):
        if self.device.type == "cuda" and self.dtype != torch.float32:
            return torch.autocast("cuda", dtype=self.dtype)
        return contextlib.nullcontext()

    def lr_at(self, step: int) -> float:
        w = self.config.warmup
        return self.config.lr * min(1.0, (step + 1) / w) if w else self.config.lr

    def train_step(self) -> float:
        """One optimiser step over the global batch; returns the global batch's mean loss."""
        cfg, step = self.config, self.step
        global_batch = cfg.batch_size * self.dist.world
        self.opt.zero_grad(set_to_none=False)
        # on the device: NCCL reduces device tensors only, and no host sync per sample
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        with checkpointed_blocks(self.wan, cfg.gradient_checkpointing), reference_kernels():
            draws = [self.draw(step, self.dist.rank * cfg.batch_size + i) for i in range(cfg.batch_size)]
            groups = self.micro_batches(draws)
            if self.sharded:
                # a sharded block's weights are gathered by all processes together: every process runs
                # as many forwards; one with fewer groups (other anchor counts) repeats its first at
                # weight 0, which adds exact zeros to the gradients
                groups += [None] * (self.dist.max_(len(groups), self.device) - len(groups))
            for group in groups:
                losses = self.losses_of(group if group is not None else groups[0])
                weight = 1.0 if group is not None else 0.0
                (weight * losses.sum() / global_batch).backward()
                total += weight * losses.detach().sum().double()
        self.dist.sum_([p.grad for p in self.params if p.grad is not None] + [total])
        if cfg.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm)
        for group in self.opt.param_groups:
            group["lr"] = self.lr_at(step)
        self.opt.step()
        self.step += 1
        mean = float(total) / global_batch
        self.losses.append(mean)
        return mean

    # --- state ------------------------------------------------------------------------------
    def save_state(self, folder: Path) -> None:
        """LoRA and Adam moments as safetensors (state-<step>.safetensors), counters and config as
        JSON (state.json, naming that file), each written whole then renamed, the JSON last: a run
        killed at any moment resumes from a complete pair, the last one saved before."""
        folder = Path(folder)
        tensors = {}
        for name, p in sorted(self.lora.named_parameters()):
            tensors[f"lora.{name}"] = p.detach().cpu().contiguous()
            for key in ("exp_avg", "exp_avg_sq"):
                if key in self.opt.state.get(p, {}):
                    tensors[f"adam.{name}.{key}"] = self.opt.state[p][key].detach().cpu().contiguous()
        adam_steps = {float(s["step"]) for s in self.opt.state.values() if "step" in s}
        name = f"state-{self.step:08d}.safetensors"
        save_file(tensors, str(folder / f"{name}.tmp"))
        os.replace(folder / f"{name}.tmp", folder / name)
        meta = {"step": self.step, "adam_step": adam_steps.pop() if adam_steps else 0.0, "tensors": name,
                "config": self.config.resumable_fields(), "losses": self.losses,
                "lora": {"rank": self.lora.rank, "alpha": self.lora.alpha, "modules": self.lora.names}}
        (folder / "state.json.tmp").write_text(json.dumps(meta))
        os.replace(folder / "state.json.tmp", folder / "state.json")
        for old in folder.glob("state-*.safetensors"):  # older pairs, now superseded
            if old.name != name:
                old.unlink()

    def load_state(self, folder: Path) -> None:
        folder = Path(folder)
        meta = json.loads((folder / "state.json").read_text())
        saved, now = meta["config"], self.config.resumable_fields()
        changed = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
        if changed:
            raise ValueError(f"{folder}: cannot resume with other settings than the run was started "
                             f"with ({', '.join(f'{k}: {saved.get(k)} -> {now.get(k)}' for k in changed)})")
        tensors = load_file(str(folder / meta["tensors"]))
        with torch.no_grad():
            for name, p in self.lora.named_parameters():
                p.copy_(tensors[f"lora.{name}"])
                if f"adam.{name}.exp_avg" in tensors:
                    self.opt.state[p] = {
                        "step": torch.tensor(meta["adam_step"]),
                        "exp_avg": tensors[f"adam.{name}.exp_avg"].to(p.device),
                        "exp_avg_sq": tensors[f"adam.{name}.exp_avg_sq"].to(p.device)}
        self.step, self.losses = int(meta["step"]), list(meta["losses"])

    # --- the run ------------------------------------------------------------------------------
    def run(self, out: Path | None = None, save_every: int = 0, stop_after: int | None = None,
            log: Callable[[str], None] = print, on_step: Callable[[int, float], None] | None = None):
        """Train to config.steps (or stop_after steps, saving state first); with `out`, write the
        loss log (loss.jsonl) and state there (main process only)."""
        cfg = self.config
        end = min(cfg.steps, stop_after) if stop_after is not None else cfg.steps
        self.lora.attach(self.wan)
        t0, first = time.monotonic(), self.step
        try:
            while self.step < end:
                loss = self.train_step()
                if on_step:
                    on_step(self.step, loss)
                if out is not None and self.dist.main:
                    with open(Path(out) / "loss.jsonl", "a") as f:
                        f.write(json.dumps({"step": self.step, "loss": loss, "lr": self.lr_at(self.step - 1),
                                            "seconds": round(time.monotonic() - t0, 3)}) + "\n")
                    if save_every and self.step % save_every == 0 and self.step < end:
                        self.save_state(out)
                done = self.step - first
                if done == 1 or self.step % max(1, min(50, cfg.steps // 20)) == 0 or self.step == end:
                    rate = (time.monotonic() - t0) / done
                    log(f"step {self.step}/{cfg.steps}  loss {loss:.5f}  {rate:.2f} s/step  "
                        f"eta {rate * (cfg.steps - self.step) / 60:.1f} min")
        finally:
            self.lora.detach()
        if out is not None and self.dist.main:
            self.save_state(out)
        return self.losses
