"""The task recipes: one Python description per VideoCanvas task, built for the bundled toy model
(runs as shipped) and for real Wan, as `Graph`s (templates/graph.py) that `build_all` turns into
both file formats (scripts/build_workflows.py writes them to example_workflows/).

The example inputs the templates load live in `example_workflows/inputs/` (toy_models/example_inputs.py
makes them; the pack copies them into ComfyUI's input folder as it loads). `build_all` takes the
nodes' definitions (ComfyUI's /object_info) as `info`; everything else is plain Python.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .graph import WORKFLOWS_DIR, Graph, Node, Out, dumps, to_api, to_ui

# ComfyUI's repackaged Wan files (what its own templates use), with where they come from.
_WAN21 = "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files"
_WAN22 = "https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files"


def _repackaged(base: str, folder: str, name: str) -> tuple[str, str]:
    return folder, f"{base}/{folder}/{name}"


# {file name: (models folder, download URL)}: what a loader's properties link to
MODEL_FILES = {name: _repackaged(base, folder, name) for name, folder, base in (
    ("wan2.1_t2v_1.3B_fp16.safetensors", "diffusion_models", _WAN21),
    ("wan2.1_t2v_14B_fp16.safetensors", "diffusion_models", _WAN21),
    ("wan2.2_ti2v_5B_fp16.safetensors", "diffusion_models", _WAN22),
    ("wan_2.1_vae.safetensors", "vae", _WAN21),
    ("wan2.2_vae.safetensors", "vae", _WAN22),
    ("umt5_xxl_fp8_e4m3fn_scaled.safetensors", "text_encoders", _WAN21),
    ("wan2.1_i2v_480p_14B_fp16.safetensors", "diffusion_models", _WAN21),
    ("clip_vision_h.safetensors", "clip_vision", _WAN21),
    ("wan2.1_vace_1.3B_fp16.safetensors", "diffusion_models", _WAN21),
)} | {
    # LTX-Video: Lightricks' 2B checkpoint (its VAE inside) and T5-XXL, the files ComfyUI's own LTXV
    # examples load
    "ltx-video-2b-v0.9.5.safetensors": (
        "checkpoints", "https://huggingface.co/Lightricks/LTX-Video/resolve/main/ltx-video-2b-v0.9.5.safetensors"),
    "t5xxl_fp16.safetensors": (
        "text_encoders", "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/"
                         "t5xxl_fp16.safetensors"),
}

# Wan's usual negative prompt (as in ComfyUI's own Wan templates)
NEGATIVE_PROMPT = ("色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，"
                   "最差质量，低质量，JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，"
                   "画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，"
                   "杂乱的背景，三条腿，背景人很多，倒着走")

# LTX-Video's usual negative prompt (as in ComfyUI's own LTXV examples)
LTX_NEGATIVE_PROMPT = ("low quality, worst quality, deformed, distorted, disfigured, motion smear, motion "
                       "artifacts, fused fingers, bad anatomy, weird hand, ugly")

# the prompt nodes tinted green and red: the two told apart at a glance
POSITIVE_COLOR = ("#232", "#353")
NEGATIVE_COLOR = ("#322", "#533")


# ------------------------------------------------------------------------------ workflow pieces


@dataclass(frozen=True)
class Models:
    """What a template runs on, and the canvas and sampler settings that suit it."""

    label: str            # the file-name suffix, e.g. "Toy model", "Wan 2.1 1.3B"
    unet: str
    vae: str
    width: int
    height: int
    length: int
    fps: float
    steps: int
    cfg: float
    text: bool            # umt5 text encoder and prompts (real Wan) or VideoCanvas Null Prompt (toy)
    seed: int = 42
    # "wan": a diffusion model and VAE file; "ltx": an LTX-Video checkpoint (`unet`) with its VAE inside
    family: str = "wan"

    @property
    def bundled(self) -> bool:
        return self.unet in TOY_UNETS

    def frame(self, at: float) -> int:
        """The frame at fraction `at` of the video (0 = first, 1 = last)."""
        return round(at * (self.length - 1))

    def frames(self, real: int, toy: int) -> int:
        """A frame count: `real` on a real Wan canvas, `toy` on the toy model's."""
        return toy if self.bundled else real


TOY_UNET, TOY_VAE = "videocanvas_toy_t2v.safetensors", "videocanvas_toy_vae.safetensors"
# The bundled toy model (models/, trained by toy_models/): 64x64, 17 frames, no text (Null Prompt),
# cfg 1; 20 steps take about a second on a CPU. Seed 0: the one models/MODEL_CARD.md measures with.
TOY = Models("Toy model", TOY_UNET, TOY_VAE, 64, 64, 17, 16.0, 20, 1.0, text=False, seed=0)
WAN21 = Models("Wan 2.1 1.3B", "wan2.1_t2v_1.3B_fp16.safetensors", "wan_2.1_vae.safetensors",
               832, 480, 81, 16.0, 30, 5.0, text=True)
WAN22 = Models("Wan 2.2 5B", "wan2.2_ti2v_5B_fp16.safetensors", "wan2.2_vae.safetensors",
               1280, 704, 121, 24.0, 30, 5.0, text=True)
# The bundled toy image-to-video model: the toy's channel-concatenation variant, in Wan's 36-channel
# image-to-video format without an image embedding (as Wan 2.2 A14B I2V), trained on VideoCanvas
# conditions at any frame (models/MODEL_CARD.md)
TOY_I2V = dataclasses.replace(TOY, unet="videocanvas_toy_i2v.safetensors")
# The bundled toy VACE model: the toy DiT and three VACE control blocks beside it, trained together on
# the toy's data, in Wan 2.1 VACE's format (models/MODEL_CARD.md)
TOY_VACE = dataclasses.replace(TOY, label="Toy model, VACE", unet="videocanvas_toy_vace.safetensors")
TOY_UNETS = {TOY_UNET, TOY_I2V.unet, TOY_VACE.unet}
# Wan 2.1 image-to-video 480p (36 channels: noise + mask + image latent), as ComfyUI's own I2V
# template runs it
WAN21_I2V = Models("Wan 2.1 I2V 480p", "wan2.1_i2v_480p_14B_fp16.safetensors", "wan_2.1_vae.safetensors",
                   832, 480, 81, 16.0, 30, 5.0, text=True)
I2V_UNETS = {WAN21_I2V.unet}
# Wan 2.1 VACE 1.3B: conditions through VACE's control video and mask (README: Wan VACE models)
WAN21_VACE = dataclasses.replace(WAN21, label="Wan 2.1 VACE 1.3B", unet="wan2.1_vace_1.3B_fp16.safetensors")
VACE_UNETS = {WAN21_VACE.unet}
# LTX-Video 0.9.5 2B: conditions as LTX's own guides (README: LTX-Video models); 768x512, 97 frames at
# 25 fps, 30 steps at cfg 3 with LTX's shift (ModelSamplingLTXV), as ComfyUI's own LTXV examples
LTXV = Models("LTX-Video 2B", "ltx-video-2b-v0.9.5.safetensors", "", 768, 512, 97, 25.0, 30, 3.0,
              text=True, family="ltx")


@dataclass(frozen=True)
class Workflow:
    name: str          # the file name (without .json): the template browser's card title
    key: str           # the task, shared by the two twins (e.g. "01_i2v_any_frame")
    title: str
    description: str   # one line, first line of the template's Note
    models: Models
    build: Callable[[], Graph]
    # frames of the saved video, from the API prompt and the frame count of the input clips
    output_frames: Callable[[dict, int], int]
    thumbnail_key: str = ""  # the task whose toy video makes this card's thumbnail (default: key)

    @property
    def bundled(self) -> bool:
        return self.models.bundled

    @property
    def vace(self) -> bool:
        return self.models.unet in VACE_UNETS | {TOY_VACE.unet}


WORKFLOWS: dict[str, Workflow] = {}
RECIPES: dict[str, Callable[[Models, str], Graph]] = {}  # task key -> its recipe


def thumbnail_source(name: str) -> str:
    """The bundled template whose video makes this template's card thumbnail: the toy template of its
    thumbnail_key on the same kind of model (the toy VACE model's for a VACE template)."""
    w = WORKFLOWS[name]
    (source,) = [n for n, o in WORKFLOWS.items()
                 if o.bundled and o.key == w.thumbnail_key and o.vace == w.vace]
    return source


def _inputs_of(prompt: dict, class_type: str) -> list[dict]:
    return [n["inputs"] for _, n in sorted(prompt.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit()
                                           else 1 << 30) if n["class_type"] == class_type]


def canvas(prompt: dict) -> tuple[int, int, int]:
    """(width, height, length) of the prompt's VideoCanvas Canvas."""
    for inputs in _inputs_of(prompt, "VideoCanvasCanvas"):
        return inputs["width"], inputs["height"], inputs["length"]
    raise KeyError("no VideoCanvasCanvas in this prompt")


def _frames_length(prompt: dict, clip_frames: int) -> int:
    return canvas(prompt)[2]


def template_name(number: int, title: str, models: Models) -> str:
    """'VideoCanvas 01 Image to video at any frame (Toy model)': the frontends 1.32.9 to 1.48.7 show
    a custom node template's file name as its card title (and again, '-'/'_' as spaces, as its
    description), search nothing else of it, and list the files in the server's directory order
    unless sorted by name: the leading word makes the pack's templates found by searching
    "videocanvas" in the template browser, the number keeps the order, the suffix tells the twins
    apart."""
    return f"VideoCanvas {number:02d} {title} ({models.label})"


def workflow(number: int, key: str, title: str, description: str, models=(TOY, WAN21, LTXV),
             output_frames=_frames_length, thumbnail_key: str = ""):
    """Register one task: a template per model (the bundled toy model first, then real Wan, then
    LTX-Video). The recipe itself stays callable on other models (tests build a template's graph on
    the tiny checkpoints: RECIPES[key])."""
    def register(build: Callable[[Models, str], Graph]) -> Callable[[Models, str], Graph]:
        RECIPES[key] = build
        for m in models:
            name = template_name(number, title, m)
            WORKFLOWS[name] = Workflow(name, key, title, description, m,
                                       lambda m=m, name=name: build(m, name), output_frames,
                                       thumbnail_key or key)
        return build
    return register


def models_note(m: Models) -> str:
    if m.family == "ltx":
        return (
            "Models (links in the loaders' properties):\n"
            f"- checkpoints/{m.unet} (Lightricks' LTX-Video 2B, its VAE inside; 0.9.5 or later, which "
            "were trained with keyframes at any frame; the later 2B / 13B dev and distilled files work "
            "with the same graph)\n"
            "- text_encoders/t5xxl_fp16.safetensors\n"
            "LTX-Video was trained to read conditions the VideoCanvas way: each one clean latent tokens "
            "appended to the video's at its own frame (ComfyUI's LTXVAddGuide). Here every condition is "
            "such a guide: a full image at a frame is exactly LTXVAddGuide's (any frame, not only 8n+1); "
            "partial patches (their zero canvas around them) and each frame of a clip as a guide of its "
            "own are zero-shot on the public weights. No RoPE Interpolator: LTX reads its guides as it "
            "is; VideoCanvas Decode crops them off. Sizes are multiples of 32 and lengths 8k+1, set "
            "once, in the VideoCanvas Canvas node.")
    if m.unet == TOY_VACE.unet:
        return ("Runs as shipped on the pack's bundled toy VACE model (models/: the toy model with VACE "
                "control blocks trained beside it, 64x64, 17 frames, no text: VideoCanvas Null Prompt "
                "stands in for the prompts) with the pack's example inputs: press Run. The same nodes "
                "drive it as the toy model's template: the pack sees the control blocks and composites "
                "the conditions into VACE's control video and mask at their exact frames. For real "
                "videos open this template's Wan 2.1 VACE twin.")
    if m.bundled:
        return ("Runs as shipped on the pack's bundled toy model (models/: a tiny Wan-architecture model "
                "trained on procedural clips, 64x64, 17 frames, no text: VideoCanvas Null Prompt "
                "stands in for the prompts) with the pack's example inputs: press Run. Its videos "
                "are small and simple; for real videos open this template's Wan twin. Size, length "
                "and fps are set once, in the VideoCanvas Canvas node.")
    if m.unet in VACE_UNETS:
        return (
            "Models (ComfyUI's repackaged Wan files; links in the loaders' properties):\n"
            f"- diffusion_models/{m.unet} (or wan2.1_vace_14B_fp16.safetensors: same graph, e.g. "
            "1280x720)\n"
            f"- vae/{m.vae}\n"
            "- text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors\n"
            "Wan VACE was trained to follow content at any frame and region: the pack composites the "
            "conditions into VACE's control video at their exact frames, with its mask (each condition "
            "known in the latent frame that holds it). Zero-shot on VACE: a single frame inside a "
            "latent frame marked known, strength below 1. Size, length and fps are set once, in the "
            "VideoCanvas Canvas node.")
    other = ("Wan 2.2 TI2V-5B works too: diffusion_models/wan2.2_ti2v_5B_fp16.safetensors with "
             "vae/wan2.2_vae.safetensors, sizes multiples of 32 (e.g. 1280x704, 121 frames at 24 fps)."
             if m.unet.startswith("wan2.1") else
             "Wan 2.1 works too: wan2.1_t2v_1.3B_fp16.safetensors with wan_2.1_vae.safetensors "
             "(e.g. 832x480, 81 frames at 16 fps).")
    big = (" (or wan2.1_t2v_14B_fp16.safetensors: same graph, better quality, e.g. 1280x720)"
           if m.unet == "wan2.1_t2v_1.3B_fp16.safetensors" else "")
    return (
        "Models (ComfyUI's repackaged Wan files; links in the loaders' properties):\n"
        f"- diffusion_models/{m.unet}{big}\n"
        f"- vae/{m.vae}\n"
        "- text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors\n"
        f"{other} No public Wan checkpoint has been fine-tuned the VideoCanvas way yet: a stock T2V "
        "model follows the conditions only loosely (the paper fine-tunes Wan 2.1 14B). "
        "Size, length and fps are set once, in the VideoCanvas Canvas node.")


def note(g: Graph, m: Models, description: str, body: str) -> None:
    g.note(f"{description}\n\n{body}\n\n{models_note(m)}")


@dataclass
class Wan:
    """The model, VAE and prompts every template feeds the sampler, and the graph's canvas."""

    model: Out
    vae: Out
    positive: Out
    negative: Out
    canvas: Node


def models(g: Graph, m: Models, prompt: str) -> Wan:
    if m.family == "ltx":
        return ltx_models(g, m, prompt)
    unet = g.add("UNETLoader", title="Load diffusion model", unet_name=m.unet, weight_dtype="default")
    vae = g.add("VAELoader", title="Load VAE", vae_name=m.vae)
    if m.text:
        clip = g.add("CLIPLoader", title="Load umt5 text encoder",
                     clip_name="umt5_xxl_fp8_e4m3fn_scaled.safetensors", type="wan", device="default")
        pos = g.add("CLIPTextEncode", title="Positive prompt", ui_color=POSITIVE_COLOR, text=prompt,
                    clip=clip.out).out
        neg = g.add("CLIPTextEncode", title="Negative prompt", ui_color=NEGATIVE_COLOR,
                    text=NEGATIVE_PROMPT, clip=clip.out).out
    else:  # the toy model was trained without text
        pos = neg = g.add("VideoCanvasNullPrompt", title="Null prompt (the toy model has no text)").out
    model = g.add("VideoCanvasRoPEInterpolator", model=unet.out, position_policy="interpolate",
                  paradigm="in_context")
    size = g.add("VideoCanvasCanvas", title="Canvas: size, length, fps (set once)", width=m.width,
                 height=m.height, length=m.length, fps=float(m.fps))
    return Wan(model.out, vae.out, pos, neg, size)


def ltx_models(g: Graph, m: Models, prompt: str) -> Wan:
    """LTX-Video's loaders as ComfyUI's own LTXV examples: the checkpoint (model and VAE), T5-XXL, the
    frame rate on both prompts (LTXVConditioning: LTX's positions are in seconds; the Canvas's fps)
    and LTX's shift (ModelSamplingLTXV). Without text (the tiny test checkpoint): Null Prompt."""
    ckpt = g.add("CheckpointLoaderSimple", title="Load LTX-Video checkpoint (model and VAE)",
                 ckpt_name=m.unet)
    size = g.add("VideoCanvasCanvas", title="Canvas: size, length, fps (set once)", width=m.width,
                 height=m.height, length=m.length, fps=float(m.fps))
    if m.text:
        clip = g.add("CLIPLoader", title="Load T5-XXL text encoder", clip_name="t5xxl_fp16.safetensors",
                     type="ltxv", device="default")
        pos = g.add("CLIPTextEncode", title="Positive prompt", ui_color=POSITIVE_COLOR, text=prompt,
                    clip=clip.out).out
        neg = g.add("CLIPTextEncode", title="Negative prompt", ui_color=NEGATIVE_COLOR,
                    text=LTX_NEGATIVE_PROMPT, clip=clip.out).out
    else:
        pos = neg = g.add("VideoCanvasNullPrompt", title="Null prompt (no text encoder)").out
    rate = g.add("LTXVConditioning", title="Frame rate (the Canvas's fps)", positive=pos, negative=neg,
                 frame_rate=size[4])
    model = g.add("ModelSamplingLTXV", title="LTX-Video's shift", model=ckpt[0], max_shift=2.05,
                  base_shift=0.95)
    return Wan(model.out, ckpt[2], rate[0], rate[1], size)


def layout_preview(g: Graph, wan: Wan, conditions: Out) -> None:
    # runs as soon as the conditions are made, before sampling: where and when each one sits
    strip = g.add("VideoCanvasLayoutPreview", conditions=conditions, canvas=wan.canvas.out,
                  thumb_height=96)
    g.add("PreviewImage", title="Layout: where and when each condition sits", images=strip.out)


def sample_decode(g: Graph, wan: Wan, m: Models, conditions: Out, paste_back=False) -> Out:
    layout_preview(g, wan, conditions)
    sampler = g.add("VideoCanvasSampler", model=wan.model, positive=wan.positive, negative=wan.negative,
                    vae=wan.vae, canvas=wan.canvas.out, batch_size=1, seed=m.seed, steps=m.steps,
                    cfg=m.cfg, sampler_name="euler", scheduler="simple", denoise=1.0,
                    conditions=conditions)
    decode = g.add("VideoCanvasDecode", vae=wan.vae, latent=sampler[0], tile_size=0,
                   paste_back=paste_back, feather=4.0, conditions=conditions)
    return decode.out


def save_video(g: Graph, wan: Wan, images: Out, key: str) -> None:
    video = g.add("CreateVideo", images=images, fps=wan.canvas[4])  # the canvas's fps
    g.add("SaveVideo", video=video.out, filename_prefix=f"video/videocanvas_{key}", format="auto",
          codec="auto")


def load_image(g: Graph, filename: str, title: str) -> Node:
    return g.add("LoadImage", title=title, image=filename)


def load_clip(g: Graph, filename: str, title: str) -> Out:
    video = g.add("LoadVideo", title=title, file=filename)
    return g.add("GetVideoComponents", video=video.out)[0]


def full_frame(g: Graph, wan: Wan, image: Out, title: str | None = None) -> Out:
    return g.add("VideoCanvasPatchPlacer", title=title, image=image, x=0.0, y=0.0, width=1.0, height=1.0,
                 unit="fraction", fit="cover", feather=0.0, canvas=wan.canvas.out).out


def at_frames(g: Graph, wan: Wan, patch: Out, frames: str, conditions: Out | None = None,
              title=None) -> Out:
    extra = {"conditions": conditions} if conditions is not None else {}
    return g.add("VideoCanvasTimestampConditioner", title=title, patch=patch, frames=frames, unit="frames",
                 canvas=wan.canvas.out, strength=1.0, **extra).out


def scaled_clip(g: Graph, wan: Wan, clip: Out) -> Out:
    return g.add("ImageScale", title="Clip to the canvas size", image=clip, upscale_method="bilinear",
                 width=wan.canvas[1], height=wan.canvas[2], crop="center").out


def frames_from(g: Graph, images: Out, first: int, title: str, length: int | Out = 4096) -> Out:
    return g.add("ImageFromBatch", title=title, image=images, batch_index=first, length=length).out


# ----------------------------------------------------------------------------------- the tasks


@workflow(1, "01_i2v_any_frame", "Image to video at any frame",
          "One image held at any frame of the video, not only the first.")
def i2v_any_frame(m: Models, name: str) -> Graph:
    g = Graph(name)
    note(g, m, WORKFLOWS[name].description,
         "The Timestamp Conditioner's frames say when (here the middle frame; try 0, -1, or '0, -1' "
         "for a still at both ends); any frame works, not only multiples of 4.")
    wan = models(g, m, "a red fox trotting through fresh snow in a quiet pine forest, soft morning "
                 "light, cinematic")
    image = load_image(g, "videocanvas_keyframe.png", "Keyframe image")
    conditions = at_frames(g, wan, full_frame(g, wan, image.out), str(m.frame(0.5)),
                           title="When the image holds")
    save_video(g, wan, sample_decode(g, wan, m, conditions), WORKFLOWS[name].key)
    return g


@workflow(2, "02_first_last_frame", "First and last frame (KSampler)",
          "A first and a last frame, sampled by ComfyUI's own KSampler.",
          models=(TOY, WAN21, TOY_VACE, WAN21_VACE, LTXV))
def first_last_frame(m: Models, name: str) -> Graph:
    g = Graph(name)
    note(g, m, WORKFLOWS[name].description,
         "VideoCanvas Conditioning appends the two keyframes (each encoded on its own, as a single "
         "image) to the empty video latent as LTX guides and writes their frames on both prompts, as "
         "LTXVAddGuide does; KSampler samples them as they are and VideoCanvas Decode crops them off "
         "(as LTXVCropGuides). The same works with KSamplerAdvanced and SamplerCustomAdvanced."
         if m.family == "ltx" else
         "VideoCanvas Conditioning attaches the two keyframes (each encoded on its own, as a single "
         "image) to both prompts and makes the empty video latent; the model goes through VideoCanvas "
         "RoPE Interpolator. The same conditions work with KSamplerAdvanced and SamplerCustomAdvanced "
         "(Wan 2.2 A14B: patch both experts).")
    wan = models(g, m, "a paper boat drifting down a rain-soaked street, the camera slowly following it")
    first = load_image(g, "videocanvas_first.png", "First frame")
    last = load_image(g, "videocanvas_last.png", "Last frame")
    conditions = at_frames(g, wan, full_frame(g, wan, first.out), "0", title="First frame")
    conditions = at_frames(g, wan, full_frame(g, wan, last.out), "-1", conditions, title="Last frame")
    layout_preview(g, wan, conditions)
    cond = g.add("VideoCanvasConditioning", positive=wan.positive, negative=wan.negative, vae=wan.vae,
                 canvas=wan.canvas.out, batch_size=1, conditions=conditions)
    latent = g.add("KSampler", model=wan.model, seed=m.seed, steps=m.steps, cfg=m.cfg,
                   sampler_name="uni_pc" if m.text and m.family == "wan" else "euler",
                   scheduler="simple",
                   positive=cond[0], negative=cond[1], latent_image=cond[2], denoise=1.0)
    decode = g.add("VideoCanvasDecode", vae=wan.vae, latent=latent.out, tile_size=0, paste_back=False,
                   feather=4.0, conditions=conditions)
    save_video(g, wan, decode.out, WORKFLOWS[name].key)
    return g


def three_keyframes(g: Graph, m: Models, wan):
    """The start, middle and end keyframe images, each held at its frame (first, middle, last)."""
    conditions = None
    for filename, frames, label in (("videocanvas_key_start.png", "0", "Start"),
                                    ("videocanvas_key_middle.png", str(m.frame(0.5)), "Middle"),
                                    ("videocanvas_key_end.png", "-1", "End")):
        image = load_image(g, filename, f"{label} keyframe")
        conditions = at_frames(g, wan, full_frame(g, wan, image.out), frames, conditions,
                               title=f"When the {label.lower()} keyframe holds")
    return conditions


@workflow(3, "03_keyframes", "Keyframes", "Three keyframes: the first, the middle and the last frame.")
def keyframes(m: Models, name: str) -> Graph:
    g = Graph(name)
    note(g, m, WORKFLOWS[name].description,
         "Chain one Timestamp Conditioner per keyframe to add more; any frame works, not only "
         "multiples of 4 (frame 41 sits at temporal position 10.25).")
    wan = models(g, m, "a hot air balloon rising over a valley at sunrise, drifting across the frame")
    conditions = three_keyframes(g, m, wan)
    save_video(g, wan, sample_decode(g, wan, m, conditions), WORKFLOWS[name].key)
    return g


@workflow(4, "04_patch_to_video", "Patches to video",
          "Partial patches (an object cut-out, a crop) at chosen places and times.")
def patch_to_video(m: Models, name: str) -> Graph:
    g = Graph(name)
    note(g, m, WORKFLOWS[name].description,
         "The model completes everything else.\n- An object cut-out (a PNG with transparency: "
         "LoadImage's MASK is 1 where transparent, so Invert Mask keeps the object) on the left at "
         "the first frame and on the right at the last: the object crosses the scene.\n- A crop of a "
         "photo (Image Crop, in the photo's pixels) as the top strip in the middle.\nBoxes are "
         "fractions of the canvas (unit 'px' for pixels).")
    wan = models(g, m, "a small yellow rubber duck floating across a pond, ripples on the water, "
                       "overcast sky")
    obj = load_image(g, "videocanvas_object.png", "Object cut-out (PNG with alpha)")
    keep = g.add("InvertMask", title="Keep the object (invert the alpha mask)", mask=obj[1])
    left = g.add("VideoCanvasPatchPlacer", title="Object, left box", image=obj[0], x=0.05, y=0.35,
                 width=0.3, height=0.5, unit="fraction", fit="contain", feather=2.0, mask=keep.out,
                 canvas=wan.canvas.out)
    right = g.add("VideoCanvasPatchPlacer", title="Object, right box", image=obj[0], x=0.65, y=0.35,
                  width=0.3, height=0.5, unit="fraction", fit="contain", feather=2.0, mask=keep.out,
                  canvas=wan.canvas.out)
    photo = load_image(g, "videocanvas_keyframe.png", "Photo to crop from")
    crop = g.add("ImageCrop", title="Crop (photo pixels)", image=photo[0], width=256, height=96, x=0, y=0)
    strip = g.add("VideoCanvasPatchPlacer", title="Crop, top strip", image=crop.out, x=0.0, y=0.0,
                  width=1.0, height=0.33, unit="fraction", fit="cover", feather=4.0, canvas=wan.canvas.out)
    conditions = at_frames(g, wan, left.out, "0", title="When the object is on the left")
    conditions = at_frames(g, wan, right.out, "-1", conditions, title="When the object is on the right")
    conditions = at_frames(g, wan, strip.out, str(m.frame(0.5)), conditions, title="When the crop holds")
    save_video(g, wan, sample_decode(g, wan, m, conditions), WORKFLOWS[name].key)
    return g


@workflow(5, "05_inpaint", "Video inpainting", "A clip with a hole (a mask) that the model fills.",
          models=(TOY, WAN21, TOY_VACE, WAN21_VACE, LTXV))
def inpaint(m: Models, name: str) -> Graph:
    g = Graph(name)
    note(g, m, WORKFLOWS[name].description,
         "Every kept frame of the clip is a condition holding what the mask leaves (mask: white = "
         "hole, at the clip's own size; one mask for all frames). The clip is used from its first "
         "frame, at most the canvas's length (Image From Batch); use a clip with the canvas's aspect. "
         "every_nth 1 conditions every frame (the paper; the costly case: each condition adds a full "
         "frame of tokens), 2 or 4 is much cheaper. Paste-back keeps the untouched area of the "
         "conditioned frames bit-exact.")
    wan = models(g, m, "a quiet street, empty pavement, parked bicycles, afternoon light")
    clip = frames_from(g, load_clip(g, "videocanvas_clip.mp4", "Clip to inpaint"), 0,
                       "At most the canvas's length", length=wan.canvas[3])
    mask = g.add("LoadImageMask", title="Hole mask (white = generate)", image="videocanvas_mask.png",
                 channel="red")
    conditions = g.add("VideoCanvasInpaint", video=clip, mask=mask.out, canvas=wan.canvas.out,
                       start_frame=0, every_nth=2, strength=1.0).out
    save_video(g, wan, sample_decode(g, wan, m, conditions, paste_back=True), WORKFLOWS[name].key)
    return g


@workflow(6, "06_outpaint", "Video outpainting", "A clip in a box of a larger canvas; the model "
          "paints the surroundings.", models=(TOY, WAN21, TOY_VACE, WAN21_VACE, LTXV))
def outpaint(m: Models, name: str) -> Graph:
    g = Graph(name)
    note(g, m, WORKFLOWS[name].description,
         "Each kept frame of the clip is placed in the middle box of the canvas (x, y, width, height: "
         "fractions of the canvas); a square clip becomes a landscape video on a wide canvas. "
         "every_nth 2 conditions every other frame (1 = every frame, the paper's dense setting, "
         "costlier).")
    wan = models(g, m, "a wide view of a harbour at dusk, boats, lights reflecting on the water")
    clip = frames_from(g, load_clip(g, "videocanvas_clip.mp4", "Clip to outpaint"), 0,
                       "At most the canvas's length", length=wan.canvas[3])
    conditions = g.add("VideoCanvasOutpaint", video=clip, canvas=wan.canvas.out, x=0.25, y=0.0,
                       width=0.5, height=1.0, fit="contain", feather=8.0 if m.text else 2.0,
                       start_frame=0, every_nth=2, strength=1.0).out
    save_video(g, wan, sample_decode(g, wan, m, conditions), WORKFLOWS[name].key)
    return g


@workflow(7, "07_camera_pan", "Camera pan", "One image seen through a camera panning across it.")
def camera_pan(m: Models, name: str) -> Graph:
    g = Graph(name)
    note(g, m, WORKFLOWS[name].description,
         "The window moves from right to left over the image (centre x 0.65 -> 0.35 of the canvas at "
         "zoom 1.6, so the image always covers it), as conditions on every n-th frame; the model fills "
         "the motion in between. Choose every_nth dividing length - 1 for an even speed.")
    wan = models(g, m, "a mountain lake panorama, snowy peaks, slow sideways camera pan")
    image = load_image(g, "videocanvas_keyframe.png", "Image to pan across")
    conditions = g.add("VideoCanvasCameraMove", image=image.out, canvas=wan.canvas.out, start_x=0.65,
                       start_y=0.5, start_zoom=1.6, end_x=0.35, end_y=0.5, end_zoom=1.6,
                       easing="ease_in_out", every_nth=m.frames(8, 4), feather=0.0, strength=1.0).out
    save_video(g, wan, sample_decode(g, wan, m, conditions), WORKFLOWS[name].key)
    return g


@workflow(8, "08_camera_zoom", "Camera zoom-out", "One image the camera pulls back from; the model "
          "paints the widening surroundings.", models=(TOY, WAN22, LTXV))
def camera_zoom(m: Models, name: str) -> Graph:
    g = Graph(name)
    note(g, m, WORKFLOWS[name].description,
         "The image starts filling the frame (zoom 1.2) and shrinks to half (0.5), as conditions on "
         "every n-th frame." + (" Wan 2.2 TI2V-5B: 48-channel latents (its own VAE), sizes multiples "
                               "of 32, 24 fps." if m.text and m.family == "wan" else ""))
    wan = models(g, m, "a lighthouse on a cliff above the sea, the camera slowly pulling back to reveal "
                       "the coast")
    image = load_image(g, "videocanvas_keyframe.png", "Image to zoom out from")
    conditions = g.add("VideoCanvasCameraMove", image=image.out, canvas=wan.canvas.out, start_x=0.5,
                       start_y=0.5, start_zoom=1.2, end_x=0.5, end_y=0.5, end_zoom=0.5, easing="linear",
                       every_nth=m.frames(8, 4), feather=4.0 if m.text else 1.0, strength=1.0).out
    save_video(g, wan, sample_decode(g, wan, m, conditions), WORKFLOWS[name].key)
    return g


def _transition_frames(prompt: dict, clip_frames: int) -> int:
    (t,) = _inputs_of(prompt, "VideoCanvasTransition")
    return clip_frames + (canvas(prompt)[2] - t["frames_a"]) + (clip_frames - t["frames_b"])


@workflow(9, "09_transition", "Scene transition", "A generated change of scene between two clips.",
          output_frames=_transition_frames)
def transition(m: Models, name: str) -> Graph:
    g = Graph(name)
    n = m.frames(9, 4)
    note(g, m, WORKFLOWS[name].description,
         "Clip A's last frames_a frames open the output and clip B's first frames_b close it. The "
         "saved video is the whole cut: clip A, the new frames (the output without its first "
         "frames_a), then clip B without its first frames_b. If you change frames_a / frames_b, set "
         "the matching 'Drop ...' batch_index to the same number.")
    wan = models(g, m, "a smooth cinematic transition from a beach at noon to a city street at night")
    a = scaled_clip(g, wan, load_clip(g, "videocanvas_clip_a.mp4", "Clip A (before)"))
    b = scaled_clip(g, wan, load_clip(g, "videocanvas_clip_b.mp4", "Clip B (after)"))
    conditions = g.add("VideoCanvasTransition", clip_a=a, clip_b=b, canvas=wan.canvas.out, frames_a=n,
                       frames_b=n, strength=1.0).out
    new = frames_from(g, sample_decode(g, wan, m, conditions), n,
                      "Drop the output's first frames_a (= A's end)")
    b_rest = frames_from(g, b, n, "Drop B's first frames_b (already in the output)")
    whole = g.add("ImageBatch", title="A + transition", image1=a, image2=new)
    whole = g.add("ImageBatch", title="... + B", image1=whole.out, image2=b_rest)
    save_video(g, wan, whole.out, WORKFLOWS[name].key)
    return g


def _extend_frames(prompt: dict, clip_frames: int) -> int:
    (e,) = _inputs_of(prompt, "VideoCanvasExtend")
    return clip_frames + canvas(prompt)[2] - e["context_frames"]


@workflow(10, "10_extend", "Extend a clip", "A clip continued forwards by the model.",
          output_frames=_extend_frames, models=(TOY, WAN21, TOY_VACE, WAN21_VACE, LTXV))
def extend(m: Models, name: str) -> Graph:
    g = Graph(name)
    n = m.frames(9, 4)
    note(g, m, WORKFLOWS[name].description,
         "The clip's last context_frames frames open the output, so the new frames continue it. The "
         "saved video is the clip followed by the new frames (the output without its first "
         "context_frames). Direction 'backward' generates what comes before the clip instead (then "
         "put the output first). Feed the result back in for a very long video, one window at a "
         "time. If you change context_frames, set the 'Drop ...' batch_index to the same number.")
    wan = models(g, m, "the same scene continues: waves rolling onto the shore, seagulls flying past")
    clip = scaled_clip(g, wan, load_clip(g, "videocanvas_clip.mp4", "Clip to extend"))
    conditions = g.add("VideoCanvasExtend", video=clip, canvas=wan.canvas.out, context_frames=n,
                       direction="forward", strength=1.0).out
    new = frames_from(g, sample_decode(g, wan, m, conditions), n,
                      "Drop the output's first context_frames")
    whole = g.add("ImageBatch", title="Clip + continuation", image1=clip, image2=new)
    save_video(g, wan, whole.out, WORKFLOWS[name].key)
    return g


def _loop_frames(prompt: dict, clip_frames: int) -> int:
    (lp,) = _inputs_of(prompt, "VideoCanvasLoop")
    n = lp["context_frames"]
    return (clip_frames - n) + (canvas(prompt)[2] - n)


@workflow(11, "11_loop", "Seamless loop", "The bridge that makes a clip loop without a cut.",
          output_frames=_loop_frames)
def loop(m: Models, name: str) -> Graph:
    g = Graph(name)
    n = m.frames(9, 4)
    note(g, m, WORKFLOWS[name].description,
         "The bridge opens with the clip's last context_frames frames and closes with its first "
         "context_frames, and the model generates the way back. The saved video is clip[N:] followed "
         "by bridge[N:] (N = context_frames): its end runs into its start without a cut, so it plays "
         "in a loop. If you change context_frames, set both 'Drop ...' batch_index to the same "
         "number.")
    wan = models(g, m, "a campfire burning at night, sparks rising, gentle flicker")
    clip = scaled_clip(g, wan, load_clip(g, "videocanvas_clip.mp4", "Clip to loop"))
    conditions = g.add("VideoCanvasLoop", video=clip, canvas=wan.canvas.out, context_frames=n,
                       strength=1.0).out
    bridge = frames_from(g, sample_decode(g, wan, m, conditions), n,
                         "Drop the bridge's first context_frames")
    clip_rest = frames_from(g, clip, n, "Drop the clip's first context_frames")
    whole = g.add("ImageBatch", title="Clip + bridge", image1=clip_rest, image2=bridge)
    save_video(g, wan, whole.out, WORKFLOWS[name].key)
    return g


# The long-video template's canvas: the toy model's size and fps, 61 frames (5 windows of 17).
TOY_LONG = dataclasses.replace(TOY, length=61)


@workflow(12, "12_long_video", "Long video", "A video longer than one window: overlapping windows, each "
          "continuing the one before, keyframes on the whole timeline.", models=(TOY_LONG,))
def long_video(m: Models, name: str) -> Graph:
    g = Graph(name)
    note(g, m, WORKFLOWS[name].description,
         "VideoCanvas Long Video samples the Canvas's whole length in windows of window_length frames "
         "(the toy model's 17); each window holds the last `overlap` frames of the one before in "
         "context, and every keyframe holds in the window that generates its frame (frames on the "
         "whole video's timeline). Raise the Canvas's length for a longer video (e.g. 1001); "
         "output 'stream to file' keeps memory flat however long it gets.")
    wan = models(g, m, "")
    conditions = three_keyframes(g, m, wan)
    layout_preview(g, wan, conditions)
    long = g.add("VideoCanvasLongVideo", model=wan.model, positive=wan.positive, negative=wan.negative,
                 vae=wan.vae, canvas=wan.canvas.out, window_length=17, overlap=5, seed=m.seed,
                 steps=m.steps, cfg=m.cfg, sampler_name="euler", scheduler="simple", output="images",
                 conditions=conditions)
    g.add("SaveVideo", video=long[1], filename_prefix=f"video/videocanvas_{WORKFLOWS[name].key}",
          format="auto", codec="auto")
    return g


@workflow(13, "13_i2v_model_channels", "First and last frame on a Wan I2V model",
          "A Wan image-to-video model (36 channels) driven by VideoCanvas conditions through its own "
          "mask and image channels.", models=(TOY_I2V, WAN21_I2V), thumbnail_key="02_first_last_frame")
def i2v_model_channels(m: Models, name: str) -> Graph:
    g = Graph(name)
    if m.bundled:
        return _i2v_model_channels_toy(g, m, name)
    g.note(f"{WORKFLOWS[name].description}\n\n"
           "The conditions are composited into one grey pixel video, encoded in video mode, with a "
           "mask per pixel frame: the model's own inputs, built by ComfyUI's Wan code (no RoPE "
           "Interpolator: VideoCanvas Sampler patches the model for its channels itself).\n"
           "- EXACT: the first frame at strength 1 gives the model bit for bit what ComfyUI's "
           "WanImageToVideo gives; first + last frame what WanFirstLastFrameToVideo gives.\n"
           "- ZERO-SHOT: this 480p model was trained with a first frame only; the last frame (trained "
           "on by the FLF2V model, wan2.1_flf2v_720p_14B_fp16.safetensors, same graph), middle "
           "frames and partial patches use the same channels untrained: expect loose adherence. "
           "Strength then says how known the mask marks a condition (1 = known, 0 = left to the "
           "model).\n\n"
           "Models (ComfyUI's repackaged Wan files; links in the loaders' properties):\n"
           f"- diffusion_models/{m.unet} (or the 720p file, e.g. 1280x720)\n"
           f"- vae/{m.vae}\n"
           "- text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors\n"
           "- clip_vision/clip_vision_h.safetensors (CLIP Vision Encode of the first frame, as "
           "ComfyUI's own I2V template; Wan 2.2 A14B I2V has no image embedding: disconnect it).\n"
           "Size, length and fps are set once, in the VideoCanvas Canvas node.")
    unet = g.add("UNETLoader", title="Load diffusion model", unet_name=m.unet, weight_dtype="default")
    vae = g.add("VAELoader", title="Load VAE", vae_name=m.vae).out
    clip = g.add("CLIPLoader", title="Load umt5 text encoder",
                 clip_name="umt5_xxl_fp8_e4m3fn_scaled.safetensors", type="wan", device="default")
    pos = g.add("CLIPTextEncode", title="Positive prompt", ui_color=POSITIVE_COLOR,
                text="a paper boat drifting down a rain-soaked street, the camera slowly following it",
                clip=clip.out).out
    neg = g.add("CLIPTextEncode", title="Negative prompt", ui_color=NEGATIVE_COLOR, text=NEGATIVE_PROMPT,
                clip=clip.out).out
    size = g.add("VideoCanvasCanvas", title="Canvas: size, length, fps (set once)", width=m.width,
                 height=m.height, length=m.length, fps=float(m.fps))
    wan = Wan(unet.out, vae, pos, neg, size)
    titles = ("First frame (exact)", "Last frame (zero-shot on the 480p model)")
    return _first_last_through_channels(g, m, wan, name, titles, "uni_pc", clip_vision=True)


def _i2v_model_channels_toy(g: Graph, m: Models, name: str) -> Graph:
    """The toy twin: the bundled 36-channel toy model, no text, no CLIP vision (it has no image
    embedding, like Wan 2.2 A14B I2V); trained on conditions at any frame, so nothing is zero-shot."""
    g.note(f"{WORKFLOWS[name].description}\n\n"
           "Runs as shipped on the pack's bundled toy image-to-video model (models/: the toy's "
           "channel-concatenation variant, 36 input channels like Wan's I2V models, 64x64, 17 frames, "
           "no text: VideoCanvas Null Prompt stands in for the prompts): press Run. The conditions are "
           "composited into one grey pixel video, encoded in video mode, with a mask per pixel frame: "
           "the model's own inputs, built by ComfyUI's Wan code (no RoPE Interpolator: VideoCanvas "
           "Sampler patches the model for its channels itself). Unlike the public Wan I2V weights, "
           "this toy was trained with conditions at any frame and partial patches. The Wan twin of "
           "this template runs Wan 2.1 I2V 480p.")
    unet = g.add("UNETLoader", title="Load diffusion model", unet_name=m.unet, weight_dtype="default")
    vae = g.add("VAELoader", title="Load VAE", vae_name=m.vae).out
    null = g.add("VideoCanvasNullPrompt", title="Null prompt (the toy model has no text)").out
    size = g.add("VideoCanvasCanvas", title="Canvas: size, length, fps (set once)", width=m.width,
                 height=m.height, length=m.length, fps=float(m.fps))
    wan = Wan(unet.out, vae, null, null, size)
    return _first_last_through_channels(g, m, wan, name, ("First frame", "Last frame"), "euler")


def _first_last_through_channels(g: Graph, m: Models, wan: Wan, name: str, titles: tuple[str, str],
                                 sampler_name: str, clip_vision: bool = False) -> Graph:
    """Template 13's graph after its loaders: the first and last images as full-frame conditions,
    sampled by VideoCanvas Sampler (which patches a 36-channel model for its channels) and decoded;
    clip_vision: CLIP vision of the first frame into the sampler, as ComfyUI's own I2V template."""
    first = load_image(g, "videocanvas_first.png", "First frame")
    last = load_image(g, "videocanvas_last.png", "Last frame")
    seen = {}
    if clip_vision:
        vision = g.add("CLIPVisionLoader", title="Load CLIP vision", clip_name="clip_vision_h.safetensors")
        seen["clip_vision_output"] = g.add("CLIPVisionEncode", title="CLIP vision of the first frame",
                                           clip_vision=vision.out, image=first.out, crop="none").out
    conditions = at_frames(g, wan, full_frame(g, wan, first.out), "0", title=titles[0])
    conditions = at_frames(g, wan, full_frame(g, wan, last.out), "-1", conditions, title=titles[1])
    layout_preview(g, wan, conditions)
    sampler = g.add("VideoCanvasSampler", model=wan.model, positive=wan.positive, negative=wan.negative,
                    vae=wan.vae, canvas=wan.canvas.out, batch_size=1, seed=m.seed, steps=m.steps,
                    cfg=m.cfg, sampler_name=sampler_name, scheduler="simple", denoise=1.0,
                    conditions=conditions, **seen)
    decode = g.add("VideoCanvasDecode", vae=wan.vae, latent=sampler[0], tile_size=0, paste_back=False,
                   feather=4.0, conditions=conditions)
    save_video(g, wan, decode.out, WORKFLOWS[name].key)
    return g


# -------------------------------------------------------------------------------- build, write


def build_all(info: dict) -> dict[str, tuple[dict, dict]]:
    """{name: (ui, api)} for every workflow; info: ComfyUI's /object_info (hostkit.inprocess makes
    it in-process, a server answers it over HTTP)."""
    out = {}
    for name, wf in WORKFLOWS.items():
        graph = wf.build()
        out[name] = (to_ui(graph, info, MODEL_FILES), to_api(graph, info))
    return out


def write_all(built: dict[str, tuple[dict, dict]], folder: Path = WORKFLOWS_DIR) -> list[Path]:
    api = folder / "api"
    api.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (ui, prompt) in built.items():
        for path, obj in ((folder / f"{name}.json", ui), (api / f"{name}.json", prompt)):
            path.write_text(dumps(obj), encoding="utf-8")
            written.append(path)
    return written

