"""RoPE interpolator: MODEL -> MODEL that takes VideoCanvas conditions in context."""

from comfy_api.latest import io

from ..vc_core.condition_tokens import ATTENTION_HELP, CONDITION_ATTENTION, CONDITION_TOKENS, TOKENS_HELP
from ..vc_core.paradigms import TOKEN_PARADIGMS
from ..vc_core.timing import POSITION_POLICIES
from .model_kinds import UnsupportedModel
from .model_patch import patch_model
from .types import CATEGORY


class VideoCanvasRoPEInterpolator(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="VideoCanvasRoPEInterpolator",
            display_name="VideoCanvas RoPE Interpolator",
            category=CATEGORY,
            description=(
                "Patches a Wan model so VideoCanvas conditions join the video as in-context tokens: "
                "clean (timestep 0), with a temporal RoPE position of pixel frame / 4. Without "
                "conditions the patched model computes exactly what the original does. Needed before "
                "any sampler (KSampler, KSamplerAdvanced, SamplerCustomAdvanced or VideoCanvas "
                "Sampler) that gets VideoCanvas conditioning; patch both experts of Wan 2.2 A14B. A "
                "Wan image-to-video model (36 channels) is patched to take the conditions through its "
                "own mask and image channels instead (first / first+last frame exactly as ComfyUI's "
                "native nodes, anything else zero-shot); leave the other inputs at their defaults. An "
                "LTX-Video model needs no patch (it reads the guides VideoCanvas lays out as they are); "
                "through here, paradigm latent_replacement makes VideoCanvas Sampler write conditions "
                "into LTX's own latent frames (a first frame exactly as LTXVImgToVideo)."),
            inputs=[
                io.Model.Input("model", tooltip="A Wan 2.1 T2V (1.3B/14B), Wan 2.2 TI2V-5B or Wan "
                               "2.2 A14B T2V expert model; or a Wan image-to-video (36-channel) or "
                               "Wan VACE model, the other inputs at their defaults; or an LTX-Video "
                               "model (only paradigm may change)."),
                io.Combo.Input("position_policy", options=list(POSITION_POLICIES),
                               default="interpolate",
                               tooltip="interpolate: frame t sits at t/4 (the paper). nearest: at "
                               "the latent slot holding t (ablation). extrapolate: all positions in "
                               "pixel frames (ablation)."),
                io.Combo.Input("paradigm", options=list(TOKEN_PARADIGMS), default="in_context",
                               tooltip="in_context: conditions appended as tokens (VideoCanvas). "
                               "latent_replacement: conditions overwrite their latent slot (the "
                               "paper's baseline, for comparisons; on LTX-Video, LTXVImgToVideo's way)."),
                io.Combo.Input("condition_tokens", options=list(CONDITION_TOKENS), default="full",
                               optional=True, tooltip=TOKENS_HELP),
                io.Combo.Input("condition_attention", options=list(CONDITION_ATTENTION),
                               default="two-way", optional=True, tooltip=ATTENTION_HELP),
            ],
            outputs=[io.Model.Output(display_name="model")],
        )

    @classmethod
    def execute(cls, model, position_policy, paradigm, condition_tokens="full",
                condition_attention="two-way") -> io.NodeOutput:
        # Optional inputs with the paper's defaults: API prompts written before they existed still run.
        try:
            return io.NodeOutput(patch_model(model, position_policy, paradigm, condition_tokens,
                                             condition_attention))
        except UnsupportedModel as err:
            raise ValueError(str(err)) from None
