"""Tiny random checkpoints in ComfyUI's own formats, built with ComfyUI's own Wan classes, so that
UNETLoader / VAELoader detect and load them exactly as they would the real files.

Nothing random is committed: tests and benchmarks call these at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .inprocess import add_comfy_to_path

TEST_SUBDIR = "videocanvas-tests"  # inside the host's models/<kind>/ folders


@dataclass(frozen=True)
class TinyWan:
    """A Wan DiT configuration. num_heads is dim // 128 in ComfyUI's detection, so dim % 128 == 0."""

    in_dim: int = 16
    out_dim: int = 16
    dim: int = 128
    ffn_dim: int = 256
    num_layers: int = 2
    text_dim: int = 4096  # ComfyUI does not infer text_dim: it is always 4096
    # "i2v" adds the CLIP-vision image embedding (img_emb) of Wan 2.1 I2V, which ComfyUI's detection
    # reads as model_type i2v; Wan 2.2 A14B I2V is "t2v" with 36 input channels (no img_emb)
    model_type: str = "t2v"
    # VACE control blocks (Wan 2.1 VACE: vace_blocks + vace_patch_embedding over 32 control latent + 64
    # mask channels), which ComfyUI's detection reads as model_type vace; 0: none
    vace_layers: int = 0

    def build(self, seed: int = 0, dtype=torch.float32) -> torch.nn.Module:
        add_comfy_to_path()
        import comfy.ldm.wan.model
        import comfy.ops

        cls, vace = comfy.ldm.wan.model.WanModel, {}
        if self.vace_layers:
            cls, vace = comfy.ldm.wan.model.VaceWanModel, {"vace_layers": self.vace_layers,
                                                           "vace_in_dim": 2 * self.out_dim + 64}
        model = cls(
            model_type=self.model_type, patch_size=(1, 2, 2), in_dim=self.in_dim, dim=self.dim,
            ffn_dim=self.ffn_dim, freq_dim=256, text_dim=self.text_dim, out_dim=self.out_dim,
            num_heads=self.dim // 128, num_layers=self.num_layers, qk_norm=True,
            cross_attn_norm=True, eps=1e-6, operations=comfy.ops.disable_weight_init, dtype=dtype, **vace)
        init_random_(model, seed)
        return model


def init_random_(module: torch.nn.Module, seed: int) -> None:
    """Deterministic small-normal weights, zero biases, unit norm gains (the ops leave them empty)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(module.named_parameters()):
            if name.endswith("bias"):
                p.zero_()
            elif "norm" in name or name.endswith("gamma"):
                p.fill_(1.0)
            else:
                fan_in = max(1, p[0].numel()) if p.ndim > 1 else p.shape[-1]
                std = 1.0 / fan_in ** 0.5 if "modulation" not in name else 0.02
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32) * std)


def build_wan21_vae(dim: int = 8, seed: int = 0) -> torch.nn.Module:
    """A Wan 2.1 VAE (z_dim 16) with a small base dim; ComfyUI infers dim from decoder.head.0.gamma."""
    add_comfy_to_path()
    import comfy.ldm.wan.vae

    vae = comfy.ldm.wan.vae.WanVAE(dim=dim, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                                   attn_scales=[], temperal_downsample=[False, True, True])
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(vae.named_parameters()):
            if name.endswith("gamma"):
                p.fill_(1.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / max(1, p[0].numel())) ** 0.5)
    return vae


def save(module: torch.nn.Module, path: Path, dtype=torch.float32) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().to(dtype).contiguous() for k, v in module.state_dict().items()}
    save_file(sd, str(path))
    return path


TEST_CHECKPOINTS = {
    # name relative to the models folder kind -> builder
    ("diffusion_models", "wan21_t2v_tiny.safetensors"): lambda: TinyWan().build(seed=1),
    ("diffusion_models", "wan22_ti2v_tiny.safetensors"): lambda: TinyWan(in_dim=48, out_dim=48)
    .build(seed=2),
    ("vae", "wan21_vae_tiny.safetensors"): lambda: build_wan21_vae(dim=8, seed=3),
    # image-to-video: 16 noise + 4 mask + 16 image-latent channels (ComfyUI: WAN21_I2V, and WAN21_T2V
    # for the A14B I2V layout without a CLIP-vision embedding)
    ("diffusion_models", "wan21_i2v_480p_tiny.safetensors"):
        lambda: TinyWan(in_dim=36, model_type="i2v").build(seed=5),
    ("diffusion_models", "wan22_a14b_i2v_tiny.safetensors"): lambda: TinyWan(in_dim=36).build(seed=6),
    # Wan 2.1 VACE: the T2V blocks plus one VACE control block (ComfyUI: WAN21_Vace)
    ("diffusion_models", "wan21_vace_tiny.safetensors"): lambda: TinyWan(vace_layers=1).build(seed=8),
}


def write_test_checkpoints(models_dir: Path, force: bool = False) -> dict[str, str]:
    """Write the tiny checkpoints under models/<kind>/videocanvas-tests/; returns the names the
    loaders list them under (e.g. 'videocanvas-tests/wan21_t2v_tiny.safetensors')."""
    names = {}
    for (kind, filename), builder in TEST_CHECKPOINTS.items():
        path = Path(models_dir) / kind / TEST_SUBDIR / filename
        if force or not path.exists():
            save(builder(), path)
        names[filename.removesuffix(".safetensors")] = f"{TEST_SUBDIR}/{filename}"
    return names
