"""The reference for sparse and cached condition tokens: ComfyUI's own `WanModel.forward_orig` on the
fully assembled sequence (video + every condition token), with its self-attention restricted by a
mask through ComfyUI's `optimized_attention_override` hook. Nothing of vc_core.condition_tokens runs.

- dropping a token = no query may attend to it (its own output is discarded with the conditions);
- cached attention = condition queries may not attend to video keys.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
