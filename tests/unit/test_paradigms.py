"""The paradigms behind one interface (vc_core/paradigms): every module there is listed, each says
what a condition becomes, and each refuses what it cannot honour by name."""

from __future__ import annotations

import pkgutil

import pytest
import torch

import vc_core.paradigms as paradigms
from vc_core.paradigms import (
    CHANNEL_CONCAT,
    PARADIGMS,
    TOKEN_PARADIGMS,
    ParadigmError,
    PatchOptions,
    paradigm,
)
from vc_core.paradigms.base import Paradigm


def test_every_paradigm_module_is_listed_under_its_own_name():
    modules = {m.name for m in pkgutil.iter_modules(paradigms.__path__)} - {"base"}
    assert modules == set(PARADIGMS) == {"in_context", "latent_replacement", "channel_concat", "vace_control",
                                         "ltx_guides", "ltx_in_place"}
    for name, p in PARADIGMS.items():
        assert isinstance(p, Paradigm) and p.name == name
        assert p.condition_becomes and p.strength_definition


def test_the_interpolators_choice_is_the_token_paradigms_and_the_model_decides_channels():
    assert TOKEN_PARADIGMS == ("in_context", "latent_replacement")  # saved workflows hold these names
    assert all(PARADIGMS[n].forward is not None for n in TOKEN_PARADIGMS)
    assert PARADIGMS[CHANNEL_CONCAT].forward is None  # the model's own forward reads its channels
    assert PARADIGMS["vace_control"].forward is None  # and a VACE model's its vace_context
    assert PARADIGMS["ltx_guides"].forward is None  # and LTX-Video's its keyframe_idxs and noise mask
    assert PARADIGMS["ltx_in_place"].forward is None


def test_in_context_and_ltx_guides_add_tokens():
    assert {n for n, p in PARADIGMS.items() if p.adds_tokens} == {"in_context", "ltx_guides"}


def test_each_paradigm_says_how_its_conditions_are_encoded():
    assert {n: p.encoding for n, p in PARADIGMS.items()} == {
        "in_context": "each", "latent_replacement": "each", "channel_concat": "pixel_video",
        "vace_control": "pixel_video", "ltx_guides": "each", "ltx_in_place": "each"}
    with pytest.raises(ValueError, match=r"Paradigm odd: encoding must be one of \('each', 'pixel_video'\)"):
        Paradigm("odd", "x", "y", adds_tokens=False, encoding="frames", check_options=lambda o, m: None)


def test_an_unknown_paradigm_is_refused_with_the_list():
    with pytest.raises(ParadigmError, match=r"paradigm must be one of \['in_context', 'latent_replacement', "
                                            r"'channel_concat', 'vace_control', 'ltx_guides', "
                                            r"'ltx_in_place'\]; "
                                            r"got 'concat'"):
        paradigm("concat")


def test_patch_options_name_what_was_changed_in_the_nodes_order():
    assert PatchOptions().changed() == []
    assert PatchOptions("nearest", "latent_replacement", "full", "cached").changed() == [
        ("position_policy", "nearest"), ("paradigm", "latent_replacement"), ("condition_attention", "cached")]


def test_in_context_takes_every_valid_token_option_and_refuses_unknown_ones_by_name():
    check = PARADIGMS["in_context"].check_options
    check(PatchOptions(condition_tokens="sparse", condition_attention="cached"), "a model")
    with pytest.raises(ValueError, match="condition_tokens must be one of"):
        check(PatchOptions(condition_tokens="some"), "a model")


def test_latent_replacement_refuses_token_options_and_any_strength_but_one():
    p = PARADIGMS["latent_replacement"]
    p.check_options(PatchOptions(position_policy="nearest"), "a model")  # no positions to move: allowed
    with pytest.raises(ParadigmError, match="condition_tokens='sparse', condition_attention='two-way': "
                                            "the latent_replacement paradigm has no condition tokens"):
        p.check_options(PatchOptions(condition_tokens="sparse"), "a model")
    p.check_strengths((1.0, 1.0), (0, 8))
    with pytest.raises(ParadigmError, match=r"strength of condition frame #2 \(at frame 8\): the "
                                            r"latent_replacement paradigm cannot honour strength 0.5"):
        p.check_strengths((1.0, 0.5), (0, 8))


def test_channel_concat_refuses_any_in_context_option_naming_the_model():
    p = PARADIGMS[CHANNEL_CONCAT]
    p.check_options(PatchOptions(), "a Wan image-to-video model")
    p.check_strengths((0.3,), (4,))  # the mask carries any strength
    for name, value in (("position_policy", "nearest"), ("paradigm", "latent_replacement"),
                        ("condition_tokens", "sparse"), ("condition_attention", "cached")):
        with pytest.raises(ParadigmError, match=f"{name}='{value}': this is a Wan image-to-video model, "
                                                f"which takes VideoCanvas conditions through its own mask"):
            p.check_options(PatchOptions(**{name: value}), "a Wan image-to-video model")


def test_latent_replacement_forward_overwrites_the_causal_slot_and_holds_it():
    """A stand-in Wan (the forward's duck-typed parts) that returns zeros: the velocity at the replaced
    slot is (x - c) / sigma, so one Euler step to sigma 0 lands exactly on the condition."""

    class ZeroWan:
        patch_size = (1, 2, 2)

        class rope_embedder:  # noqa: N801 (ComfyUI's attribute name)
            axes_dim, theta = (4, 2, 2), 10000.0

        def forward_orig(self, x, t, context, clip_fea=None, freqs=None, transformer_options=None, **kw):
            self.seen = (x.clone(), t.clone())
            return torch.zeros_like(x)

    from vc_core.wan_forward import ConditionLatents

    wan, g = ZeroWan(), torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, 3, 4, 4, generator=g)
    cond = torch.randn(1, 4, 1, 4, 4, generator=g)
    sigma = torch.tensor([0.8])
    v = PARADIGMS["latent_replacement"].forward(
        wan, x, sigma * 1000, None, ConditionLatents(cond, (5,)), PatchOptions(paradigm="latent_replacement"),
        transformer_options={"sigmas": sigma})
    slot = 2  # pixel frame 5 is in latent frame (5 - 1) // 4 + 1
    assert torch.equal(wan.seen[0][:, :, slot], cond[:, :, 0]) and wan.seen[1][0, slot] == 0
    assert torch.allclose(x[:, :, slot] - sigma * v[:, :, slot], cond[:, :, 0], atol=1e-6)
    assert torch.equal(v[:, :, :slot], torch.zeros_like(v[:, :, :slot]))
