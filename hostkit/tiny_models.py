"""Tiny random checkpoints in ComfyUI's own formats, built with ComfyUI's own Wan and LTX-Video
classes, so that UNETLoader / VAELoader detect and load them exactly as they would the real files
(the one exception: the LTX-Video VAE, see ltxv_vae_metadata).

Nothing random is committed: tests and benchmarks call these at run time.
"""

from __future__ import annotations

import json
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


# --- LTX-Video 0.9.x (ComfyUI: supported_models.LTXV, model_base.LTXV over lightricks.model.LTXVModel) ---

@dataclass(frozen=True)
class TinyLTXV:
    """An LTX-Video 0.9.x DiT. ComfyUI's detection assumes 32 heads: it reads the head dim as
    attn2.to_k's rows // 32 and the cross-attention dim as its columns, so the inner dim is
    32 * attention_head_dim and must equal the cross-attention dim (the caption projection's output)."""

    attention_head_dim: int = 2  # inner dim 64, as small as the RoPE of every host has been run at
    num_layers: int = 2
    # ComfyUI infers neither of these; real 0.9.5+ checkpoints say causal_temporal_positioning in
    # their safetensors metadata config (the first latent frame is one pixel frame, the others 8)
    causal_temporal_positioning: bool = True
    caption_channels: int = 4096  # T5-XXL's width, ComfyUI's default (any other goes in the metadata)

    def metadata(self) -> dict[str, str]:
        """The safetensors metadata ComfyUI's detection merges over what it reads from the shapes."""
        transformer = {"causal_temporal_positioning": self.causal_temporal_positioning}
        if self.caption_channels != 4096:
            transformer["caption_channels"] = self.caption_channels
        return {"config": json.dumps({"transformer": transformer})}

    def build(self, seed: int = 0, dtype=torch.float32) -> torch.nn.Module:
        add_comfy_to_path()
        import comfy.ldm.lightricks.model
        import comfy.ops

        model = comfy.ldm.lightricks.model.LTXVModel(
            in_channels=128, cross_attention_dim=32 * self.attention_head_dim,
            attention_head_dim=self.attention_head_dim, num_attention_heads=32,
            caption_channels=self.caption_channels, num_layers=self.num_layers,
            causal_temporal_positioning=self.causal_temporal_positioning,
            operations=comfy.ops.disable_weight_init, dtype=dtype)
        init_random_(model, seed)
        return model


def _block(name: str, **params) -> list:
    return [name, params]


# The smallest LTX-Video VAE that ComfyUI builds from a metadata config on every host (9.6M
# parameters; ComfyUI's own geometry: 128 latent channels, 32x spatial, 8x temporal, causal in time).
# 0.3.75 and 0.7.0 fix the base width at 128 (only 0.33.0 reads encoder/decoder_base_channels) and the
# latent at 128 channels (the per-channel statistics), so the size is set by the blocks that compress:
# - patch_size 8: pixels to channels for free, leaving 4x spatial for the convolutions;
# - encoder: SpaceToDepthDownsample ("*_res", multiplier 1), whose convolutions output 128 / 8 or
#   128 / 2 channels;
# - decoder: DepthToSpaceUpsample convolutions output 4x (space) or 2x (time) their 128 channels: one
#   factor of 2 costs the same either way, less than in "compress_all" (8x);
# - "res_x" last: ComfyUI recognises an LTXV VAE by decoder.up_blocks.0.res_blocks.0.conv1 alone (the
#   decoder builds its blocks in reverse);
# - no timestep conditioning: decoding mixes in no noise.
LTXV_VAE_CONFIG = {
    "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 128, "patch_size": 8,
    "norm_layer": "pixel_norm", "latent_log_var": "uniform", "causal_decoder": False,
    "timestep_conditioning": False,
    "encoder_blocks": [_block("compress_all_res", multiplier=1), _block("compress_all_res", multiplier=1),
                       _block("compress_time_res", multiplier=1)],
    "decoder_blocks": [_block("compress_space"), _block("compress_space"), _block("compress_time"),
                       _block("compress_time"), _block("compress_time"), _block("res_x", num_layers=1)],
}
# The per-channel latent statistics 0.3.75 / 0.7.0 declare (0.33.0: the first two, and it ignores the
# rest): all are written, so the file is the same whichever host builds it and loads without missing keys.
LTXV_VAE_STATISTICS = ("std-of-means", "mean-of-means", "mean-of-stds", "mean-of-stds_over_std-of-means",
                       "channel")


def ltxv_vae_metadata() -> dict[str, str]:
    """The safetensors metadata that carries LTXV_VAE_CONFIG. Without it ComfyUI builds its full-size
    default LTXV VAE (0.9.0's, 419M parameters), which the tiny weights do not fit: 0.33.0's VAELoader
    passes the file's metadata on, 0.3.75's and 0.7.0's do not (there, comfy.sd.VAE(sd=..., metadata=...)
    or a checkpoint's "vae." keys load it)."""
    return {"config": json.dumps({"vae": LTXV_VAE_CONFIG})}


def build_ltxv_vae(seed: int = 0) -> torch.nn.Module:
    """ComfyUI's VideoVAE at LTXV_VAE_CONFIG, random weights; identity latent statistics (the encoder's
    means are the latent), which ComfyUI leaves uninitialised."""
    add_comfy_to_path()
    import comfy.ldm.lightricks.vae.causal_video_autoencoder as cva

    vae = cva.VideoVAE(config=LTXV_VAE_CONFIG)
    init_random_(vae, seed)
    stats = vae.per_channel_statistics
    for name in LTXV_VAE_STATISTICS:
        if name not in dict(stats.named_buffers()):
            stats.register_buffer(name, torch.empty(128))
        stats.get_buffer(name).fill_(1.0 if "std" in name else 0.0)
    return vae


def build_ltxv_checkpoint(seed: int = 0) -> Checkpoint:
    """A full LTX-Video checkpoint as Lightricks ships one (ComfyUI's CheckpointLoaderSimple): the
    tiny transformer under model.diffusion_model. and the tiny VAE under vae., one metadata config for
    both (which the checkpoint loader passes on to the VAE on every host)."""
    full = torch.nn.Module()
    full.model = torch.nn.Module()
    full.model.diffusion_model = TinyLTXV().build(seed=seed)
    full.vae = build_ltxv_vae(seed=seed + 1)
    config = {**json.loads(TinyLTXV().metadata()["config"]), **json.loads(ltxv_vae_metadata()["config"])}
    return Checkpoint(full, {"config": json.dumps(config)}, torch.bfloat16)


@dataclass(frozen=True)
class Checkpoint:
    """A builder's module with what its file needs beyond the weights: the safetensors metadata
    ComfyUI's loaders read, and the dtype the tensors are stored in."""

    module: torch.nn.Module
    metadata: dict[str, str] | None = None
    dtype: torch.dtype = torch.float32


def save(module: torch.nn.Module, path: Path, dtype=torch.float32,
         metadata: dict[str, str] | None = None) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().to(dtype).contiguous() for k, v in module.state_dict().items()}
    save_file(sd, str(path), metadata=metadata)
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
    # LTX-Video 0.9.x: a diffusion-model-only file (ComfyUI: LTXV) and its VAE, each with the metadata
    # config ComfyUI reads; the VAE in bfloat16 (LTXV's working dtype), 19.3 MB
    ("diffusion_models", "ltxv_tiny.safetensors"):
        lambda: Checkpoint(TinyLTXV().build(seed=9), TinyLTXV().metadata()),
    ("vae", "ltxv_vae_tiny.safetensors"):
        lambda: Checkpoint(build_ltxv_vae(seed=10), ltxv_vae_metadata(), torch.bfloat16),
    # the same two in one checkpoint, as the templates load LTX-Video (CheckpointLoaderSimple), 21 MB
    ("checkpoints", "ltxv_full_tiny.safetensors"): lambda: build_ltxv_checkpoint(seed=11),
}


def write_test_checkpoints(models_dir: Path, force: bool = False) -> dict[str, str]:
    """Write the tiny checkpoints under models/<kind>/videocanvas-tests/; returns the names the
    loaders list them under (e.g. 'videocanvas-tests/wan21_t2v_tiny.safetensors')."""
    names = {}
    for (kind, filename), builder in TEST_CHECKPOINTS.items():
        path = Path(models_dir) / kind / TEST_SUBDIR / filename
        if force or not path.exists():
            built = builder()
            built = built if isinstance(built, Checkpoint) else Checkpoint(built)
            save(built.module, path, built.dtype, built.metadata)
        names[filename.removesuffix(".safetensors")] = f"{TEST_SUBDIR}/{filename}"
    return names
