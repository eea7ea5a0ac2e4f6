"""Encoding conditions with ComfyUI's VAE: every canvas on its own, as a single image."""

import copy

import comfy.latent_formats
import torch

from ..vc_core.paradigms import vace_control as vace
from ..vc_core.paradigms.channel_concat import concat_mask, from_plan
from ..vc_core.plan import VideoCanvasPlan


def video_vae_geometry(vae) -> tuple[int, int, int]:
    """(latent channels, spatial stride, temporal stride) of a video VAE, or a ValueError naming it."""
    if getattr(vae, "latent_dim", 2) != 3:
        raise ValueError("vae: VideoCanvas needs a video VAE (Wan 2.1, Wan 2.2 or LTX-Video); this VAE "
                         "encodes images only")
    temporal = vae.downscale_index_formula[0] if isinstance(vae.downscale_index_formula, tuple) else 1
    return vae.latent_channels, vae.spacial_compression_encode(), temporal


def encode_plan(vae, plan: VideoCanvasPlan) -> torch.Tensor:
    """Condition latents [1, C, K, h, w]: one latent frame per canvas (encode_images)."""
    _refuse_references(plan, "in context")
    if plan.num_conditions == 0:
        return None
    return encode_images(vae, plan.canvases, plan.width, plan.height)


def _refuse_references(plan: VideoCanvasPlan, how: str) -> None:
    """A guard behind the paradigms' check_references: a path with no reference slot never drops one."""
    if plan.num_references:
        raise ValueError(f"conditions: {', '.join(plan.reference_origins)}: a reference cannot be encoded "
                         f"{how}; only a Wan VACE model reads references")


def encode_images(vae, images: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """[1, C, K, h, w] of K images [K, H, W, 3], each encoded on its own as a single image.

    A causal video VAE encodes frame 0 of a clip alone, so K one-frame clips are K independent
    image-mode encodings; K frames given as one clip would be encoded in video mode, mixing the
    canvases into each other (the paper: ~6-7 dB worse). ComfyUI's VAE.encode reads an IMAGE batch
    as one clip unless the VAE is flagged `not_video`, in which case it encodes a batch of one-frame
    clips ([K, C, 1, H, W]) in one call with its own memory-aware batching: so encode through a
    shallow copy carrying that flag (same weights and patcher; the caller's VAE is untouched)."""
    import comfy.model_management as mm

    from .interrupt import interruptible
    from .memory import encode_batch

    image_mode = copy.copy(vae)
    image_mode.not_video = True
    # In batches that fit what this process may use (ComfyUI batches by the RAM it sees free, which
    # ignores rlimits and cgroups), checking for Cancel between and inside them.
    step = encode_batch(vae, len(images), width, height)
    parts = []
    with interruptible(getattr(vae, "first_stage_model", None)):
        for start in range(0, len(images), step):
            mm.throw_exception_if_processing_interrupted()
            parts.append(image_mode.encode(images[start:start + step]))  # [k, C, 1, h, w]
    latents = torch.cat(parts) if len(parts) > 1 else parts[0]
    return latents[:, :, 0].movedim(0, 1).unsqueeze(0)


def encode_one_by_one(vae, images: torch.Tensor) -> torch.Tensor:
    """[1, C, K, h, w] of K images [K, H, W, 3], each its own VAE call as a one-frame clip: what native
    nodes that encode one image per node (LTXVAddGuide) compute, bit for bit (a batched encode rounds
    differently)."""
    import comfy.model_management as mm

    from .interrupt import interruptible

    parts = []
    with interruptible(getattr(vae, "first_stage_model", None)):
        for k in range(len(images)):
            mm.throw_exception_if_processing_interrupted()
            parts.append(vae.encode(images[k:k + 1]))  # [1, C, 1, h, w]
    return torch.cat(parts, dim=2)


def encode_channels(vae, plan: VideoCanvasPlan) -> tuple[torch.Tensor, torch.Tensor]:
    """(concat_latent_image, concat_mask) for a Wan image-to-video model (vc_core.paradigms.channel_concat):
    the conditions composited into one full-length grey pixel video, encoded in video mode (one clip,
    as WanImageToVideo / WanFirstLastFrameToVideo encode theirs), and the per-pixel-frame mask."""
    _refuse_references(plan, "as image-to-video channels")
    _, spatial, temporal = video_vae_geometry(vae)
    layout = from_plan(plan)
    return vae.encode(layout.video), concat_mask(layout.known, spatial, temporal)


def encode_vace(vae, plan: VideoCanvasPlan) -> tuple[torch.Tensor, torch.Tensor]:
    """(vace_frames, vace_mask) for a Wan VACE model (vc_core.paradigms.vace_control): the conditions
    composited into one full-length grey control video, split into VACE's inactive and reactive
    streams, each encoded in video mode (as WanVaceToVideo encodes them), and the latent mask."""
    _, spatial, temporal = video_vae_geometry(vae)
    video, generate = vace.from_plan(plan)
    inactive, reactive = vace.control_streams(video, generate)
    frames = torch.cat((vae.encode(inactive), vae.encode(reactive)), dim=1)
    mask = vace.latent_mask(generate, temporal, spatial)
    if not plan.num_references:
        return frames, mask
    # each reference encoded as one image, as WanVaceToVideo encodes its reference_image; its
    # reactive stream the latent the model's format maps to zero
    references = encode_images(vae, plan.references, plan.width, plan.height)
    no_reactive = comfy.latent_formats.Wan21().process_out(torch.zeros_like(references[:, :, :1]))
    return vace.with_references(frames, mask, references, no_reactive)


class DeferredEncoding:
    """The conditions of a VideoCanvas Conditioning node, encoded when a patched model is about to
    sample them (after its memory check; see wrappers.accept_conditions), once: the node has no
    model to check an absurd request against, and encoding first would spend the time (and memory)
    the check exists to save. The rendered canvases are dropped once encoded as tokens; `rebuild`
    renders them again (the same plan) if this encoding is asked for another model's inputs later:
    ComfyUI caches the node's output, so a later run on another model (say, a VACE model after a
    text-to-video one) is handed this very object."""

    def __init__(self, vae, plan: VideoCanvasPlan, rebuild=None):
        self.vae, self._plan, self._rebuild = vae, plan, rebuild
        self.channels, spatial, _ = video_vae_geometry(vae)
        self.num_conditions = plan.num_conditions
        self.latent_hw = (plan.height // spatial, plan.width // spatial)
        self._latents = None
        self._channels = None
        self._vace = None

    def latents(self) -> torch.Tensor:
        if self._latents is None:
            self._require_plan()
            self._latents = encode_plan(self.vae, self._plan)
            self._plan = None
        return self._latents

    def channels_for_i2v(self) -> tuple[torch.Tensor, torch.Tensor]:
        """encode_channels, once (both experts of Wan 2.2 A14B I2V share it); the plan is kept."""
        if self._channels is None:
            self._require_plan()
            self._channels = encode_channels(self.vae, self._plan)
        return self._channels

    def vace_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """encode_vace, once (both experts of Wan 2.2 Fun VACE A14B share it); the plan is kept."""
        if self._vace is None:
            self._require_plan()
            self._vace = encode_vace(self.vae, self._plan)
        return self._vace

    def _require_plan(self) -> None:
        if self._plan is None and self._rebuild is not None:
            self._plan = self._rebuild()
        if self._plan is None:
            raise ValueError("VideoCanvas: these conditions were encoded for one model and their "
                             "canvases dropped, then reached another model that reads them differently; "
                             "give each model its own conditions")
