"""Train the toy VideoCanvas DiT (ComfyUI's own WanModel, Wan 2.1 T2V format) with the paper's recipe.

    python -m toy_models.train_dit --data-only           (encode the shared training set once)
    python -m toy_models.train_dit --variant icc [--minutes 44] [--resume]
    variants: icc (in-context + RoPE interpolation: the paper, the bundled default),
              nearest (in-context, conditions at their causal latent slot: "w/o interpolation"),
              replace (latent replacement: the condition overwrites its slot, kept clean)
              cached (icc with condition tokens attending only to condition tokens, so a sampler
                      can cache their keys/values: vc_core.condition_tokens; issue 16)
              sparse (icc trained as the pack's `sparse` condition tokens run it: tokens whose
                      canvas area holds no patch pixel are left out of the attention; issue 16)
              plain (a plain T2V model, no conditions: the base a VideoCanvas LoRA is trained on)
              concat (channel concatenation, the paper's baseline: a widened patch embedding reads
                      16 noise + 4 mask + 16 image-latent channels, Wan's image-to-video format,
                      built by vc_core.paradigms.channel_concat exactly as the pack builds them at sampling)
              vace (Wan VACE control, the paper's Table-1 baseline: three control blocks beside the
                    bundled DiT's (VACE's layout) read the control video's inactive and reactive
                    streams and the 64-channel mask, built by vc_core.paradigms.vace_control exactly
                    as the pack builds them at sampling; needs --pool)

Recipe (VIDEOCANVAS.md, "Training recipe"), scaled to a CPU: rectified flow z_t = (1-t) z + t e,
predict e - z, MSE on video tokens only; per sample and step, anew, 0..K (4) anchors at random pixel
frames, each a random crop of 20-100 % of that frame on a zero (VAE_ZERO) canvas, encoded on its own
as a single image by the frozen toy VAE (the drawing is trainer.anchors', the product trainer's);
condition tokens at timestep 0 with their policy's position; no text
(a single all-zero 4096-wide token, what VideoCanvas Null Prompt gives); every latent passes through
ComfyUI's Wan 2.1 latent format first, exactly what the sampler will feed the model.

The forward pass is vc_core.paradigms.in_context's, the same code the node pack runs inside ComfyUI.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .common import (
    BUNDLED,
    ROOT,
    VAE_FILE,
    RunDir,
    StepBudget,
    comfy_modules,
    cosine_lr,
    export_weights,
    pick_device,
)
from .procedural import SceneSpec, generate_clip

SIZE, FRAMES, STRIDE = 64, 17, 4
LATENT_FRAMES = (FRAMES - 1) // STRIDE + 1
DIT_FILES = {
    "icc": BUNDLED / "diffusion_models" / "videocanvas_toy_t2v.safetensors",
    # the ablations ship beside the bundled model but are not registered with ComfyUI's loaders
    "nearest": BUNDLED / "ablations" / "videocanvas_toy_t2v_nearest.safetensors",
    "replace": BUNDLED / "ablations" / "videocanvas_toy_t2v_replace.safetensors",
    "cached": BUNDLED / "ablations" / "videocanvas_toy_t2v_cached.safetensors",
    "sparse": BUNDLED / "ablations" / "videocanvas_toy_t2v_sparse.safetensors",
    # no conditions at all: the base of the LoRA route (toy_models/toy_lora_proof.sh); not shipped
    "plain": ROOT / "train_runs" / "toy_t2v_plain.safetensors",
    # Wan's 36-channel image-to-video format, registered: the toy image-to-video model
    "concat": BUNDLED / "diffusion_models" / "videocanvas_toy_i2v.safetensors",
    # Wan 2.1 VACE format, registered: the toy VACE model (the bundled DiT plus control blocks)
    "vace": BUNDLED / "diffusion_models" / "videocanvas_toy_vace.safetensors",
}
IN_DIM = {"concat": 36}  # 16 noise + 4 mask + 16 image latent; every other variant reads 16
# VACE control blocks beside the 6 DiT blocks, after blocks 0, 2, 4: every other block, as Wan 2.1 VACE
# 1.3B places 15 beside its 30
VACE_LAYERS = 3
ARCH = {"dim": 128, "ffn_dim": 512, "num_layers": 6}  # ~2.3M parameters: CPU-trainable
SCENE_CUTS = 0.3  # a share of training clips cut to a new scene mid-way: what transitions complete
SAMPLING_SHIFT = 8.0  # ComfyUI's Wan 2.1 sampling shift: train on the noise levels it will visit


def load_vae(device):
    comfy = comfy_modules()
    sd = load_file(str(VAE_FILE))
    vae = comfy.ldm.wan.vae.WanVAE(dim=sd["decoder.head.0.gamma"].shape[0], z_dim=16,
                                   dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                                   temperal_downsample=[False, True, True])
    vae.load_state_dict(sd)
    return vae.to(device).eval()


def random_crop_mask(gen: torch.Generator) -> torch.Tensor:
    """A box covering 20-100 % of the frame's area (the paper's patch sampling), [SIZE, SIZE]."""
    area = 0.2 + 0.8 * torch.rand((), generator=gen).item()
    aspect = math.exp((torch.rand((), generator=gen).item() - 0.5) * math.log(3))
    h = max(4, min(SIZE, round(SIZE * math.sqrt(area / aspect))))
    w = max(4, min(SIZE, round(SIZE * math.sqrt(area * aspect))))
    y = int(torch.randint(0, SIZE - h + 1, (), generator=gen))
    x = int(torch.randint(0, SIZE - w + 1, (), generator=gen))
    mask = torch.zeros(SIZE, SIZE)
    mask[y:y + h, x:x + w] = 1
    return mask


@torch.no_grad()
def build_dataset(path: Path, clips: int, device) -> dict:
    """`clips` training clips: their latents (video mode, the model's latent space) and their pixels
    (uint8), from which every training step cuts new condition crops."""
    if path.exists():
        return load_file(str(path))
    fmt = comfy_modules().latent_formats.Wan21()
    vae = load_vae(device)
    video, frames = [], []
    spec = SceneSpec(FRAMES, SIZE, SIZE, scene_cut=SCENE_CUTS)
    for start in range(0, clips, 16):
        seeds = range(start, min(clips, start + 16))
        pixels = torch.stack([generate_clip(s, spec) for s in seeds])
        x = pixels.permute(0, 4, 1, 2, 3).to(device) * 2 - 1
        video.append(fmt.process_in(vae.encode(x)).cpu())
        frames.append((pixels * 255).round().clamp(0, 255).to(torch.uint8))
        print(f"dataset {start + len(seeds)}/{clips}", flush=True)
    data = {"video": torch.cat(video).contiguous(), "pixels": torch.cat(frames).contiguous()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(data, str(path))
    return data


def condition_encoder(vae, device):
    """canvases [K, H, W, 3] in 0..1 -> [1, 16, K, h, w]: each canvas encoded on its own as a
    one-frame clip (image mode) by the frozen toy VAE, through the Wan 2.1 latent format."""
    fmt = comfy_modules().latent_formats.Wan21()

    @torch.no_grad()
    def encode(canvases: torch.Tensor) -> torch.Tensor:
        c = canvases.permute(0, 3, 1, 2).unsqueeze(2).to(device) * 2 - 1  # K one-frame clips
        return fmt.process_in(vae.encode(c))[:, :, 0].movedim(0, 1).unsqueeze(0)

    return encode


def dataset_path(clips: int) -> Path:
    """The encoded training set is cached per encoder and data recipe: a retrained encoder or other
    clips must not reuse stale latents; a decoder trained further (train_vae --decoder-only) leaves
    every latent, and so the set, as it was."""
    import hashlib

    sd = load_file(str(VAE_FILE))
    digest = hashlib.sha256()
    for name in sorted(k for k in sd if k.startswith(("encoder.", "conv1."))):  # what encode() reads
        digest.update(name.encode() + sd[name].float().numpy().tobytes())
    digest.update(f"scene_cut={SCENE_CUTS};pixels".encode())  # pixels: crops are cut at every step
    digest = digest.hexdigest()[:10]
    return ROOT / "train_runs" / f"dit_data_{clips}_{digest}.safetensors"


def build_dit(seed: int = 0, variant: str = "icc", arch: dict | None = None, vace_layers: int = VACE_LAYERS):
    comfy_modules()
    from hostkit.tiny_models import TinyWan

    return TinyWan(**(arch or ARCH), in_dim=IN_DIM.get(variant, 16),
                   vace_layers=vace_layers if variant == "vace" else 0).build(seed=seed)


def vace_adapter_(model, base: dict, freeze: bool = True) -> list[torch.nn.Parameter]:
    """VACE's context-adapter tuning on the toy: the DiT is the bundled one (`base`, its state dict),
    frozen (or, freeze=False, trained with the control blocks); each control block starts as a copy of
    the DiT block it sits beside (as ControlNet copies its trunk) with before_proj and after_proj at
    zero, so the untrained model is the base model. Returns the parameters to train."""
    missing, unexpected = model.load_state_dict(base, strict=False)
    if unexpected or any(not k.startswith("vace_") for k in missing):
        raise ValueError(f"the base is not this DiT: missing {missing}, unexpected {unexpected}")
    with torch.no_grad():
        for block, n in model.vace_layers_mapping.items():
            missing, unexpected = model.vace_blocks[n].load_state_dict(model.blocks[block].state_dict(),
                                                                       strict=False)
            if unexpected or any(not k.startswith(("before_proj.", "after_proj.")) for k in missing):
                raise ValueError(f"control block {n} is not a copy of DiT block {block}: missing {missing}, "
                                 f"unexpected {unexpected}")
            for proj in ("before_proj", "after_proj"):
                if hasattr(model.vace_blocks[n], proj):
                    getattr(model.vace_blocks[n], proj).weight.zero_()
                    getattr(model.vace_blocks[n], proj).bias.zero_()
    trained = []
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("vace_") or not freeze)
        if p.requires_grad:
            trained.append(p)
    return trained


def sample_t(n: int, gen: torch.Generator) -> torch.Tensor:
    u = torch.rand(n, generator=gen).clamp(1e-3, 1 - 1e-3)
    shifted = SAMPLING_SHIFT * u / (1 + (SAMPLING_SHIFT - 1) * u)
    return torch.where(torch.rand(n, generator=gen) < 0.5, u, shifted)


def anchor_video(pixels: torch.Tensor, anchors):
    """One sample's anchors as the pack lays them out in one grey pixel video (video, known) with
    vc_core.paradigms.channel_concat.pixel_video, what channel concatenation and VACE control both read."""
    from trainer.anchors import anchor_masks, render_canvases
    from vc_core.paradigms.channel_concat import pixel_video

    return pixel_video(render_canvases(pixels, anchors), anchor_masks(anchors, SIZE, SIZE),
                       [a.frame for a in anchors], [1.0] * len(anchors), FRAMES)


def concat_channels(pixels: torch.Tensor, draws, video_encoder, device) -> torch.Tensor:
    """The 20 condition channels per sample, [n, 4 + 16, F, h, w], as ComfyUI hands them to a Wan
    image-to-video model: 1 - concat_mask, then the image latent through the latent format. Built by
    vc_core.paradigms.channel_concat from the anchors' canvases and boxes (the pack's own code at sampling);
    a sample without anchors gets zeros, what ComfyUI passes when no concat inputs are set."""
    from vc_core.paradigms.channel_concat import concat_mask

    n = len(draws)
    h, w = SIZE // 8, SIZE // 8
    out = torch.zeros(n, 20, LATENT_FRAMES, h, w, device=device)
    rows = [i for i, a in enumerate(draws) if a]
    if not rows:
        return out
    videos = []
    for i in rows:
        cc = anchor_video(pixels[i], draws[i])
        out[i, :4] = 1.0 - concat_mask(cc.known, 8)[0].to(device)
        videos.append(cc.video)
    out[rows, 4:] = video_encoder(torch.stack(videos)).to(device)
    return out


def vace_context(pixels: torch.Tensor, draws, video_encoder, device) -> torch.Tensor:
    """VACE's control input per sample, [n, 96, F, h, w], as ComfyUI's WAN21_Vace hands it to the model:
    the inactive and reactive streams' latents (latent format applied) and the 64-channel mask (1 =
    generate). Built by vc_core.paradigms.vace_control from the anchors' canvases and boxes, the
    pack's own code at sampling; a sample without anchors gets an all-grey control video and an
    all-ones mask, what WanVaceToVideo gives without a control video."""
    from vc_core.paradigms import vace_control as vace

    streams, masks = [], []
    for i, anchors in enumerate(draws):
        cc = anchor_video(pixels[i], anchors)
        generate = 1.0 - cc.known
        streams.extend(vace.control_streams(cc.video, generate))
        masks.append(vace.latent_mask(generate, STRIDE, 8)[0])
    latents = video_encoder(torch.stack(streams)).to(device)  # [2n, 16, F, h, w]: inactive, reactive
    return torch.cat([latents.reshape(len(draws), 32, *latents.shape[2:]),
                      torch.stack(masks).to(device)], dim=1)


def video_encoder(vae, device):
    """pixel videos [n, L, H, W, 3] in 0..1 -> [n, 16, F, h, w], video mode, latent format applied."""
    fmt = comfy_modules().latent_formats.Wan21()

    @torch.no_grad()
    def encode(videos: torch.Tensor) -> torch.Tensor:
        return fmt.process_in(vae.encode(videos.permute(0, 4, 1, 2, 3).to(device) * 2 - 1))

    return encode


@torch.no_grad()
def build_pool(path: Path, data: dict, draws_per_clip: int, max_anchors: int, encode_video,
               device, variant: str = "concat") -> torch.Tensor:
    """For the concat and vace variants on a CPU: `draws_per_clip` anchor sets per training clip, drawn
    once (seeded by clip and draw, the same sets for both variants) and turned into their condition
    channels, [N, D, C, F, h, w] (concat: 20, vace: 96). A step then picks one per sample: encoding a
    whole pixel video per sample and step costs ~0.25 s on one core, 30x the rest of a step."""
    from trainer.anchors import draw_anchors

    if path.exists():
        return load_file(str(path))["pool"]
    build, channels = {"concat": (concat_channels, 20), "vace": (vace_context, 96)}[variant]
    n = data["pixels"].shape[0]
    pool = torch.zeros(n, draws_per_clip, channels, LATENT_FRAMES, SIZE // 8, SIZE // 8)
    for c in range(n):
        gen = torch.Generator().manual_seed(20_000 + c)
        draws = [draw_anchors(gen, FRAMES, SIZE, SIZE, max_anchors, min_anchors=0)
                 for _ in range(draws_per_clip)]
        pixels = data["pixels"][c:c + 1].expand(draws_per_clip, -1, -1, -1, -1)
        pool[c] = build(pixels, draws, encode_video, device).cpu()
        if c % 64 == 63:
            print(f"{variant} pool {c + 1}/{n}", flush=True)
    save_file({"pool": pool.contiguous()}, str(path))
    return pool


def training_step(model, variant, data, idx, gen, max_anchors, device, encode=None, encode_video=None,
                  count_per_step=False):
    """_training_step under ComfyUI's training switch (trainer.loop.reference_kernels): the forward
    records kernels that have a backward, on every host."""
    from trainer.loop import reference_kernels

    with reference_kernels():
        return _training_step(model, variant, data, idx, gen, max_anchors, device, encode, encode_video,
                              count_per_step)


def _training_step(model, variant, data, idx, gen, max_anchors, device, encode=None, encode_video=None,
                   count_per_step=False):
    """One step's loss over the samples `idx`. Every sample draws its own anchor set (0..max_anchors
    anchors: 0 keeps plain T2V alive) and, from the clip's pixels, a new crop of 20-100 % of each
    anchor frame (trainer.anchors, the product trainer's drawing), encoded by `encode` (see
    condition_encoder; all of a step's canvases in one call). Data without pixels may carry
    pre-encoded per-frame crops ("conditions", [N, FRAMES, 16, h, w]: synthetic latents in tests).
    Samples with the same number of anchors share one forward (ConditionLatents.row_frames: each row
    at its own positions). Returns (loss, anchors of the first sample)."""
    from trainer.anchors import draw_anchors, render_canvases

    if variant == "concat" and "concat_pool" in data:
        return concat_pool_step(model, data, idx, gen, device)
    if variant == "vace":
        return vace_pool_step(model, data, idx, gen, device)
    lo, hi = 0, max_anchors
    if count_per_step:  # one anchor count for the whole step (frames and crops still per sample):
        # one forward instead of one per count, for a GPU, where a toy's step is launch-bound
        lo = hi = int(torch.randint(0, max_anchors + 1, (), generator=gen))
    draws = [draw_anchors(gen, FRAMES, SIZE, SIZE, hi, min_anchors=lo) for _ in idx]
    z = data["video"][idx].to(device)
    b = z.shape[0]
    zt, t, target = noisy(z, gen, device)
    conds = [None] * b
    if variant == "concat":
        channels = concat_channels(data["pixels"][idx], draws, encode_video, device)
        return concat_loss(model, zt, t, target, channels, device), len(draws[0])
    if "pixels" in data:
        canvases = [render_canvases(data["pixels"][c], a)
                    for c, a in zip(idx.tolist(), draws, strict=True) if a]
        if canvases:
            encoded = encode(torch.cat(canvases)).to(device).split([len(a) for a in draws if a], dim=2)
            rows = iter(encoded)
            conds = [next(rows) if a else None for a in draws]
    else:
        conds = [data["conditions"][c][[a.frame for a in anchors]].permute(1, 0, 2, 3).unsqueeze(0).to(device)
                 if anchors else None for c, anchors in zip(idx.tolist(), draws, strict=True)]
    loss = 0.0
    for k in sorted({len(a) for a in draws}):
        rows = [i for i, a in enumerate(draws) if len(a) == k]
        cond = torch.cat([conds[i] for i in rows]) if k else None
        frames = [tuple(a.frame for a in draws[i]) for i in rows]
        out, weight = sample_forward(model, variant, zt[rows], t[rows], cond, frames, device,
                                     [draws[i] for i in rows])
        err = ((out.float() - target[rows]) ** 2) * weight  # weight [n, 1, F, 1, 1]
        per_sample = err.sum(dim=(1, 2, 3, 4)) / (weight.sum(dim=(1, 2, 3, 4)) * z[:1, :, :1].numel())
        loss = loss + per_sample.sum()
    return loss / b, len(draws[0])


def noisy(z: torch.Tensor, gen: torch.Generator, device):
    """(z_t, t, target) of rectified flow for clean latents z."""
    t = sample_t(z.shape[0], gen).to(device)
    eps = torch.randn(z.shape, generator=gen).to(device)
    zt = (1 - t.view(-1, 1, 1, 1, 1)) * z + t.view(-1, 1, 1, 1, 1) * eps
    return zt, t, eps - z


def pool_draw(data, pool: str, idx, gen, device):
    """(one of each clip's pre-drawn condition inputs per sample, z_t, t, target): a pool step's draws,
    in the order both pool variants make them."""
    entries = data[pool]
    choice = torch.randint(0, entries.shape[1], (len(idx),), generator=gen)
    return entries[idx, choice].to(device), *noisy(data["video"][idx].to(device), gen, device)


def concat_pool_step(model, data, idx, gen, device):
    """The concat variant's step from the pre-drawn pool (build_pool): one of each clip's
    condition channel sets per sample. Returns (loss, known mask slots of the first sample)."""
    channels, zt, t, target = pool_draw(data, "concat_pool", idx, gen, device)
    known = int(channels[0, :4].amax(dim=(0, 2, 3)).gt(0).sum())
    return concat_loss(model, zt, t, target, channels, device), known


def vace_pool_step(model, data, idx, gen, device):
    """The vace variant's step from its pre-drawn pool (build_pool): one control input per
    sample, vace_strength 1, MSE of the velocity over every video token. Returns (loss, known latent
    frames of the first sample)."""
    control, zt, t, target = pool_draw(data, "vace_pool", idx, gen, device)
    control = control.float()
    known = int(control[0, 32:].amin(dim=(0, 2, 3)).lt(1).sum())
    context = torch.zeros(zt.shape[0], 1, 4096, device=device)  # the null prompt
    out = model.forward_orig(zt, t * 1000, context, vace_context=control.unsqueeze(1), vace_strength=[1.0],
                             freqs=rope_video(model, device))
    return ((out.float() - target) ** 2).mean(), known


def concat_loss(model, zt, t, target, channels, device):
    """MSE of the velocity over every token, the condition channels concatenated to the noisy video
    (all tokens are video tokens in this paradigm)."""
    context = torch.zeros(zt.shape[0], 1, 4096, device=device)  # the null prompt
    out = model.forward_orig(torch.cat([zt, channels], dim=1), t * 1000, context,
                             freqs=rope_video(model, device))
    return ((out.float() - target) ** 2).mean()


def sparse_key_mask(rows, video_tokens: int) -> torch.Tensor:
    """[n, 1, 1, L] bool, the attention keys `sparse` condition tokens keep for each row's anchors
    (trainer.anchors.Anchor boxes): every video token, and each condition token whose canvas area
    holds a patch pixel (vc_core.condition_tokens.token_keep, what the pack's sparse mode keeps)."""
    from trainer.anchors import anchor_masks
    from vc_core.condition_tokens import Footprint, token_keep

    masks = []
    for anchors in rows:
        boxes = anchor_masks(anchors, SIZE, SIZE)
        keep = token_keep(Footprint.from_masks(boxes, (SIZE // 8, SIZE // 8)).tensor(), (2, 2))
        masks.append(torch.cat([torch.ones(video_tokens, dtype=torch.bool), keep.reshape(-1)]))
    return torch.stack(masks)[:, None, None, :]


def key_mask_attention(mask: torch.Tensor):
    """ComfyUI's attention override: self-attention (keys as long as the mask) reads only the kept
    keys. A token no other token reads and whose own output is dropped is exactly a dropped token:
    Wan's tokens meet only in self-attention, so this trains the sparse forward, batched."""
    # additive, finite: ComfyUI's CPU kernel (sub-quadratic) adds a bool mask as 0/1 and a fully
    # masked chunk of -inf would give NaN; exp(-1e4 + score) is exactly 0 in float32
    additive = torch.zeros(mask.shape).masked_fill(~mask, -1e4)

    def attention(func, *args, **kwargs):
        if args[1].shape[1] == mask.shape[-1]:
            kwargs["mask"] = additive.to(args[1])
        return func(*args, **kwargs)
    return attention


def sample_forward(model, variant, zt, t, cond, frames, device, anchors=None):
    """The model's output for n samples with the same number of anchors (frames: one tuple per row;
    anchors: the rows' trainer.anchors.Anchor lists, for `sparse`) and the loss weight per sample and
    latent frame (0 where a condition replaced the slot)."""
    from vc_core.paradigms.in_context import in_context_forward
    from vc_core.timing import causal_latent_slot
    from vc_core.wan_forward import ConditionLatents

    n = zt.shape[0]
    weight = torch.ones(n, 1, LATENT_FRAMES, 1, 1, device=device)
    context = torch.zeros(n, 1, 4096, device=device)  # the null prompt
    if cond is None:
        return model.forward_orig(zt, t * 1000, context, freqs=rope_video(model, device)), weight
    if variant == "replace":
        zt = zt.clone()
        t_frames = (t * 1000).view(-1, 1).repeat(1, LATENT_FRAMES)
        for r, row in enumerate(frames):
            for i, f in enumerate(row):
                s = causal_latent_slot(f, STRIDE)
                zt[r, :, s] = cond[r, :, i]
                t_frames[r, s] = 0
                weight[r, :, s] = 0  # a replaced slot is a condition: no loss on it
        return model.forward_orig(zt, t_frames, context, freqs=rope_video(model, device)), weight
    policy = "nearest" if variant == "nearest" else "interpolate"
    attention = "cached" if variant == "cached" else "two-way"  # the mask, never a cache here
    options = {}
    if variant == "sparse":
        video_tokens = LATENT_FRAMES * (SIZE // 16) ** 2
        options["optimized_attention_override"] = key_mask_attention(sparse_key_mask(anchors, video_tokens))
    out = in_context_forward(model, zt, t * 1000, context,
                             ConditionLatents(cond, frames[0], stride=STRIDE, row_frames=tuple(frames)),
                             policy, condition_attention=attention, transformer_options=options)
    return out, weight


_ROPE_CACHE = {}


def rope_video(model, device):
    from vc_core.paradigms.in_context import plan_in_context
    from vc_core.rope import rope_table

    if device not in _ROPE_CACHE:
        plan = plan_in_context(LATENT_FRAMES, (SIZE // 16, SIZE // 16), [], STRIDE)
        _ROPE_CACHE[device] = rope_table(plan.positions(), model.rope_embedder.axes_dim,
                                         model.rope_embedder.theta, device=device)
    return _ROPE_CACHE[device]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--variant", choices=sorted(DIT_FILES), default="icc")
    ap.add_argument("--minutes", type=float, default=44.0,
                    help="wall-clock budget from process start, data loading included")
    ap.add_argument("--steps", type=int, default=5000, help="0: as many as fit --minutes")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--clips", type=int, default=1024)
    ap.add_argument("--max-anchors", type=int, default=4)
    ap.add_argument("--pool", "--concat-pool", dest="pool", type=int, default=0,
                    help="concat / vace variants: pre-draw this many anchor sets per clip (CPU; concat "
                         "0: anew each step; vace needs a pool)")
    ap.add_argument("--vace-layers", type=int, default=VACE_LAYERS,
                    help="vace variant: control blocks, evenly beside the DiT's (ComfyUI: after every "
                         "num_layers // n-th block)")
    ap.add_argument("--vace-base", choices=("frozen", "trained"), default="trained",
                    help="vace variant: train the bundled DiT with the control blocks (the shipped model) "
                         "or keep it frozen (VACE's context adapter)")
    ap.add_argument("--count-per-step", action="store_true",
                    help="draw the anchor count once per step, not per sample (one forward a step)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--stop-after", type=int, default=None,
                    help="save and stop at this step, keeping the --steps schedule (to change it later)")
    ap.add_argument("--data-only", action="store_true", help="build the training set and stop")
    ap.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if present)")
    ap.add_argument("--name", default=None,
                    help="a run of the variant under another name: train_runs/dit_<name>, weights "
                         "train_runs/toy_t2v_<name>.safetensors (the shipped files stay as they are)")
    ap.add_argument("--layers", type=int, default=ARCH["num_layers"], help="DiT blocks (a depth lever)")
    ap.add_argument("--dim", type=int, default=ARCH["dim"],
                    help="DiT width, a multiple of 128 (ComfyUI reads heads as dim // 128); ffn 4x")
    args = ap.parse_args()
    if args.dim % 128 or args.dim < 128 or args.layers < 1:
        ap.error(f"--dim must be a positive multiple of 128 and --layers >= 1, got {args.dim}, {args.layers}")
    arch = {"dim": args.dim, "ffn_dim": 4 * args.dim, "num_layers": args.layers}
    if args.variant == "vace" and not args.pool:
        ap.error("--variant vace needs --pool N (N anchor sets per clip, encoded once)")

    started = time.monotonic()
    device = torch.device(args.device) if args.device else pick_device()
    data_file = dataset_path(args.clips)
    data = build_dataset(data_file, args.clips, device)
    if args.data_only:
        return
    vae = load_vae(device)
    encode, encode_video = condition_encoder(vae, device), video_encoder(vae, device)
    if args.variant in ("concat", "vace") and args.pool:
        pool_file = data_file.with_name(f"{data_file.stem}_{args.variant}_pool{args.pool}.safetensors")
        data = {**data, f"{args.variant}_pool": build_pool(pool_file, data, args.pool, args.max_anchors,
                                                                 encode_video, device, args.variant)}
    if args.variant == "plain":
        args.max_anchors = 0
    run = RunDir(ROOT / "train_runs" / f"dit_{args.name or args.variant}")
    out = ROOT / "train_runs" / f"toy_t2v_{args.name}.safetensors" if args.name else DIT_FILES[args.variant]
    torch.manual_seed(0)
    model = build_dit(seed=0, variant=args.variant, arch=arch, vace_layers=args.vace_layers)
    model = model.to(device).train()
    trained = list(model.parameters())
    if args.variant == "vace":
        trained = vace_adapter_(model, {k: v.float() for k, v in load_file(str(DIT_FILES["icc"])).items()},
                                freeze=args.vace_base == "frozen")
    opt = torch.optim.AdamW(trained, lr=args.lr, weight_decay=0.0)
    start = 0
    if args.resume and (meta := run.load_state(model, opt)):
        start, args.steps = meta["step"], meta.get("steps", args.steps)
    state = {"variant": args.variant, "arch": arch}
    if args.variant == "vace":
        state["vace_layers"] = args.vace_layers
    gen = torch.Generator().manual_seed(10_000 + start)
    deadline = started + args.minutes * 60
    budget = StepBudget(args.steps, deadline)
    done, ema = start, None
    step = start
    while step < min(budget.steps, args.stop_after or budget.steps):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, budget.steps, args.lr, warmup=200)
        idx = torch.randint(0, data["video"].shape[0], (args.batch,), generator=gen)
        loss, k = training_step(model, args.variant, data, idx, gen, args.max_anchors, device, encode,
                                encode_video, args.count_per_step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        opt.step()
        done = step + 1
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 50 == 0:
            run.log(step=step, loss=round(loss.item(), 4), ema=round(ema, 4), k=k,
                    lr=round(opt.param_groups[0]["lr"], 6))
        budget.after(step, run, start)
        if step % 500 == 499:
            run.save_state(model, opt, {"step": done, **state, "steps": budget.steps})
        if time.monotonic() > deadline:
            run.log(event="time budget reached", step=done)
            break
        step += 1
    run.save_state(model, opt, {"step": done, **state, "steps": budget.steps})
    export_weights(model, out, dtype=torch.float16)
    run.log(event="exported", path=str(out), step=done)


if __name__ == "__main__":
    main()
