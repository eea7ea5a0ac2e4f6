"""LTX-Video's conditions where the latent is made (VideoCanvas Sampler / Conditioning / Long Video):
each condition encoded on its own as one image by LTX's VAE and appended after the video's latent
frames at its pixel frame (vc_core/paradigms/ltx_guides.py: the layout), exactly as a chain of
ComfyUI's LTXVAddGuide nodes appends full single images; after sampling the guides are cropped off
(LTXVCropGuides'). On a model patched for latent replacement each is written into the latent frame
that holds it instead (vc_core/paradigms/ltx_in_place.py), as LTXVImgToVideo writes a first frame.
No model patch is needed otherwise: LTXVModel reads keyframe_idxs and the noise mask itself.
"""

from __future__ import annotations

import node_helpers
import torch

from ..vc_core.paradigms import LTX_GUIDES, PARADIGMS, ParadigmError
from ..vc_core.paradigms import ltx_guides as guides
from ..vc_core.paradigms.ltx_in_place import in_place_slots, write_in_place
from .encode import encode_one_by_one, video_vae_geometry
from .types import COND_TIMING, LTX_GUIDE_FRAMES

# LTX-Video's VAE as video_vae_geometry reads it: 128 latent channels, 32x spatial, 8x temporal
LTX_VAE_GEOMETRY = (128, 32, 8)
NATIVE_GUIDE_KEYS = ("keyframe_idxs", "guide_attention_entries")
LTX_DEFAULT_FRAME_RATE = 25.0  # model_base.LTXV's frame_rate where the prompts set none


def is_ltx_vae(vae) -> bool:
    return video_vae_geometry(vae) == LTX_VAE_GEOMETRY


def token_patch(vae) -> int:
    """Latent cells along each side of one transformer token for this VAE's model family: Wan's
    transformer patches 2x2 cells, LTX-Video's takes each cell as a token."""
    return 1 if is_ltx_vae(vae) else 2


def _native_layout() -> tuple[bool, bool]:
    """(keyframe_idxs as (start, end) pairs, guide_attention_entries written): what this host's
    LTXVAddGuide writes (ComfyUI 0.33: both; 0.3.75 / 0.7.0: neither), so that the pack's guides read
    exactly as native ones to this host's LTXVModel and LTXVCropGuides."""
    import comfy_extras.nodes_lt as nodes_lt

    start_end = bool(getattr(nodes_lt.LTXVAddGuide.PATCHIFIER, "start_end", False))
    return start_end, hasattr(nodes_lt, "_append_guide_attention_entry")


def refuse_native_guides(conditioning, name: str) -> None:
    """Native guides already in a prompt (LTXVAddGuide before this node): their latent frames are in
    another LATENT than the one this node makes, so they cannot compose; refuse by name."""
    for _, extras in conditioning:
        for key in NATIVE_GUIDE_KEYS:
            if extras.get(key) is not None:
                raise ValueError(
                    f"{name}: this prompt already carries {key} (LTXVAddGuide or a similar node before "
                    f"this one): their guide frames live in that node's latent, which this node does not "
                    f"use, so the model would read guides that are not there. Give those images as "
                    f"VideoCanvas conditions instead, or add native guides after this node (LTXVAddGuide "
                    f"on its outputs appends after the VideoCanvas guides; crop with LTXVCropGuides)")


def check_frame_rate(conditioning, name: str, fps: float) -> None:
    """LTX-Video places frames in time by the prompts' frame_rate (LTXVConditioning; 25 where none is
    set), the guides included: a canvas at another fps would be sampled as if at that rate. Refuse the
    mismatch by name rather than set it behind the user's back (the prompts stay native's)."""
    rates = {float(extras.get("frame_rate", LTX_DEFAULT_FRAME_RATE)) for _, extras in conditioning}
    if any(abs(rate - float(fps)) > 1e-6 for rate in rates):
        given = ", ".join(f"{r:g}" for r in sorted(rates))
        raise ValueError(f"{name}: LTX-Video reads the frame rate from the prompts (LTXVConditioning; "
                         f"{LTX_DEFAULT_FRAME_RATE:g} where none is set), here {given} fps, but the "
                         f"canvas is {float(fps):g} fps: put LTXVConditioning with frame_rate "
                         f"{float(fps):g} (link the Canvas's fps) on both prompts, or set the canvas's "
                         f"fps to {given}")


def refuse_videocanvas_conds(conditioning, name: str) -> None:
    """Prompts that already carry VideoCanvas conditions attached for a Wan model (VideoCanvas
    Conditioning with a Wan VAE): this node makes LTX guides of its own conditions; refuse by name."""
    for _, extras in conditioning:
        if COND_TIMING in (extras.get("model_conds") or {}):
            raise ValueError(f"{name}: this prompt already carries VideoCanvas conditions from VideoCanvas "
                             f"Conditioning with a Wan VAE; give the conditions to this node's `conditions` "
                             f"input and the raw prompt here")


def check_prompts(positive, negative, fps: float | None = None) -> None:
    """What the prompts must not carry on the LTX path (native guides, Wan VideoCanvas conditions) and,
    given the canvas's fps, the frame rate they must say: checked by add_guides, and by Long Video once
    before its first window."""
    for name, cond in (("positive", positive), ("negative", negative)):
        refuse_native_guides(cond, name)
        refuse_videocanvas_conds(cond, name)
        if fps is not None:
            check_frame_rate(cond, name, fps)


def add_guides(vae, plan, positive, negative, latent: dict, in_place: bool = False,
               fps: float | None = None) -> tuple[list, list, dict]:
    """(positive, negative, LATENT) with the plan's conditions as guides: each canvas encoded on its own
    as one image, appended after the video's latent frames with its noise-mask row, and its
    keyframe_idxs (and, on ComfyUI 0.33, guide_attention_entries) appended on both prompts. The LATENT
    says how many guides follow the video (LTX_GUIDE_FRAMES), for VideoCanvas Decode to crop.
    in_place: each written into the latent frame that holds it instead (prompts unchanged).
    fps: the canvas's, checked against the prompts' frame rate."""
    try:
        PARADIGMS[LTX_GUIDES].check_references(plan.reference_origins, "an LTX-Video model")
        slots = (in_place_slots(plan.frames, int(latent["samples"].shape[2]), plan.origins) if in_place
                 else None)
    except ParadigmError as err:
        raise ValueError(str(err)) from None
    check_prompts(positive, negative, fps)
    if not plan.num_conditions:
        return positive, negative, latent
    samples = latent["samples"]
    latent_hw = tuple(samples.shape[-2:])
    encoded = encode_one_by_one(vae, plan.canvases)  # [1, 128, K, h, w], as native encodes guides
    if in_place:
        replaced, noise_mask = write_in_place(samples, latent.get("noise_mask"), encoded, slots,
                                              plan.strengths)
        return positive, negative, {**latent, "samples": replaced, "noise_mask": noise_mask}
    with_guides, noise_mask = guides.append_guides(samples, latent.get("noise_mask"), encoded, plan.strengths)
    start_end, entries = _native_layout()
    coords = guides.guide_coords(plan.frames, latent_hw, start_end=start_end).to(samples.device)
    new = {"keyframe_idxs": coords}
    if entries:
        new["guide_attention_entries"] = guides.guide_attention_entries(plan.strengths, latent_hw)
    positive, negative = (node_helpers.conditioning_set_values(c, new) for c in (positive, negative))
    out = {**latent, "samples": with_guides, "noise_mask": noise_mask,
           LTX_GUIDE_FRAMES: (plan.num_conditions, int(samples.shape[2]))}
    return positive, negative, out


def guide_count(latent: dict) -> int:
    """The guides a LATENT made here holds after its video frames (0 if none); a LATENT whose length
    another node changed since is refused (its guides could no longer be told from video)."""
    count, video_frames = latent.get(LTX_GUIDE_FRAMES, (0, None))
    samples = latent["samples"]
    if count and (samples.ndim != 5 or samples.shape[2] != count + video_frames):
        s = "s" if count != 1 else ""
        raise ValueError(f"latent: made with {count} LTX-Video guide frame{s} after "
                         f"{video_frames} video latent frames, it now has "
                         f"{samples.shape[2] if samples.ndim == 5 else tuple(samples.shape)}: crop the "
                         f"guides (VideoCanvas Decode or LTXVCropGuides) before changing its length")
    return count


def cropped(latent: dict) -> dict:
    """The LATENT without its guides (LTXVCropGuides' cut of the samples and the noise mask)."""
    count = guide_count(latent)
    if not count:
        return latent
    out = {k: v for k, v in latent.items() if k != LTX_GUIDE_FRAMES}
    out["samples"] = guides.crop_guides(latent["samples"], count)
    if isinstance(latent.get("noise_mask"), torch.Tensor) and latent["noise_mask"].ndim == 5:
        out["noise_mask"] = guides.crop_guides(latent["noise_mask"], count)
    return out
