"""Which model this is: the Wan kinds and LTX-Video, which VideoCanvas conditions (named refusals for
the others), whether it reads conditions through inputs of its own (Wan image-to-video's channels,
Wan VACE's control video, LTX-Video's guides), and, for the pack's own models, which condition
attention each was trained with (by a fingerprint of its weights)."""

from __future__ import annotations

import functools
from pathlib import Path

import comfy.ldm.lightricks.model as ltx_model
import comfy.ldm.wan.model as wan_model

from ..vc_core.condition_tokens import weight_fingerprint
from ..vc_core.paradigms import CHANNEL_CONCAT, LTX_GUIDES, LTX_IN_PLACE, VACE_CONTROL

# Wan variants whose forward differs from WanModel's: named so the refusal says what was given.
_OTHER_WAN_KINDS = {
    "CameraWanModel": "Wan Fun camera",
    "WanModel_S2V": "Wan S2V (speech to video)",
    "HumoWanModel": "Wan HuMo",
    "AnimateWanModel": "Wan Animate",
}


# ComfyUI model kinds (comfy.model_base classes) that sample a plain Wan T2V / TI2V-5B diffusion
# model with flow matching. Any other kind (WAN21_FlowRVS samples differently; future kinds may add
# inputs) is refused by name rather than conditioned wrongly.
_SUPPORTED_MODEL_KINDS = ("WAN21", "WAN22")


class UnsupportedModel(ValueError):
    pass


def is_ltx_model(model) -> bool:
    """An LTX-Video 0.9.x model as ComfyUI loads it (LTXV over LTXVModel): 2B and 13B, dev and
    distilled. LTX-2's audio-video model (LTXAV, ComfyUI 0.33 and later) is another kind."""
    return (type(model.get_model_object("diffusion_model")) is ltx_model.LTXVModel
            and type(model.model).__name__ == "LTXV")


def describe_model(model) -> str:
    """'Wan 2.1/2.2 T2V (16-ch)' / 'Wan 2.2 TI2V-5B (48-ch)' / 'Wan image-to-video (36-ch: ...)' /
    'LTX-Video (128-ch)', or UnsupportedModel naming what it is."""
    diffusion = model.get_model_object("diffusion_model")
    cls = type(diffusion).__name__
    if is_ltx_model(model):
        return "LTX-Video (128-ch)"
    if type(model.model).__name__ == "LTXAV":
        raise UnsupportedModel("model: LTX-2 (audio-video, LTXAV) models are not supported by VideoCanvas "
                               "yet: its guides would have to be laid out on the video half of a joined "
                               "audio-video latent. Use an LTX-Video 0.9.x model (2B or 13B), or LTX-2 "
                               "with ComfyUI's own LTXVAddGuide")
    if not isinstance(diffusion, wan_model.WanModel):
        raise UnsupportedModel(f"model: VideoCanvas needs a Wan model (Wan 2.1 T2V 1.3B/14B, Wan 2.2 "
                               f"TI2V-5B or the A14B experts, a Wan image-to-video or VACE model) or an "
                               f"LTX-Video 0.9.x model; got {cls} ({type(model.model).__name__})")
    kind_name = type(model.model).__name__
    if type(diffusion) is wan_model.WanModel and kind_name not in _SUPPORTED_MODEL_KINDS:
        raise UnsupportedModel(f"model: ComfyUI loaded this Wan model as {kind_name}, which samples "
                               f"differently from Wan T2V; VideoCanvas supports "
                               f"{' and '.join(_SUPPORTED_MODEL_KINDS)} (Wan 2.1 T2V, Wan 2.2 TI2V-5B, "
                               f"the A14B experts and Wan image-to-video models)")
    if is_vace_model(model):
        blocks = len(diffusion.vace_blocks)
        return f"Wan VACE ({diffusion.out_dim}-ch, {blocks} control block{'s' if blocks != 1 else ''})"
    if type(diffusion) is not wan_model.WanModel:
        kind = _OTHER_WAN_KINDS.get(cls, cls)
        raise UnsupportedModel(f"model: {kind} models are not supported by VideoCanvas (their "
                               f"forward adds inputs of its own); use a Wan T2V, TI2V-5B or "
                               f"image-to-video model")
    in_dim, out_dim = diffusion.patch_embedding.weight.shape[1], diffusion.out_dim
    if is_channel_concat_model(model):
        return f"Wan image-to-video ({in_dim}-ch: {out_dim} noise + 4 mask + {out_dim} image)"
    if in_dim != out_dim:
        raise UnsupportedModel(f"model: a Wan model with {in_dim} input channels for {out_dim} latent "
                               f"channels is not one VideoCanvas knows (Fun control and similar "
                               f"variants); use a Wan T2V, TI2V-5B or image-to-video ({2 * out_dim + 4} "
                               f"channels: noise + mask + image) model")
    if in_dim == 16:
        return "Wan 2.1/2.2 T2V (16-ch)"
    if in_dim == 48:
        return "Wan 2.2 TI2V-5B (48-ch)"
    raise UnsupportedModel(f"model: a Wan model with {in_dim} latent channels is not a known "
                           f"VideoCanvas target (16 = Wan 2.1 VAE, 48 = Wan 2.2 VAE)")


# The family a model that decides its own paradigm belongs to, by that paradigm: how refusals name it.
FAMILY_OF_PARADIGM = {VACE_CONTROL: "Wan VACE", CHANNEL_CONCAT: "Wan image-to-video", LTX_GUIDES: "LTX-Video",
                      LTX_IN_PLACE: "LTX-Video"}


def model_paradigm(model) -> str | None:
    """The paradigm this model family reads conditions through where the family decides (a Wan
    image-to-video model: its mask and image channels; LTX-Video: its guides); None where the RoPE
    Interpolator's choice applies (Wan token models)."""
    if is_ltx_model(model):
        return LTX_GUIDES
    if is_vace_model(model):
        return VACE_CONTROL
    return CHANNEL_CONCAT if is_channel_concat_model(model) else None


def is_vace_model(model) -> bool:
    """A Wan VACE model as ComfyUI loads it (WAN21_Vace over VaceWanModel with its control blocks):
    Wan 2.1 VACE 1.3B / 14B and Wan 2.2 Fun VACE A14B, each expert."""
    diffusion = model.get_model_object("diffusion_model")
    return (type(diffusion) is wan_model.VaceWanModel and type(model.model).__name__ == "WAN21_Vace"
            and hasattr(diffusion, "vace_blocks"))


def is_channel_concat_model(model) -> bool:
    """A Wan image-to-video model: noise + 4 mask + image-latent input channels (Wan 2.1 I2V
    480p/720p, FLF2V, Fun-InP, Wan 2.2 A14B I2V), which ComfyUI's WAN21.concat_cond feeds from the
    conditioning's concat_latent_image / concat_mask."""
    diffusion = model.get_model_object("diffusion_model")
    if type(diffusion) is not wan_model.WanModel or type(model.model).__name__ != "WAN21":
        return False
    return diffusion.patch_embedding.weight.shape[1] == 2 * diffusion.out_dim + 4


# The pack's own models whose condition attention in training is known (models/MODEL_CARD.md),
# relative to its models/ folder; files not there are skipped.
TRAINED_ATTENTION = {
    "diffusion_models/videocanvas_toy_t2v.safetensors": "two-way",
    "ablations/videocanvas_toy_t2v_nearest.safetensors": "two-way",
    "ablations/videocanvas_toy_t2v_cached.safetensors": "cached",
    "ablations/videocanvas_toy_t2v_sparse.safetensors": "two-way",  # trained with sparse tokens
}
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


def known_models(root: Path = MODELS_DIR, table: dict | None = None) -> dict[str, tuple[str, str]]:
    """Fingerprints of the known models' patch embeddings (one tensor read from each file)."""
    from safetensors import safe_open

    known = {}
    for rel, mode in (TRAINED_ATTENTION if table is None else table).items():
        path = Path(root) / rel
        if path.is_file():
            with safe_open(str(path), framework="pt") as f:
                known[weight_fingerprint(f.get_tensor("patch_embedding.weight"))] = (path.name, mode)
    return known


@functools.cache
def _shipped_models() -> dict[str, tuple[str, str]]:
    return known_models()


def trained_attention(model, known: dict | None = None) -> tuple[str, str] | None:
    """(file name, condition attention it was trained with) of a known model, else None."""
    known = _shipped_models() if known is None else known
    weight = model.get_model_object("diffusion_model").patch_embedding.weight
    return known.get(weight_fingerprint(weight))
