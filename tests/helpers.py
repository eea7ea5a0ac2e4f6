"""What several test modules share: the pack's modules as ComfyUI loaded them, pieces of API-format
prompts. Test modules import from here and never from each other."""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent  # the checkout


def vcn(module: str):
    """`vc_nodes.<module>` of the pack as ComfyUI loaded it (under ComfyUI's name for its folder)."""
    from hostkit.inprocess import load_comfy_with_pack

    return importlib.import_module(f"{load_comfy_with_pack().__name__}.vc_nodes.{module}")


def timestamp_conditions(p: dict, frames: str) -> list:
    """A Patch Placer (p's "img" in the middle half, contained) and a Timestamp Conditioner at
    `frames` on p's "canvas"; returns the conditions' link."""
    p["place"] = {"class_type": "VideoCanvasPatchPlacer", "inputs": {
        "image": ["img", 0], "x": 0.25, "y": 0.25, "width": 0.5, "height": 0.5, "unit": "fraction",
        "fit": "contain", "feather": 0.0}}
    p["when"] = {"class_type": "VideoCanvasTimestampConditioner", "inputs": {
        "patch": ["place", 0], "frames": frames, "unit": "frames", "canvas": ["canvas", 0],
        "strength": 1.0}}
    return ["when", 0]


# --- A small graph for the server (tiny Wan, 48x32, 9 frames, 1 step) ----------------------------

_seeds = itertools.count(1000)
GRAPH_W, GRAPH_H, GRAPH_LENGTH = 48, 32, 9  # the server graph's canvas
_seeds = itertools.count(1000)


def graph(ckpt: dict, *, unet="wan21_t2v_tiny", vae="wan21_vae_tiny", width=GRAPH_W, height=GRAPH_H,
          length=GRAPH_LENGTH, image=(GRAPH_W, GRAPH_H), mask=None, box=(0.0, 0.0, 1.0, 1.0),
          unit="fraction", frames="0", conditions=True, sampler="VideoCanvasSampler", place_on_canvas=False,
          sampler_length=None) -> dict:
    """VideoCanvas Canvas (width, height, length) -> image (EmptyImage) -> Patch Placer (box,
    optional SolidMask; the canvas linked if place_on_canvas) -> Timestamp Conditioner (frames) ->
    VideoCanvas Sampler (or Conditioning + KSampler) on a tiny Wan -> Decode -> PreviewImage.
    sampler_length: the sampler gets a second canvas of this length (conditions planned on another
    canvas)."""
    unet_name = ckpt[unet] if unet in ckpt else unet
    p = {
        "canvas": {"class_type": "VideoCanvasCanvas", "inputs": {"width": width, "height": height,
                                                                 "length": length, "fps": 16.0}},
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": unet_name, "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": ckpt[vae]}},
        "text": {"class_type": "VideoCanvasNullPrompt", "inputs": {}},
        "rope": {"class_type": "VideoCanvasRoPEInterpolator", "inputs": {
            "model": ["unet", 0], "position_policy": "interpolate", "paradigm": "in_context"}},
        "img": {"class_type": "EmptyImage", "inputs": {"width": image[0], "height": image[1], "batch_size": 1,
                                                       "color": 0xC04020}},
        "place": {"class_type": "VideoCanvasPatchPlacer", "inputs": {
            "image": ["img", 0], "x": box[0], "y": box[1], "width": box[2], "height": box[3], "unit": unit,
            "fit": "stretch", "feather": 0.0}},
        "when": {"class_type": "VideoCanvasTimestampConditioner", "inputs": {
            "patch": ["place", 0], "frames": frames, "unit": "frames", "canvas": ["canvas", 0],
            "strength": 1.0}},
        "decode": {"class_type": "VideoCanvasDecode", "inputs": {
            "vae": ["vae", 0], "tile_size": 0, "paste_back": False, "feather": 0.0}},
        "show": {"class_type": "PreviewImage", "inputs": {"images": ["decode", 0]}},
    }
    if mask is not None:
        p["mask"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": mask[0], "height": mask[1]}}
        p["place"]["inputs"]["mask"] = ["mask", 0]
    if place_on_canvas:
        p["place"]["inputs"]["canvas"] = ["canvas", 0]
    size = {"canvas": ["canvas", 0], "batch_size": 1}
    if sampler_length is not None:
        p["other_canvas"] = {"class_type": "VideoCanvasCanvas", "inputs": {
            "width": width, "height": height, "length": sampler_length, "fps": 16.0}}
        size["canvas"] = ["other_canvas", 0]
    conds = {"conditions": ["when", 0]} if conditions else {}
    if sampler == "VideoCanvasSampler":
        p["sample"] = {"class_type": "VideoCanvasSampler", "inputs": {
            "model": ["rope", 0], "positive": ["text", 0], "negative": ["text", 0], "vae": ["vae", 0],
            **size, "seed": next(_seeds), "steps": 1, "cfg": 1.0, "sampler_name": "euler",
            "scheduler": "simple", "denoise": 1.0, **conds}}
    else:  # VideoCanvas Conditioning + ComfyUI's KSampler
        p["cond"] = {"class_type": "VideoCanvasConditioning", "inputs": {
            "positive": ["text", 0], "negative": ["text", 0], "vae": ["vae", 0], **size, **conds}}
        p["sample"] = {"class_type": "KSampler", "inputs": {
            "model": ["rope", 0], "seed": next(_seeds), "steps": 1, "cfg": 1.0, "sampler_name": "euler",
            "scheduler": "simple", "positive": ["cond", 0], "negative": ["cond", 1],
            "latent_image": ["cond", 2], "denoise": 1.0}}
    p["decode"]["inputs"]["latent"] = ["sample", 0]
    if not conditions:
        for key in ("img", "place", "when"):
            del p[key]
    return p


def refusal(err) -> tuple[str, str]:
    """(the node type blamed, the whole message a user sees) of a refused prompt."""
    if err.kind == "rejected":  # HTTP 400 from validation: node_errors name node and input
        blamed = {e["class_type"] for e in err.payload.get("node_errors", {}).values()}
        return ",".join(sorted(blamed)), json.dumps(err.payload)
    return err.payload.get("node_type", ""), err.payload.get("exception_message", "")


def serves_next_good_prompt(server, checkpoints) -> None:
    entry = server.run(graph(checkpoints), timeout=120)
    assert entry["status"]["status_str"] == "success"
    assert any(out.get("images") for out in entry["outputs"].values())


# --- Tiny Wan models through ComfyUI's loaders and samplers ----------------------------------------

TINY_W, TINY_H, TINY_LENGTH = 32, 32, 9  # 3 latent frames of 4x4 latents = 2x2 tokens each


def load(name, **options):
    """A diffusion model from ComfyUI's models folder, through its own loader."""
    import comfy.sd

    from hostkit.setup import comfy_dir

    path = comfy_dir() / "models" / "diffusion_models" / name
    return comfy.sd.load_diffusion_model(str(path), model_options=options)


def on_weights(module, x):
    """x on the device `module`'s weights are on (the GPU where ComfyUI loaded the model there)."""
    return x.to(next(module.parameters()).device)


def prompt(seed=0, tokens=4):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, tokens, 4096, generator=g), {}]]


def noise(channels=16, seed=0, length=TINY_LENGTH, size=(TINY_H, TINY_W)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, channels, (length - 1) // 4 + 1, size[0] // 8, size[1] // 8, generator=g)


def condition_latents(k=1, channels=16, seed=1, size=(TINY_H, TINY_W)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, channels, k, size[0] // 8, size[1] // 8, generator=g)


def ksampler(model, positive, negative, cfg=1.0, steps=2, length=TINY_LENGTH, size=(TINY_H, TINY_W), **kw):
    import comfy.sample

    start = noise(model.model.diffusion_model.out_dim, length=length, size=size)
    return comfy.sample.sample(model, start, steps, cfg, "euler", "simple", positive, negative,
                               torch.zeros_like(start), seed=0, disable_pbar=True, **kw)


def with_conditions(cond, latents, frames, strengths=None, stride=4, length=None):
    return vcn("conditions").attach_conditions(cond, latents, frames, strengths or [1.0] * len(frames),
                                               stride, length=length)


class Spy:
    """Captures block 0's inputs through ComfyUI's own block-replace patch mechanism."""

    def __init__(self, model):
        self.calls = []
        self.model = model.clone()
        self.model.set_model_patch_replace(self, "dit", "double_block", 0)

    def __call__(self, args, extra):
        call = {k: args[k].detach().clone() for k in ("img", "txt", "vec")}
        call["pe"] = args["pe"]  # the rope table is read-only: kept as the very object received
        call["cond_or_uncond"] = list(args["transformer_options"].get("cond_or_uncond", []))
        self.calls.append(call)
        return extra["original_block"](args)


# --- What reaches the diffusion model ------------------------------------------------------------

class Recorder:
    """Records every call of the diffusion model (ComfyUI's DIFFUSION_MODEL wrapper): its input x
    (noise channels, then the c_concat channels ComfyUI appended), timestep, context and the other
    keyword inputs; a clone of the model carries it."""

    def __init__(self, model):
        import comfy.patcher_extension as pe

        self.calls = []
        self.model = model.clone()
        self.model.add_wrapper_with_key(pe.WrappersMP.DIFFUSION_MODEL, "test-recorder", self)

    def __call__(self, executor, x, timestep, context, *args, **kwargs):
        # positional inputs named as the model's _forward names them (Wan: clip_fea, time_dim_concat,
        # transformer_options; LTX-Video: attention_mask, frame_rate, transformer_options, keyframe_idxs);
        # of transformer_options (its wrappers and uuids differ between runs by design) which rows are
        # cond/uncond and the step's sigma are compared
        names = list(inspect.signature(executor.original).parameters)[3:3 + len(args)]
        named = dict(zip(names, args, strict=True)) | kwargs
        call = {"x": x, "timestep": timestep, "context": context}
        for key, value in named.items():
            if key == "transformer_options":
                call["cond_or_uncond"] = list(value.get("cond_or_uncond", []))
                call["sigmas"] = value.get("sigmas")
            else:
                call[key] = value
        # on the CPU: the assertions compare with CPU tensors (the suite also runs on CUDA)
        self.calls.append({k: v.detach().to("cpu", copy=True) if isinstance(v, torch.Tensor) else v
                           for k, v in call.items()})
        return executor(x, timestep, context, *args, **kwargs)


def recorded_ksampler(model, positive, negative, latent, seed, steps, cfg):
    """ComfyUI's own KSampler path (common_ksampler, euler / simple) on a Recorder'd clone of `model`:
    (the sampled latent, every diffusion-model call's inputs)."""
    import nodes as comfy_nodes

    rec = Recorder(model)
    out = comfy_nodes.common_ksampler(rec.model, seed, steps, cfg, "euler", "simple", positive, negative,
                                      latent)[0]
    return out["samples"], rec.calls


def assert_same_calls(ours, native):
    assert len(ours) == len(native) > 0
    for a, b in zip(ours, native, strict=True):
        assert set(a) == set(b)
        for key in a:
            if isinstance(a[key], torch.Tensor):
                assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key
            else:
                assert a[key] == b[key], key


# --- The reference for sparse and cached condition tokens -----------------------------------------
# The reference for sparse and cached condition tokens: ComfyUI's own `WanModel.forward_orig` on the
# fully assembled sequence (video + every condition token), with its self-attention restricted by a
# mask through ComfyUI's `optimized_attention_override` hook. Nothing of vc_core.condition_tokens runs.
#
# - dropping a token = no query may attend to it (its own output is discarded with the conditions);
# - cached attention = condition queries may not attend to video keys.

def allowed_mask(video_tokens: int, condition_tokens: int, dropped=None, condition_sees_video=True):
    """[L, L] bool, True where query row may attend to key column."""
    n = video_tokens + condition_tokens
    allowed = torch.ones(n, n, dtype=torch.bool)
    if not condition_sees_video:
        allowed[video_tokens:, :video_tokens] = False
    if dropped is not None:
        allowed[:, video_tokens + torch.as_tensor(dropped)] = False
        # a dropped token's own row must see something (its output is discarded anyway)
        allowed[video_tokens + torch.as_tensor(dropped), video_tokens + torch.as_tensor(dropped)] = True
    return allowed


def masked_forward(wan, x_cat, t_cat, context, freqs, allowed):
    """(video+condition output of forward_orig under the mask, per-block self-attention (k, v))."""
    recorded = []

    def override(func, *args, **kwargs):
        q, k, v = args[:3]
        if k.shape[1] != allowed.shape[1]:  # cross-attention to the text
            return func(*args, **kwargs)
        recorded.append((k.detach().clone(), v.detach().clone()))
        heads = kwargs["heads"]
        b, n, hd = q.shape
        qh, kh, vh = (t.reshape(b, -1, heads, hd // heads).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=allowed.to(q.device))
        return out.transpose(1, 2).reshape(b, n, hd)

    with torch.no_grad():
        out = wan.forward_orig(x_cat, t_cat, context, freqs=freqs,
                               transformer_options={"optimized_attention_override": override})
    return out, recorded
