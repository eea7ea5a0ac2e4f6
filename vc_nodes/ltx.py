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
from .types import LTX_GUIDE_FRAMES

# LTX-Video's VAE as video_vae_geometry reads it: 128 latent channels, 32x spatial, 8x temporal
LTX_VAE_GEOMETRY = (128, 32, 8)
NATIVE_GUIDE_KEYS = ("keyframe_idxs", "guide_attention_entries")


def is_ltx_vae(vae) -> bool:
    return video_vae_geometry(vae) == LTX_VAE_GEOMETRY


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


def add_guides(vae, plan, positive, negative, latent: dict,
               in_place: bool = False) -> tuple[list, list, dict]:
    """(positive, negative, LATENT) with the plan's conditions as guides: each canvas encoded on its own
    as one image, appended after the video's latent frames with its noise-mask row, and its
    keyframe_idxs (and, on ComfyUI 0.33, guide_attention_entries) appended on both prompts. The LATENT
    says how many guides follow the video (LTX_GUIDE_FRAMES), for VideoCanvas Decode to crop.
    in_place: each written into the latent frame that holds it instead (prompts unchanged)."""
    try:
        PARADIGMS[LTX_GUIDES].check_references(plan.reference_origins, "an LTX-Video model")
        slots = (in_place_slots(plan.frames, int(latent["samples"].shape[2]), plan.origins) if in_place
                 else None)
    except ParadigmError as err:
        raise ValueError(str(err)) from None
    refuse_native_guides(positive, "positive")
    refuse_native_guides(negative, "negative")
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
    """The guides a LATENT made here still holds after its video frames (0 if none, or if another node
    changed its length since)."""
    count, video_frames = latent.get(LTX_GUIDE_FRAMES, (0, None))
    samples = latent["samples"]
    return count if count and samples.ndim == 5 and samples.shape[2] == count + video_frames else 0


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
