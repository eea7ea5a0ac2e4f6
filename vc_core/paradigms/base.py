"""The one interface every paradigm implements: what a condition becomes for the model family, the
forward that stands in for the model's own (or none, where the model reads conditions through inputs
of its own), and what it refuses. The ComfyUI side (vc_nodes/model_patch.py) installs a paradigm on
a model and the trainer trains through the same forward. One family lays its conditions out in the
latent itself (LTX-Video's guides, which lengthen it): the nodes that make the latent do that
(vc_nodes/ltx.py), chosen by the model's VAE.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields


class ParadigmError(ValueError):
    """Options or conditions a paradigm cannot honour; the message names the input and the fix."""


@dataclass(frozen=True)
class PatchOptions:
    """What the user chose for the patch ('VideoCanvas RoPE Interpolator'); the defaults are the
    paper's forward, and what 'VideoCanvas Sampler' patches an unpatched model with."""

    position_policy: str = "interpolate"
    paradigm: str = "in_context"
    condition_tokens: str = "full"
    condition_attention: str = "two-way"

    def changed(self) -> list[tuple[str, str]]:
        """(input, value) of every option set away from its default, in the node's order."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)
                if getattr(self, f.name) != f.default]


def any_strength(strengths: Sequence[float], frames: Sequence[int], origins: Sequence[str] = ()) -> None:
    """For paradigms that honour every strength in [0, 1] (the nodes check the range)."""


# How a paradigm's conditions are encoded: "each" canvas on its own as one image (the paper's), or all
# of them in one full-length "pixel_video" (what image-to-video models were trained to read).
ENCODINGS = ("each", "pixel_video")


_LEAVE_DEFAULTS = ("position_policy, paradigm, condition_tokens and condition_attention at their defaults "
                   "(interpolate, in_context, full, two-way)")


def refuse_in_context_options(options: PatchOptions, model: str, reads: str, error=ParadigmError,
                              leave: str = _LEAVE_DEFAULTS) -> None:
    """For a model that reads conditions through inputs of its own (`reads`): in-context options cannot
    apply to it, so the first one set away from its default (the paradigm chosen included) is refused
    by name; `leave` says what to do instead."""
    for name, value in options.changed():
        raise error(
            f"{name}={value!r}: this is {model}, which takes VideoCanvas conditions through {reads}, not "
            f"in context, so the RoPE Interpolator's {name} cannot apply to it. Leave {leave}, or use a "
            f"Wan T2V model")


@dataclass(frozen=True)
class Paradigm:
    """A way VideoCanvas conditions reach a model family.

    forward(wan, x, timestep, context, conditions, options, *, attention=None, kv_cache=None,
            clip_fea=None, transformer_options=None, **kwargs) -> the video's model output:
        stands in for WanModel._forward (conditions: wan_forward.ConditionLatents); None where the
        model's own forward reads the conditions (channel concatenation: its mask/image channels).
    check_options(options, model): refuse options that cannot apply; `model` names the model in
        the message.
    check_strengths(strengths, frames, origins): refuse strengths the paradigm cannot honour.
    """

    name: str
    condition_becomes: str  # one sentence, for messages and docs
    strength_definition: str
    adds_tokens: bool  # conditions lengthen the model's token sequence (memory checks count them)
    encoding: str  # one of ENCODINGS
    check_options: Callable[[PatchOptions, str], None]
    check_strengths: Callable[..., None] = any_strength
    forward: Callable | None = None
    # the model has a slot for conditions without a time (Wan VACE's reference images)
    reads_references: bool = False

    def __post_init__(self):
        if self.encoding not in ENCODINGS:
            raise ValueError(f"Paradigm {self.name}: encoding must be one of {ENCODINGS}")

    def check_references(self, origins: Sequence[str], model) -> None:
        """Refuse conditions without a time (their origins, one each) where the model has no slot for
        them: never dropped. `model` names the model in the message, or is a callable that does (only
        called for a refusal)."""
        if origins and not self.reads_references:
            s = "s" if len(origins) != 1 else ""
            raise ParadigmError(
                f"conditions: {', '.join(origins)}: {len(origins)} reference{s} (VideoCanvas Reference "
                f"Image: a condition without a time) need{'' if s else 's'} a model with a reference "
                f"slot (a Wan VACE model); this is {model() if callable(model) else model}, which reads "
                f"conditions as {self.condition_becomes}. Give the image a frame (VideoCanvas Timestamp "
                f"Conditioner), or use a Wan VACE model")
