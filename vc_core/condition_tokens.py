"""Cheaper condition tokens: which ones the model sees (full | sparse) and how they attend
(two-way | cached). See issue 16 and the README's performance section.

Sparse: a condition canvas is zero (VAE_ZERO) wherever its patch gives no pixel, so the tokens whose
canvas footprint (the 16x16 pixels of one 2x2 latent patch, for Wan 2.1's VAE) holds no patch pixel
carry no information about the patch; they are dropped. The tokens kept keep their own (t, h, w)
RoPE positions, so what remains is exactly where it was.

Cached: condition tokens attend only to condition tokens; video tokens attend to everything. A
condition token's hidden state then depends on the condition latents, its timestep (0 at strength
1), its RoPE position and the text context only, never on the noisy video, so its keys and values in
every block are the same at every step: one condition-only pass per sampling run (and per cfg
branch, whose text differs) stores them, and each step runs the video tokens alone against them.
Conditions below strength 1 are noised afresh at every step (in_context.noise_conditions), so there
the condition pass is recomputed per forward (the mask still holds: the cost saved is only the
video->condition half of the attention).

The forward here stands in for `WanModel.forward_orig` (same modules, same order of operations;
only the self-attention is split by token kind) and imports nothing from ComfyUI: the attention
kernel is passed in (the node pack passes ComfyUI's `optimized_attention`), PyTorch's SDPA otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

CONDITION_TOKENS = ("full", "sparse")
CONDITION_ATTENTION = ("two-way", "cached")

# One line each, for tooltips, refusals and the docs.
TOKENS_HELP = ("full: every condition token (the paper). sparse: only the tokens whose canvas "
               "footprint (16x16 px for Wan 2.1's VAE) holds a patch pixel; positions unchanged.")
ATTENTION_HELP = ("two-way: condition and video tokens attend to each other (the paper; how the "
                  "bundled toy model was trained). cached: condition tokens attend only to condition "
                  "tokens, so their keys/values are computed once per sampling run and reused at "
                  "every step; for models trained that way (the pack refuses it on its own two-way "
                  "models; on other two-way models it is an approximation).")


class ConditionTokenError(ValueError):
    """An option or input the condition-token forward cannot honour; the message names it."""


def check_options(condition_tokens: str, condition_attention: str) -> None:
    if condition_tokens not in CONDITION_TOKENS:
        raise ConditionTokenError(f"condition_tokens must be one of {list(CONDITION_TOKENS)}; "
                                  f"got {condition_tokens!r}")
    if condition_attention not in CONDITION_ATTENTION:
        raise ConditionTokenError(f"condition_attention must be one of {list(CONDITION_ATTENTION)}; "
                                  f"got {condition_attention!r}")


# --- Does the option go with how the model was trained? ------------------------------------------

def weight_fingerprint(weight: torch.Tensor) -> str:
    """A model's identity for the check below: its patch embedding's weights as float16 (the shipped
    files' dtype, so the same for a model loaded from them at any wider dtype), hashed."""
    data = weight.detach().to(device="cpu", dtype=torch.float16).contiguous().reshape(-1)
    return hashlib.blake2b(data.view(torch.int16).numpy().tobytes(), digest_size=16).hexdigest()


# Measured on the bundled toy model (trained two-way) run cached: benchmarks/results/
# condition_fidelity.md. Said in the refusal, so the user knows what the option would cost.
TWO_WAY_RUN_CACHED = ("loses 1.0-2.3 dB of condition PSNR on average (up to 4.2 dB) on the toy "
                      "benchmark, where a model trained cached loses nothing")


def check_trained_attention(trained: tuple[str, str] | None, condition_attention: str) -> None:
    """trained: (the model's name, the condition attention it was trained with), None if unknown.
    A known model run with the other attention is refused by name; unknown models are not checked
    (nothing says how they were trained)."""
    if trained is None or trained[1] == condition_attention:
        return
    name, mode = trained
    if mode == "two-way":
        raise ConditionTokenError(
            f"condition_attention='{condition_attention}': the model {name} was trained with two-way "
            f"condition attention (condition tokens read the video); run cached it {TWO_WAY_RUN_CACHED} "
            f"(benchmarks/results/condition_fidelity.md). Use 'two-way', or a model trained cached "
            f"(python -m toy_models.train_dit --variant cached)")
    raise ConditionTokenError(
        f"condition_attention='{condition_attention}': the model {name} was trained with {mode} "
        f"condition attention (condition tokens attend only to condition tokens) and never learnt "
        f"to read the video from them; use '{mode}'")


# --- Sparse: which tokens hold patch pixels -----------------------------------------------------

@dataclass(frozen=True)
class Footprint:
    """Per condition and latent pixel, whether its canvas area holds a patch pixel: [K, h, w] bits.

    Hashable and compared by value (it travels in ComfyUI's CONDConstant timing, which batches cond
    and uncond only when equal); ~1/8 byte per latent pixel."""

    shape: tuple[int, int, int]
    bits: bytes

    @staticmethod
    def from_masks(masks: torch.Tensor, latent_hw: tuple[int, int]) -> Footprint:
        """From the plan's pixel masks [K, H, W] (> 0 where the patch gives a pixel) and the latent
        size: a latent pixel holds a patch pixel when any pixel of its stride x stride area does."""
        k, hh, ww = masks.shape
        h, w = (int(v) for v in latent_hw)
        if h <= 0 or w <= 0 or hh % h or ww % w or hh // h != ww // w:
            raise ConditionTokenError(f"condition masks of {hh}x{ww} px do not tile a {h}x{w} latent "
                                      f"with one square stride")
        s = hh // h
        held = (masks.detach().float().cpu() > 0).reshape(k, h, s, w, s).any(dim=4).any(dim=2)
        return Footprint.from_held(held)

    @staticmethod
    def from_held(held: torch.Tensor) -> Footprint:
        """From [K, h, w] booleans (what tensor() returns)."""
        flat = held.reshape(-1).to(torch.uint8)
        flat = torch.cat([flat, flat.new_zeros(-flat.numel() % 8)]).reshape(-1, 8)
        packed = (flat * (1 << torch.arange(8, dtype=torch.uint8))).sum(1, dtype=torch.uint8)
        return Footprint(tuple(int(v) for v in held.shape), bytes(packed.tolist()))

    def rows(self, rows: Sequence[int]) -> Footprint:
        """The footprint of some conditions only (those a context window sees), in the order given."""
        return Footprint.from_held(self.tensor()[list(rows)])

    def tensor(self) -> torch.Tensor:
        """[K, h, w] bool."""
        n = self.shape[0] * self.shape[1] * self.shape[2]
        packed = torch.tensor(list(self.bits), dtype=torch.uint8)
        bits = (packed.reshape(-1, 1) >> torch.arange(8, dtype=torch.uint8)) & 1
        return bits.reshape(-1)[:n].bool().reshape(self.shape)


def token_keep(footprint: torch.Tensor, patch_hw: tuple[int, int]) -> torch.Tensor:
    """[K, h/ph, w/pw] bool: a token (one ph x pw latent patch) is kept when any latent pixel of it
    holds a patch pixel."""
    k, h, w = footprint.shape
    ph, pw = patch_hw
    if h % ph or w % pw:
        raise ConditionTokenError(f"a {h}x{w} latent footprint does not split into {ph}x{pw} patches")
    return footprint.reshape(k, h // ph, ph, w // pw, pw).any(dim=4).any(dim=2)


@dataclass(frozen=True)
class Selection:
    """The condition tokens one forward uses: flat indices into the K*gh*gw condition tokens (in
    assembly order) and how many of each condition's tokens are kept."""

    index: torch.Tensor  # [Lc] long
    counts: tuple[int, ...]  # per condition

    @property
    def num_tokens(self) -> int:
        return int(self.index.numel())


def select_tokens(keep: torch.Tensor | None, k: int, tokens_per_frame: int) -> Selection:
    """All tokens (keep None) or those kept; `keep` is [K, gh, gw] bool."""
    if keep is None:
        return Selection(torch.arange(k * tokens_per_frame), (tokens_per_frame,) * k)
    if keep.shape[0] != k or keep[0].numel() != tokens_per_frame:
        raise ConditionTokenError(f"condition footprint {tuple(keep.shape)} does not match {k} "
                                  f"conditions of {tokens_per_frame} tokens")
    flat = keep.reshape(k, -1)
    return Selection(flat.reshape(-1).nonzero().reshape(-1), tuple(int(c) for c in flat.sum(1)))


# --- The forward -----------------------------------------------------------------------------

def sdpa_attention(q, k, v, heads, transformer_options=None):
    """[B, Lq, H*d] x [B, Lk, H*d] -> [B, Lq, H*d] with PyTorch's SDPA (ComfyUI's calling shape)."""
    b, lq, hd = q.shape
    d = hd // heads
    q, k, v = (t.reshape(b, -1, heads, d).transpose(1, 2) for t in (q, k, v))
    return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, lq, hd)


def sinusoidal_embedding_1d(dim: int, position: torch.Tensor) -> torch.Tensor:
    """Wan's timestep embedding (comfy.ldm.wan.model.sinusoidal_embedding_1d), float32."""
    half = dim // 2
    position = position.type(torch.float32)
    sinusoid = torch.outer(position, torch.pow(10000, -torch.arange(half).to(position).div(half)))
    return torch.cat([torch.cos(sinusoid), torch.sin(sinusoid)], dim=1)


def apply_rope1(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """comfy.ldm.flux.math.apply_rope1: rotate pairs of channels by the table's 2x2 matrices."""
    x_ = x.to(dtype=freqs.dtype).reshape(*x.shape[:-1], -1, 1, 2)
    out = freqs[..., 0] * x_[..., 0]
    out.addcmul_(freqs[..., 1], x_[..., 1])
    return out.reshape(*x.shape).type_as(x)


@dataclass
class _Tokens:
    """A token sequence with its modulation groups: e0 [B, G, 6, D] per group (a latent frame or a
    condition), counts = tokens per group (an int when all groups are equal)."""

    x: torch.Tensor
    e0: torch.Tensor
    counts: int | torch.Tensor
    freqs: torch.Tensor


def _per_token(m: torch.Tensor, counts) -> torch.Tensor:
    # Wan's repeat_e: one modulation per group, repeated over the group's tokens.
    if m.shape[1] == 1:
        return m
    return torch.repeat_interleave(m, counts, dim=1)


def _qkv(attn, x: torch.Tensor, freqs: torch.Tensor):
    b, s = x.shape[:2]
    n, d = attn.num_heads, attn.head_dim
    q = apply_rope1(attn.norm_q(attn.q(x)).view(b, s, n, d), freqs).view(b, s, n * d)
    k = apply_rope1(attn.norm_k(attn.k(x)).view(b, s, n, d), freqs).view(b, s, n * d)
    return q, k, attn.v(x).view(b, s, n * d)


def _run_blocks(wan, seq: _Tokens, context: torch.Tensor, attention, transformer_options: dict,
                extra_kv=None, record: bool = False):
    """Wan's blocks over one token sequence. extra_kv: per block (k, v) of tokens this sequence
    also attends to (never the other way round). record: return each block's own (k, v) instead of
    the output (the last block stops once they are known)."""
    x = seq.x
    kv = []
    last = len(wan.blocks) - 1
    # As WanModel.forward_orig sets them: attention overrides and patches read which block runs.
    transformer_options["total_blocks"] = len(wan.blocks)
    transformer_options["block_type"] = "double"
    for i, block in enumerate(wan.blocks):
        transformer_options["block_index"] = i
        e = [_per_token(m, seq.counts) for m in
             (block.modulation.to(dtype=x.dtype, device=x.device).unsqueeze(0) + seq.e0).unbind(2)]
        x = x.contiguous()
        q, k, v = _qkv(block.self_attn, torch.addcmul(e[0], block.norm1(x), 1 + e[1]), seq.freqs)
        if record:
            kv.append((k, v))
            if i == last:
                return kv
        if extra_kv is not None:
            k = torch.cat([k, extra_kv[i][0].to(k)], dim=1)
            v = torch.cat([v, extra_kv[i][1].to(v)], dim=1)
        y = block.self_attn.o(attention(q, k, v, heads=block.self_attn.num_heads,
                                        transformer_options=transformer_options))
        x = torch.addcmul(x, y, e[2])
        x = x + block.cross_attn(block.norm3(x), context, context_img_len=None,
                                 transformer_options=transformer_options)
        y = block.ffn(torch.addcmul(e[3], block.norm2(x), 1 + e[4]))
        x = torch.addcmul(x, y, e[5])
    return kv if record else x


def _time(wan, t: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(e [B, G, D], e0 [B, G, 6, D]) for timesteps [B, G], as forward_orig computes them."""
    e = wan.time_embedding(sinusoidal_embedding_1d(wan.freq_dim, t.flatten()).to(dtype=dtype))
    e = e.reshape(t.shape[0], -1, e.shape[-1])
    return e, wan.time_projection(e).unflatten(2, (6, wan.dim))


def _embed(wan, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    y = wan.patch_embedding(x.float()).to(x.dtype)
    return y.flatten(2).transpose(1, 2), tuple(y.shape[2:])


class ConditionKVCache:
    """Per sampling run: the condition tokens' per-block keys/values of each batch of condition
    rows seen, keyed by the plan and compared by content (text context and condition latents, the
    two things a cfg branch or batch row can differ in). A few entries, least recently used out.

    weights: called at every lookup, returns what decides the model's weights at this forward
    beyond what is fixed for the run (the node pack: ComfyUI's hooks in force and their keyframe
    strengths). Keys/values depend on the weights, and hooks change them between steps (keyframes)
    or between cfg branches (a hook on one prompt), so it is part of the key."""

    def __init__(self, max_entries: int = 4, weights: Callable[[], Hashable] | None = None):
        self.max_entries = max_entries
        self.weights = weights
        self.entries: list[tuple[Hashable, torch.Tensor, torch.Tensor, list]] = []
        self.passes = 0  # condition passes computed (a run with one cfg batch: 1)

    def get(self, key: Hashable, context: torch.Tensor, latents: torch.Tensor,
            compute: Callable[[], list]) -> list:
        if self.weights is not None:
            key = (key, self.weights())
        for i, (k, ctx, lat, kv) in enumerate(self.entries):
            if (k == key and ctx.shape == context.shape and lat.shape == latents.shape
                    and torch.equal(ctx, context) and torch.equal(lat, latents)):
                self.entries.append(self.entries.pop(i))
                return kv
        kv = compute()
        self.passes += 1
        self.entries.append((key, context.clone(), latents.clone(), kv))
        del self.entries[:-self.max_entries]
        return kv


def condition_token_forward(wan, x: torch.Tensor, t_video: torch.Tensor, cond: torch.Tensor,
                            t_cond: torch.Tensor, context: torch.Tensor, freqs: torch.Tensor,
                            condition_tokens: str = "full", condition_attention: str = "two-way",
                            keep: torch.Tensor | None = None, attention=None,
                            transformer_options: dict | None = None,
                            cache: ConditionKVCache | None = None, cache_key: Hashable = None):
    """The video's output [B, C, F, H, W] of one Wan forward with condition frames `cond`
    [B, C, K, H, W] (already noised to their level) at timesteps t_cond [B, K]; t_video [B, F].

    freqs: the plan's rope table for all F+K frames (video first, as assembled). keep: [K, gh, gw]
    bool, the tokens kept by `sparse` (None keeps all). cache (cached attention only): reuse the
    condition keys/values under cache_key + content; None computes them in every call.
    """
    check_options(condition_tokens, condition_attention)
    attention = attention or sdpa_attention
    transformer_options = {} if transformer_options is None else transformer_options
    if transformer_options.get("patches_replace", {}).get("dit"):
        raise ConditionTokenError(
            f"condition_tokens={condition_tokens!r} / condition_attention={condition_attention!r}: "
            f"another node replaces Wan's blocks (a 'dit' block patch), which these options run "
            f"themselves; use condition tokens 'full' with attention 'two-way', or remove that patch")
    b, _, f = x.shape[:3]
    k = cond.shape[2]
    xv, grid = _embed(wan, x)
    hw = grid[1] * grid[2]
    ev, e0v = _time(wan, t_video.reshape(b, f), xv.dtype)
    ctx = wan.text_embedding(context)
    sel = select_tokens(keep if condition_tokens == "sparse" else None, k, hw)
    index = sel.index.to(freqs.device)
    freqs_v, freqs_c = freqs[:, :f * hw], freqs[:, f * hw:].index_select(1, index)
    counts_c = torch.tensor(sel.counts, device=x.device)
    video = _Tokens(xv, e0v, hw, freqs_v)

    def condition_tokens_in() -> _Tokens:
        xc, _ = _embed(wan, cond.to(x))
        xc = xc.index_select(1, index.to(xc.device))
        _, e0c = _time(wan, t_cond.reshape(b, k), xc.dtype)
        return _Tokens(xc, e0c, counts_c, freqs_c)

    if condition_attention == "two-way":
        c = condition_tokens_in()
        joint = _Tokens(torch.cat([video.x, c.x], dim=1), torch.cat([video.e0, c.e0], dim=1),
                        torch.cat([counts_c.new_full((f,), hw), counts_c]),
                        torch.cat([freqs_v, freqs_c], dim=1))
        out = _run_blocks(wan, joint, ctx, attention, transformer_options)[:, :f * hw]
    else:
        def condition_pass():
            return _run_blocks(wan, condition_tokens_in(), ctx, attention, transformer_options,
                               record=True)

        # Only clean conditions (timestep 0 at every step) are independent of the step.
        reusable = cache is not None and not bool((t_cond != 0).any())
        kv = (cache.get(cache_key, context, cond, condition_pass) if reusable else condition_pass())
        out = _run_blocks(wan, video, ctx, attention, transformer_options, extra_kv=kv)
    return wan.unpatchify(wan.head(out, ev), grid)
