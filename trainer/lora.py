"""LoRA on ComfyUI's WanModel, saved in the key format ComfyUI's LoRA loaders read.

Each target Linear gets y = base(x) + (alpha / rank) * up(down(x)), added by a forward hook: the
base weights are never copied or changed (they may be fp8, cast by ComfyUI's ops at every call), and
removing the hooks gives the base back exactly. `up` starts at zero, so step 0 is the base.

Saved keys: diffusion_model.<module>.lora_down.weight / .lora_up.weight / .alpha, which
comfy.lora.model_lora_keys_unet maps for every weight of the diffusion model, so
LoraLoaderModelOnly loads them all without a "lora key not loaded" warning.
"""

from __future__ import annotations

import math
import re

import torch

PREFIX = "diffusion_model."
# Wan's attention projections and feed-forward (what community Wan LoRAs train).
DEFAULT_TARGETS = ("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
                   "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2")


class LoRAError(ValueError):
    pass


def check_targets(targets) -> tuple[str, ...]:
    """The targets, once every 're:<regex>' among them compiles; a LoRAError naming the bad one."""
    targets = tuple(targets)
    for t in targets:
        if t.startswith("re:"):
            try:
                re.compile(t[3:])
            except re.error as err:  # not a ValueError: would escape the callers' handling
                raise LoRAError(f"targets: {t!r} is not a valid regular expression ({err}); write "
                                f"layer name suffixes such as 'self_attn.q', or 're:' and a Python "
                                f"regular expression") from None
    return targets


def target_modules(wan: torch.nn.Module, targets) -> list[str]:
    """Names of the model's Linear layers whose name ends with a target ('self_attn.q' matches it
    in every block, 'head.head' the output head), or matches one given as 're:<regex>'."""
    targets = check_targets(targets)
    names = []
    for name, m in wan.named_modules():
        if not isinstance(m, torch.nn.Linear):
            continue
        for t in targets:
            if re.fullmatch(t[3:], name) if t.startswith("re:") else (name == t or name.endswith("." + t)):
                names.append(name)
                break
    if not names:
        raise LoRAError(f"targets {', '.join(targets)}: match no Linear layer of the model "
                        f"(known: {', '.join(DEFAULT_TARGETS)})")
    return names


class LoRASet(torch.nn.Module):
    """The trainable LoRA parameters for a set of target Linear layers of one WanModel."""

    def __init__(self, wan: torch.nn.Module, rank: int = 16, alpha: float | None = None,
                 targets=DEFAULT_TARGETS, seed: int = 0):
        super().__init__()
        if rank < 1:
            raise LoRAError(f"rank must be >= 1; got {rank}")
        self.rank, self.alpha = int(rank), float(rank if alpha is None else alpha)
        self.names = target_modules(wan, targets)
        self.down = torch.nn.ParameterDict()
        self.up = torch.nn.ParameterDict()
        gen = torch.Generator().manual_seed(int(seed))
        modules = dict(wan.named_modules())
        for name in self.names:
            lin = modules[name]
            key = name.replace(".", "__")
            bound = 1.0 / math.sqrt(lin.in_features)  # kaiming-uniform(a=sqrt(5)), as torch's Linear
            down = (torch.rand(self.rank, lin.in_features, generator=gen) * 2 - 1) * bound
            self.down[key] = torch.nn.Parameter(down)
            self.up[key] = torch.nn.Parameter(torch.zeros(lin.out_features, self.rank))
        self._hooks = []

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def attach(self, wan: torch.nn.Module) -> LoRASet:
        self.detach()
        modules = dict(wan.named_modules())
        for name in self.names:
            self._hooks.append(modules[name].register_forward_hook(self._hook(name.replace(".", "__"))))
        return self

    def detach(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []

    def _hook(self, key):
        def add_lora(module, args, out):
            x = args[0]
            # in the activations' dtype (bf16 on a GPU): no float32 copy of the tokens; the
            # float32 parameters still get their gradients through the cast
            down, up = self.down[key].to(x.dtype), self.up[key].to(x.dtype)
            delta = torch.nn.functional.linear(torch.nn.functional.linear(x, down), up)
            return out + (self.scale * delta).to(out.dtype)
        return add_lora

    def comfy_state_dict(self, dtype=torch.float32) -> dict[str, torch.Tensor]:
        """{diffusion_model.<module>.lora_down.weight, .lora_up.weight, .alpha}: the format of
        LoraLoaderModelOnly's files and of the LORA_MODEL that SaveLoRA saves."""
        sd = {}
        for name in self.names:
            key = name.replace(".", "__")
            sd[f"{PREFIX}{name}.lora_down.weight"] = self.down[key].detach().cpu().to(dtype).contiguous()
            sd[f"{PREFIX}{name}.lora_up.weight"] = self.up[key].detach().cpu().to(dtype).contiguous()
            sd[f"{PREFIX}{name}.alpha"] = torch.tensor(self.alpha, dtype=dtype)
        return sd

    @classmethod
    def from_comfy(cls, wan: torch.nn.Module, sd: dict[str, torch.Tensor], source: str) -> LoRASet:
        """A LoRASet continuing a saved LoRA; a LoRA of another model is refused naming `source`."""
        modules = dict(wan.named_modules())
        names = sorted({k[len(PREFIX):-len(".lora_down.weight")] for k in sd
                        if k.startswith(PREFIX) and k.endswith(".lora_down.weight")})
        if not names:
            raise LoRAError(f"{source}: no '{PREFIX}<module>.lora_down.weight' keys: not a LoRA in "
                            f"ComfyUI's format for a Wan diffusion model")
        known = (".lora_down.weight", ".lora_up.weight", ".alpha")
        other = sorted(k for k in sd if not (k.startswith(PREFIX) and k.endswith(known)))
        if other:
            raise LoRAError(f"{source}: holds {len(other)} tensors that are no LoRA pair (e.g. '{other[0]}': "
                            f"weight or bias differences); this trainer continues plain LoRAs only")
        ranks = set()
        for name in names:
            lin = modules.get(name)
            down, up = sd[f"{PREFIX}{name}.lora_down.weight"], sd.get(f"{PREFIX}{name}.lora_up.weight")
            if not isinstance(lin, torch.nn.Linear) or up is None:
                raise LoRAError(f"{source}: layer '{name}' is not a Linear layer of this model: a LoRA "
                                f"of another model")
            if down.shape[1] != lin.in_features or up.shape[0] != lin.out_features:
                raise LoRAError(f"{source}: layer '{name}' is {lin.out_features}x{lin.in_features} in "
                                f"this model but {up.shape[0]}x{down.shape[1]} in the LoRA: a LoRA of "
                                f"another model (size)")
            ranks.add(down.shape[0])
        if len(ranks) != 1:
            raise LoRAError(f"{source}: mixed ranks {sorted(ranks)} are not supported for training")
        alpha_key = f"{PREFIX}{names[0]}.alpha"
        rank = ranks.pop()
        alpha = float(sd[alpha_key]) if alpha_key in sd else float(rank)
        out = cls(wan, rank, alpha, targets=[f"re:{re.escape(n)}" for n in names])
        with torch.no_grad():
            for name in names:
                key = name.replace(".", "__")
                out.down[key].copy_(sd[f"{PREFIX}{name}.lora_down.weight"].float())
                out.up[key].copy_(sd[f"{PREFIX}{name}.lora_up.weight"].float())
        return out
