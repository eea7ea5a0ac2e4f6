"""The VideoCanvas LoRA trainer (trainer/): videos -> clips -> cache, anchors drawn per sample and
step, LoRA on ComfyUI's own WanModel through the forward inference runs, resumable and data-parallel
runs, and a LoRA that ComfyUI's LoraLoaderModelOnly loads.

Tiny random Wan and VAE in ComfyUI's format (hostkit.tiny_models), tiny videos written with PyAV.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from helpers import vcn
from hostkit.setup import comfy_dir
from hostkit.tiny_models import TEST_SUBDIR, TinyWan
from trainer import models
from trainer.anchors import MAX_ANCHORS, draw_anchors, render_canvases, sample_generator
from trainer.cache import build_cache, load_cached
from trainer.data import Bucket, DataError, find_videos, fit, parse_buckets, plan_clips
from trainer.loop import TrainConfig, Trainer, predict
from trainer.lora import LoRAError, LoRASet

ROOT = Path(__file__).resolve().parents[2]
W, H, LENGTH = 32, 32, 9  # 3 latent frames of 4x4 latents = 2x2 tokens each


def write_video(path: Path, frames: int, width: int, height: int, seed: int = 0, codec: str = "libx264",
                color=None) -> Path:
    """A smooth moving pattern (or one solid colour), `frames` frames at 8 fps."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 6, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as box:
        stream = box.add_stream(codec, rate=8)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p" if codec == "libx264" else "bgr0"
        yy, xx = np.mgrid[0:height, 0:width]
        for t in range(frames):
            if color is None:
                img = np.stack([0.5 + 0.4 * np.sin(xx / 5 + t * 0.6 + phase[c]) * np.cos(yy / 7 + c)
                                for c in range(3)], -1)
            else:
                img = np.broadcast_to(np.array(color, dtype=np.float64) / 255, (height, width, 3))
            frame = av.VideoFrame.from_ndarray((img * 255).round().astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    return path


@pytest.fixture
def input_folder():
    """A fresh folder inside ComfyUI's input folder, where VideoCanvas Train LoRA may read (the in-process
    executor's and the test server's alike): (its path, its name relative to the input folder)."""
    import shutil
    import uuid

    name = f"vc_trainer_test_{uuid.uuid4().hex[:8]}"
    path = comfy_dir() / "input" / name
    path.mkdir(parents=True)
    yield path, name
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def files(checkpoints, tmp_path_factory):
    root = comfy_dir() / "models"
    return {"model": root / "diffusion_models" / checkpoints["wan21_t2v_tiny"],
            "vae": root / "vae" / checkpoints["wan21_vae_tiny"],
            "cache": tmp_path_factory.mktemp("cli-cache")}


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    for i in range(3):
        write_video(folder / f"clip{i}.mp4", 12, 48, 32, seed=i)
    (folder / "clip0.txt").write_text("a caption beside clip0.mp4")
    return folder


@pytest.fixture(scope="module")
def base(files):
    # the trainer's CPU default is float32 weights, what the exact checks below need
    base = models.load_base(str(files["model"]), "default", torch.device("cpu"))
    assert next(base.wan.blocks.parameters()).dtype == torch.float32
    return base


@pytest.fixture(scope="module")
def vae(files):
    return models.load_vae(str(files["vae"]))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """One cache for the module: every run of the same clips finds them encoded."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def clips(videos, vae, base, cache_dir):
    return cached_clips(videos, vae, base, cache_dir)


def cached_clips(videos, vae, base, cache_dir, **kw):
    paths = build_cache(find_videos(videos), cache_dir, LENGTH, [Bucket(W, H)],
                        lambda px: models.encode_video(vae, px, base.latent_format),
                        lambda caption: models.encode_text(None, caption), "tiny", **kw,
                        log=lambda *_: None)
    return [load_cached(p) for p in paths]


def trainer_for(base, vae, clips, **config):
    cfg = TrainConfig(**{"steps": 10, "lr": 1e-2, "rank": 8, "max_anchors": 3, "batch_size": 2, **config})
    return Trainer(base.wan, clips, lambda c: models.encode_images(vae, c, base.latent_format), cfg,
                   torch.device("cpu"), shift=base.shift)


# --- anchors --------------------------------------------------------------------------------------

def test_anchors_are_drawn_anew_per_sample_and_step_within_the_papers_ranges():
    draws = {}
    for step in range(30):
        for index in range(4):
            gen = sample_generator(0, step, index)
            anchors = draw_anchors(gen, frames=33, height=48, width=80, max_anchors=MAX_ANCHORS)
            frames = [a.frame for a in anchors]
            assert 1 <= len(anchors) <= 20
            assert frames == sorted(set(frames)) and all(0 <= f < 33 for f in frames)
            for a in anchors:
                area = a.height * a.width / (48 * 80)
                # 20-100 % of the frame, less at most one rounded row and column
                assert 0.2 - 1 / 48 - 1 / 80 <= area <= 1.0
                assert 0 <= a.top <= 48 - a.height and 0 <= a.left <= 80 - a.width
            draws[step, index] = anchors
    # a function of (seed, step, index) only: the same again, and another for any other of them
    assert draw_anchors(sample_generator(0, 7, 2), 33, 48, 80, 20) == draws[7, 2]
    assert len({tuple(a) for a in draws.values()}) == len(draws)
    assert draw_anchors(sample_generator(1, 7, 2), 33, 48, 80, 20) != draws[7, 2]
    counts = {len(a) for a in draws.values()}
    assert min(counts) <= 3 and max(counts) >= 17  # k uniform in 1..20 over 120 draws
    areas = [a.height * a.width / (48 * 80) for d in draws.values() for a in d]
    assert min(areas) < 0.3 and max(areas) > 0.9


def test_anchor_counts_are_checked():
    with pytest.raises(ValueError, match="max_anchors <= 20"):
        draw_anchors(sample_generator(0, 0, 0), 33, 16, 16, max_anchors=21)
    # a clip shorter than max_anchors gets at most one anchor per frame
    assert len(draw_anchors(sample_generator(0, 0, 0), 2, 16, 16, 20, min_anchors=20)) == 2


def test_a_canvas_holds_its_crop_of_its_frame_and_vae_zero_elsewhere():
    from vc_core.canvas import VAE_ZERO

    pixels = torch.randint(0, 256, (5, 16, 24, 3), dtype=torch.uint8)
    anchors = draw_anchors(sample_generator(3, 0, 0), 5, 16, 24, max_anchors=4, min_anchors=4)
    canvases = render_canvases(pixels, anchors)
    assert canvases.shape == (4, 16, 24, 3)
    for canvas, a in zip(canvases, anchors, strict=True):
        inside = torch.zeros(16, 24, dtype=torch.bool)
        inside[a.top:a.top + a.height, a.left:a.left + a.width] = True
        assert torch.equal(canvas[inside], pixels[a.frame][inside].float() / 255)
        assert bool((canvas[~inside] == VAE_ZERO).all())


# --- data -------------------------------------------------------------------------------------------

def test_clips_fit_the_nearest_bucket_from_any_frame_size(tmp_path):
    odd = write_video(tmp_path / "odd.mkv", 10, 27, 35, codec="ffv1")  # odd sides: not yuv420-able
    buckets = parse_buckets("32x32,48x32")
    clips = plan_clips(odd, LENGTH, buckets)
    assert [c.bucket for c in clips] == [Bucket(32, 32)]  # aspect 27/35 is nearer 1 than 1.5
    wide = write_video(tmp_path / "wide.mkv", 10, 35, 27, codec="ffv1")
    assert plan_clips(wide, LENGTH, buckets)[0].bucket == Bucket(48, 32)  # 35/27 = 1.3: nearer 1.5
    from trainer.data import load_clip

    pixels = load_clip(clips[0])
    assert pixels.shape == (LENGTH, 32, 32, 3) and pixels.dtype == torch.uint8
    # scaling to cover, then a centre crop: a 64x32 frame into 16x16 averages pixel pairs (2k, 2k+1)
    # to 2k + 0.5, rounded half to even (2k), and keeps the middle 16 of 32 columns
    frame = torch.arange(64, dtype=torch.uint8).view(1, 1, 64, 1).expand(1, 32, 64, 3)
    assert torch.equal(fit(frame, Bucket(16, 16))[0, 0, :, 0], torch.arange(16, 48, 2, dtype=torch.uint8))


def test_clips_spread_over_a_long_video(tmp_path):
    v = write_video(tmp_path / "long.mp4", 30, 32, 32)
    starts = [c.start for c in plan_clips(v, LENGTH, [Bucket(32, 32)], frame_stride=2, clips_per_video=3)]
    assert starts == [0, 6, 13]  # 30 frames, span (9 - 1) * 2 + 1 = 17: starts 0..13, evenly


@pytest.mark.parametrize("text, message", [
    ("830x480", "'830x480': width and height must be positive multiples of 16"),
    ("832by480", "'832by480': write sizes as WIDTHxHEIGHT"),
    ("", "give at least one"),
])
def test_bad_sizes_are_refused_by_name(text, message):
    with pytest.raises(DataError, match=message):
        parse_buckets(text)




def test_bad_videos_are_refused_naming_the_file(tmp_path):
    with pytest.raises(DataError, match=f"{tmp_path}: no videos found"):
        find_videos(tmp_path)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    with pytest.raises(DataError, match=f"{corrupt}: cannot be read as a video"):
        plan_clips(corrupt, LENGTH, [Bucket(W, H)])
    short = write_video(tmp_path / "short.mp4", 6, 32, 32)
    with pytest.raises(DataError, match=f"{short}: 6 frames, too short for one clip of 9 frames"):
        plan_clips(short, LENGTH, [Bucket(W, H)])


def test_cache_keeps_what_was_encoded_before_a_bad_video_and_can_skip_it(tmp_path, videos, vae, base):
    folder = tmp_path / "mixed"
    write_video(folder / "a_good.mp4", 10, 32, 32)
    (folder / "b_bad.mp4").write_bytes(b"not a video at all")
    write_video(folder / "c_good.mp4", 10, 32, 32, seed=5)
    with pytest.raises(DataError, match="b_bad.mp4: cannot be read"):
        cached_clips(folder, vae, base, tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 1  # a_good's stays cached
    clips = cached_clips(folder, vae, base, tmp_path / "cache", on_bad_video="skip")
    assert len(clips) == 2
    clip = clips[0]
    assert clip.latent.shape == (16, 3, 4, 4) and clip.pixels.shape == (9, 32, 32, 3)
    assert torch.equal(clip.context, torch.zeros(1, 4096))  # no text encoder: the null prompt
    # the cache holds the model's latent space: the VAE's latent, through the latent format
    expected = base.latent_format.process_in(vae.encode(clip.pixels.float() / 255).float())[0]
    torch.testing.assert_close(clip.latent, expected, rtol=0, atol=0)


# --- the forward and the LoRA -----------------------------------------------------------------

def test_training_forward_equals_inference_forward_with_the_lora_as_comfyui_loads_it(pack, base, files):
    """The trainer's prediction (LoRA hooked on) against one Euler step of ComfyUI's own sampler
    (comfy.sample.sample_custom, sigmas [s, 0], so it returns the denoised x_t - s * v) on the
    model patched by the RoPE Interpolator's patch_model, with the same LoRA loaded by
    comfy.sd.load_lora_for_models (what LoraLoaderModelOnly calls). float32 throughout; the LoRA
    is merged into the weights there and added to the activations here, so sums differ in their
    rounding only: 2e-5 on values of size ~1."""
    import comfy.sample
    import comfy.samplers
    import comfy.sd

    mp = pack.vc_nodes.model_patch
    # float32 weights on ComfyUI's side too (on a GPU it would pick half precision by default)
    comfy_model = comfy.sd.load_diffusion_model(str(files["model"]), model_options={"dtype": torch.float32})
    wan = base.wan
    lora = LoRASet(wan, rank=4, alpha=2.0, seed=5)
    with torch.no_grad():
        for p in lora.up.values():
            p.normal_(0, 0.05, generator=torch.Generator().manual_seed(6))
    g = torch.Generator().manual_seed(0)
    z_raw = torch.randn(1, 16, 3, 4, 4, generator=g)
    cond_raw = torch.randn(1, 16, 2, 4, 4, generator=g)
    eps = torch.randn(1, 16, 3, 4, 4, generator=g)
    context = torch.randn(1, 5, 4096, generator=g)
    frames, sigma = [2, 7], 0.6

    patched, _ = comfy.sd.load_lora_for_models(mp.patch_model(comfy_model), None,
                                               lora.comfy_state_dict(), 1.0, 0)
    positive = vcn("conditions").attach_conditions([[context, {}]], cond_raw, frames, [1.0, 1.0], 4,
                                                   length=LENGTH)
    out = comfy.sample.sample_custom(patched, eps, 1.0, comfy.samplers.sampler_object("euler"),
                                     torch.tensor([sigma, 0.0]), positive, positive, z_raw, seed=0,
                                     disable_pbar=True).cpu()  # from the model's device

    fmt = base.latent_format
    z = fmt.process_in(z_raw)
    x_t = (1 - sigma) * z + sigma * eps
    lora.attach(wan)
    try:
        with torch.no_grad():
            v = predict(wan, x_t, torch.tensor([sigma]), context, fmt.process_in(cond_raw), frames)
    finally:
        lora.detach()
    torch.testing.assert_close(out, fmt.process_out(x_t - sigma * v), rtol=2e-5, atol=2e-5)
    # and the LoRA mattered: without it the prediction is another
    with torch.no_grad():
        v0 = predict(wan, x_t, torch.tensor([sigma]), context, fmt.process_in(cond_raw), frames)
    assert (v0 - v).abs().max() > 1e-2


def test_a_lora_of_another_model_is_refused_naming_the_file(base, tmp_path):
    other = TinyWan(dim=256).build(seed=3)
    path = tmp_path / "other.safetensors"
    save_file(LoRASet(other, rank=2).comfy_state_dict(), str(path))
    with pytest.raises(LoRAError, match=f"{path}: layer 'blocks.0.cross_attn.k' is 128x128 in this model "
                                        f"but 256x256 in the LoRA: a LoRA of another model"):
        LoRASet.from_comfy(base.wan, load_file(str(path)), str(path))
    sd = {f"lora_unet_x{k}": v for k, v in LoRASet(base.wan, rank=2).comfy_state_dict().items()}
    with pytest.raises(LoRAError, match="not a LoRA in ComfyUI's format"):
        LoRASet.from_comfy(base.wan, sd, "sdxl.safetensors")


def test_merging_a_lora_gives_the_weights_comfyui_patches_in(base, files):
    """trainer.merge folds the LoRA in as LoraLoaderModelOnly's patch does (float32: 1e-6)."""
    import comfy.sd

    from trainer.merge import merge

    lora = LoRASet(base.wan, rank=4, alpha=8.0, seed=1)
    with torch.no_grad():
        for p in lora.up.values():
            p.normal_(0, 0.1, generator=torch.Generator().manual_seed(2))
    original = load_file(str(files["model"]))
    merged = merge(original, lora.comfy_state_dict(), strength=0.5)
    model = comfy.sd.load_diffusion_model(str(files["model"]), model_options={"dtype": torch.float32})
    patched, _ = comfy.sd.load_lora_for_models(model, None, lora.comfy_state_dict(), 0.5, 0)
    patched.patch_model()
    try:
        weights = {k: v.cpu() for k, v in patched.model.diffusion_model.state_dict().items()}
        for k, v in merged.items():
            torch.testing.assert_close(weights[k], v, rtol=1e-6, atol=1e-6, msg=lambda m, k=k: f"{k}: {m}")
        changed = [k for k in merged if not torch.equal(merged[k], original[k])]
        assert len(changed) == 2 * 10  # every LoRA layer, nothing else
    finally:
        patched.unpatch_model()


def test_overfitting_a_few_clips_lowers_the_loss(clips, vae, base):
    """Two tiny clips, 60 steps of one sample: the loss over fixed draws (noise level, noise,
    anchors) falls by more than 1.6x (measured: 2.0x; rank 8, lr 3e-2)."""
    tr = trainer_for(base, vae, clips[:2], steps=60, batch_size=1, lr=3e-2)
    before = tr.eval_loss(4)
    losses = tr.run(log=lambda *_: None)
    after = tr.eval_loss(4)
    assert len(losses) == 60 and all(np.isfinite(losses))
    assert after < before / 1.6, (before, after)
    assert np.mean(losses[-15:]) < np.mean(losses[:15])


def test_training_runs_under_comfyuis_training_switch_and_sampling_does_not(clips, vae, base):
    """ComfyUI's own switch (comfy.model_management.in_training; 0.33.0 routes RoPE through
    comfy-kitchen kernels with no backward unless it is on) is on for every training forward and
    back to what it was afterwards, so sampling runs the kernels it always runs."""
    import comfy.model_management as mm

    seen = []
    handle = base.wan.blocks[0].register_forward_pre_hook(lambda *_: seen.append(mm.in_training))
    before = getattr(mm, "in_training", False)
    try:
        tr = trainer_for(base, vae, clips[:1], steps=1, batch_size=1)
        tr.run(log=lambda *_: None)
        tr.eval_loss(1)
    finally:
        handle.remove()
    assert seen and all(seen)
    assert getattr(mm, "in_training", False) is before is False


def test_an_fp8_base_trains_as_unetloader_loads_it(files, clips, vae, base):
    """weight_dtype fp8_e4m3fn, as UNETLoader passes it: the frozen weights stay fp8 (ComfyUI's
    manual-cast ops cast them per call), the LoRA trains in float32 beside them."""
    fp8 = models.load_base(str(files["model"]), "fp8_e4m3fn", torch.device("cpu"))
    q = fp8.wan.blocks[0].self_attn.q
    assert q.weight.dtype == torch.float8_e4m3fn and q.comfy_cast_weights
    tr = Trainer(fp8.wan, clips, lambda c: models.encode_images(vae, c, fp8.latent_format),
                 TrainConfig(steps=2, lr=1e-2, rank=4, max_anchors=2), torch.device("cpu"), shift=fp8.shift)
    losses = tr.run(log=lambda *_: None)
    assert all(np.isfinite(losses)) and q.weight.dtype == torch.float8_e4m3fn
    assert all(p.dtype == torch.float32 for p in tr.lora.parameters())
    assert any(p.abs().max() > 0 for p in tr.lora.up.values())
    # the same draws on the full-precision base: fp8 rounding moves the first loss by little
    full = trainer_for(base, vae, clips, steps=1, lr=1e-2, rank=4, max_anchors=2, batch_size=1)
    full.run(log=lambda *_: None)
    assert abs(losses[0] - full.losses[0]) < 0.05 * full.losses[0]


def test_a_ti2v_5b_layout_trains_with_its_own_geometry(checkpoints):
    """Wan 2.2 TI2V-5B's layout (48 latent channels, a 16x VAE: sizes in multiples of 32), on the
    tiny 48-channel Wan. No tiny Wan 2.2 VAE exists (ComfyUI builds it at full width only), so the
    latents are random and the anchors' encoder a fixed pooling map to 48 channels."""
    from trainer.data import parse_buckets
    from trainer.loop import Sample

    ti2v = models.load_base(str(comfy_dir() / "models" / "diffusion_models" / checkpoints["wan22_ti2v_tiny"]),
                            "default", torch.device("cpu"))
    assert ti2v.spatial_multiple == 32 and type(ti2v.latent_format).__name__ == "Wan22"
    with pytest.raises(DataError, match="multiples of 32"):
        parse_buckets("48x32", ti2v.spatial_multiple)
    g = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (LENGTH, 64, 64, 3), dtype=torch.uint8, generator=g)
    clip = Sample(torch.randn(48, 3, 4, 4, generator=g), pixels, torch.zeros(1, 4096))

    def encode(canvases):  # [K, 64, 64, 3] -> [1, 48, K, 4, 4]
        pooled = torch.nn.functional.avg_pool2d(canvases.permute(0, 3, 1, 2), 16)
        return pooled.repeat(1, 16, 1, 1).movedim(0, 1).unsqueeze(0)

    tr = Trainer(ti2v.wan, [clip], encode, TrainConfig(steps=3, lr=1e-2, rank=4, max_anchors=3),
                 torch.device("cpu"), shift=ti2v.shift)
    losses = tr.run(log=lambda *_: None)
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert any(p.abs().max() > 0 for p in tr.lora.up.values())


def test_gradient_checkpointing_gives_the_same_step(clips, vae, base):
    plain = trainer_for(base, vae, clips, steps=2)
    plain.run(log=lambda *_: None)
    ckpt = trainer_for(base, vae, clips, steps=2, gradient_checkpointing=True)
    ckpt.run(log=lambda *_: None)
    assert plain.losses == ckpt.losses
    for (name, a), (_, b) in zip(plain.lora.named_parameters(), ckpt.lora.named_parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=name)
    assert all("forward" not in block.__dict__ for block in base.wan.blocks)  # unwrapped after


def test_micro_batches_train_what_one_forward_per_sample_trains(clips, vae, base):
    """Samples of one shape run as one forward, each row at its own anchor positions: the same
    losses (to 1e-5) and LoRA as one forward per sample, to float32 reassociation."""
    single = trainer_for(base, vae, clips, steps=3, batch_size=4, min_anchors=0)
    single.run(log=lambda *_: None)
    grouped = trainer_for(base, vae, clips, steps=3, batch_size=4, min_anchors=0, micro_batch=4)
    draws = [grouped.draw(0, j) for j in range(4)]
    assert len({len(d["anchors"]) for d in draws}) > 1  # the groups split by anchor count
    assert max(len(g) for g in grouped.micro_batches(draws)) > 1  # and some group has several rows
    grouped.run(log=lambda *_: None)
    torch.testing.assert_close(torch.tensor(grouped.losses), torch.tensor(single.losses), rtol=1e-5, atol=0)
    pairs = zip(single.lora.named_parameters(), grouped.lora.named_parameters(), strict=True)
    for (name, a), (_, b) in pairs:
        # Adam steps of 1e-2 normalise gradients, so where a gradient is near 0 the reassociation
        # shows: 1e-4 is 1 % of one step
        torch.testing.assert_close(b, a, rtol=0, atol=1e-4, msg=name)


# --- the command line: resume, refusals, torchrun -------------------------------------------------

def cli_args(files, videos, out, *extra):
    """The command line on the tiny model; files["cache"]: the module's cache folder."""
    return ["--comfyui", str(comfy_dir()), "--model", str(files["model"]), "--vae", str(files["vae"]),
            "--data", str(videos), "--out", str(out), "--sizes", f"{W}x{H}", "--length", str(LENGTH),
            "--cache", str(files["cache"]),
            "--rank", "4", "--lr", "5e-3", "--max-anchors", "3", "--device", "cpu", "--save-every", "2",
            *extra]


def run_cli(*args):
    from trainer.__main__ import cli

    return cli(list(args))


def test_an_interrupted_run_resumes_to_the_same_lora(tmp_path, files, videos):
    assert run_cli(*cli_args(files, videos, tmp_path / "whole", "--steps", "5", "--batch-size", "2")) == 0
    part = tmp_path / "part"
    assert run_cli(*cli_args(files, videos, part, "--steps", "5", "--batch-size", "2",
                             "--stop-after", "3")) == 0
    assert not (part / "videocanvas_lora.safetensors").exists()
    assert json.loads((part / "state.json").read_text())["step"] == 3
    assert run_cli(*cli_args(files, videos, part, "--steps", "5", "--batch-size", "2", "--resume")) == 0
    whole = load_file(str(tmp_path / "whole" / "videocanvas_lora.safetensors"))
    resumed = load_file(str(part / "videocanvas_lora.safetensors"))
    assert whole.keys() == resumed.keys() and len(whole) == 2 * 3 * 10  # 2 blocks x 10 layers
    for k in whole:
        assert torch.equal(whole[k], resumed[k]), k
    rows = [json.loads(r) for r in (part / "loss.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["loss"] for r in rows] == [json.loads(r)["loss"] for r in
                                         (tmp_path / "whole" / "loss.jsonl").read_text().splitlines()]
    assert (part / "videocanvas_lora_step000002.safetensors").exists()


def test_a_killed_run_resumes_to_the_same_lora(tmp_path, files, videos):
    """SIGKILL at any moment after the first periodic save, then --resume: the LoRA of a run never
    interrupted, bit for bit, and a loss log without the rows of the steps done twice."""
    import os
    import signal
    import time

    args = ["--steps", "12", "--save-every", "2", "--batch-size", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same thread count in every run: same sums
    cmd = [sys.executable, "-m", "trainer"]
    whole = subprocess.run([*cmd, *cli_args(files, videos, tmp_path / "whole", *args)], cwd=ROOT,
                           capture_output=True, text=True, timeout=300, env=env)
    assert whole.returncode == 0, whole.stderr[-3000:]
    out = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, *cli_args(files, videos, out, *args)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if (out / "state.json").exists() and json.loads((out / "state.json").read_text())["step"] >= 2:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    assert proc.wait(timeout=60) == -signal.SIGKILL  # killed mid-run, not finished
    saved = json.loads((out / "state.json").read_text())["step"]
    assert 2 <= saved < 12 and not (out / "videocanvas_lora.safetensors").exists()
    resumed = subprocess.run([*cmd, *cli_args(files, videos, out, *args, "--resume")], cwd=ROOT,
                             capture_output=True, text=True, timeout=300, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed at step {saved}" in resumed.stdout
    a = load_file(str(tmp_path / "whole" / "videocanvas_lora.safetensors"))
    b = load_file(str(out / "videocanvas_lora.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(r)["step"] for r in (out / "loss.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 13))
    assert len(list(out.glob("state-*.safetensors"))) == 1  # the last pair only


def test_resume_refuses_other_settings_and_a_fresh_run_refuses_a_used_folder(tmp_path, files, videos, capsys):
    out = tmp_path / "run"
    assert run_cli(*cli_args(files, videos, out, "--steps", "2", "--stop-after", "1")) == 0
    with pytest.raises(SystemExit, match="holds a run already; pass --resume"):
        run_cli(*cli_args(files, videos, out, "--steps", "2"))
    with pytest.raises(ValueError, match="cannot resume with other settings .*rank: 4 -> 8"):
        run_cli(*cli_args(files, videos, out, "--steps", "2", "--resume", "--rank", "8"))


def test_cli_errors_name_the_file(tmp_path, files, videos, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli(*cli_args(files, empty, tmp_path / "a", "--steps", "1")) == 2
    assert f"error: {empty}: no videos found" in capsys.readouterr().err
    other = tmp_path / "other.safetensors"
    save_file(LoRASet(TinyWan(dim=256).build(seed=2), rank=2).comfy_state_dict(), str(other))
    assert run_cli(*cli_args(files, videos, tmp_path / "b", "--steps", "1", "--init-lora", str(other))) == 2
    assert f"error: {other}: layer 'blocks.0.cross_attn.k' is 128x128" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="no such file"):
        run_cli(*cli_args({**files, "model": tmp_path / "missing.safetensors"}, videos, tmp_path / "c"))


def test_cli_refuses_a_length_that_is_not_4k_plus_1_naming_the_flag(tmp_path, files, videos, capsys):
    """vc_core.timing.check_length's rule and message, naming --length (last one given wins)."""
    assert run_cli(*cli_args(files, videos, tmp_path / "a", "--steps", "1", "--length", "32")) == 2
    assert "error: --length must be 4k+1 (…, 29, 33, …); got 32\n" in capsys.readouterr().err
    assert not (tmp_path / "a" / "state.json").exists()


def one_thread_env() -> dict:
    """torchrun runs each process with one thread: so does a single run compared with it, or its
    matmuls would sum in another order (and Adam magnifies last-bit differences of near-zero
    gradients)."""
    import os

    return {**os.environ, "OMP_NUM_THREADS": "1"}


def run_module(out: Path, files, videos, *extra, processes: int = 1) -> subprocess.CompletedProcess:
    """python -m trainer, or under torchrun with `processes` processes, on the tiny model."""
    from hostkit.server import free_port

    launch = [sys.executable]
    if processes > 1:
        launch += ["-m", "torch.distributed.run", "--nproc_per_node", str(processes),
                   "--master_port", str(free_port())]
    done = subprocess.run([*launch, "-m", "trainer", *cli_args(files, videos, out, *extra)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=one_thread_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def one_process_run(tmp_path_factory, files, videos) -> Path:
    """1 process x 2 samples x 3 steps: what the 2-process runs below must match."""
    out = tmp_path_factory.mktemp("one-process") / "run"
    run_module(out, files, videos, "--steps", "3", "--batch-size", "2")
    return out


def test_torchrun_two_processes_train_what_one_process_trains(tmp_path, files, videos, one_process_run):
    """2 CPU processes (gloo) x 1 sample each = 1 process x 2 samples: the same global batch, the
    same draws per sample; only the order of the gradient sums differs (all-reduce): 1e-6."""
    double = run_module(tmp_path / "two", files, videos, "--steps", "3", "--batch-size", "1", processes=2)
    assert "2 process(es)" in double.stdout
    a = load_file(str(one_process_run / "videocanvas_lora.safetensors"))
    b = load_file(str(tmp_path / "two" / "videocanvas_lora.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-6, atol=1e-6, msg=lambda m, k=k: f"{k}: {m}")
    assert any(a[k].abs().max() > 0 for k in a if "lora_up" in k)  # it did train


def test_torchrun_two_processes_with_a_sharded_base_train_what_one_process_trains(tmp_path, files, videos,
                                                                                 one_process_run):
    """--shard-base: 2 CPU processes (gloo) with the base split between them by FSDP2 (and gradient
    checkpointing recomputing each block inside its gathered weights) x 1 sample each = 1 process x
    2 samples with the whole base. Gathered weights are the base's exact values, so as for data
    parallel only the order of the gradient sums differs (all-reduce): 1e-6. Each process held half
    of the base's parameter elements, give or take those whose first dimension is 1 (Wan's
    modulation tables, [1, 6, dim]: all on the first process)."""
    sharded = run_module(tmp_path / "two", files, videos, "--steps", "3", "--batch-size", "1",
                         "--shard-base", "--gradient-checkpointing", processes=2)
    shards = json.loads((tmp_path / "two" / "shards.json").read_text())
    whole = sum(t.numel() for t in load_file(str(files["model"])).values())
    assert shards["processes"] == 2 and shards["base_elements"] == whole
    assert sum(shards["local_elements"]) == whole  # every element on exactly one process
    for local in shards["local_elements"]:
        assert abs(local - whole / 2) < 0.01 * whole, shards
    assert f"base sharded over 2 processes: {min(shards['local_elements']):,}-" in sharded.stdout
    a = load_file(str(one_process_run / "videocanvas_lora.safetensors"))
    b = load_file(str(tmp_path / "two" / "videocanvas_lora.safetensors"))
    assert a.keys() == b.keys()  # the same file format: the same keys, shapes and dtypes
    for k in a:
        assert a[k].dtype == b[k].dtype
        torch.testing.assert_close(a[k], b[k], rtol=1e-6, atol=1e-6, msg=lambda m, k=k: f"{k}: {m}")
    assert any(a[k].abs().max() > 0 for k in a if "lora_up" in k)  # it did train


def test_a_sharded_base_with_micro_batches_keeps_the_processes_in_step(tmp_path, files, videos, clips, vae,
                                                                       base):
    """Sharded blocks are gathered by all processes together, so each runs as many forwards; with
    --micro-batch the groups per process depend on its samples' anchor counts. Seed 2, step 0:
    the first process's two samples share one shape (one forward), the second's do not (two), so
    the first repeats a forward at weight 0. 2 processes x 2 samples in groups of up to 2 = 1 process
    x 4 samples one by one, to float32 reassociation as in the micro-batch test (losses 1e-5, LoRA
    1e-4)."""
    args = ("--steps", "2", "--seed", "2")
    plan = trainer_for(base, vae, clips, seed=2, max_anchors=3, batch_size=2, micro_batch=2)
    groups = [len(plan.micro_batches([plan.draw(0, j) for j in (2 * rank, 2 * rank + 1)])) for rank in (0, 1)]
    assert groups == [1, 2]
    run_module(tmp_path / "one", files, videos, *args, "--batch-size", "4")
    run_module(tmp_path / "two", files, videos, *args, "--batch-size", "2", "--micro-batch", "2",
               "--shard-base", processes=2)

    def losses(out):
        return torch.tensor([json.loads(r)["loss"] for r in (out / "loss.jsonl").read_text().splitlines()])

    torch.testing.assert_close(losses(tmp_path / "two"), losses(tmp_path / "one"), rtol=1e-5, atol=0)
    a = load_file(str(tmp_path / "one" / "videocanvas_lora.safetensors"))
    b = load_file(str(tmp_path / "two" / "videocanvas_lora.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-4, msg=lambda m, k=k: f"{k}: {m}")


def test_shard_base_needs_several_processes(tmp_path, files, videos):
    with pytest.raises(SystemExit, match="--shard-base: splits the base across the processes of a "
                                         r"distributed launch \(torchrun --nproc_per_node N"):
        run_cli(*cli_args(files, videos, tmp_path / "one", "--steps", "1", "--shard-base"))
    assert not (tmp_path / "one").exists()  # refused before anything was loaded or written
    # gloo fails on fp8 tensors ("Invalid scalar type" in FSDP's all-gather): said before it starts
    with pytest.raises(SystemExit, match="--shard-base with --weight-dtype fp8_e4m3fn: on the CPU the "
                                         "processes talk through gloo, which cannot gather fp8"):
        run_cli(*cli_args(files, videos, tmp_path / "one", "--steps", "1", "--shard-base",
                          "--weight-dtype", "fp8_e4m3fn"))


def test_a_stray_rank_variable_is_no_launcher(monkeypatch):
    from trainer.loop import Distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setenv("RANK", "4")  # e.g. a shell script's own LoRA rank setting
    d = Distributed("cpu")
    assert (d.world, d.rank, d.main) == (1, 0, True)


def test_help_runs():
    done = subprocess.run([sys.executable, "-m", "trainer", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "--gradient-checkpointing" in done.stdout


# --- inside ComfyUI: the node, SaveLoRA, LoraLoaderModelOnly ---------------------------------------

COLOUR = (192, 64, 32)  # 0xC04020
# A random VAE decodes nothing like its input: pixel PSNR needs a trained one, the bundled toy VAE
# (registered with VAELoader by the pack), at its 64x64 size.
TOY_VAE, SIZE = "videocanvas_toy_vae.safetensors", 64


def sampling_graph(checkpoints, object_info, lora_name=None, frame=4, seed=7) -> dict:
    """Tiny Wan (+ LoRA through LoraLoaderModelOnly) -> RoPE Interpolator -> VideoCanvas Sampler
    with one full-frame condition of solid COLOUR at `frame` -> Decode (toy VAE) -> SaveImage.
    Size and length come from a VideoCanvas Canvas node where the pack has it (else the sampler's
    own width / height / length and the conditioner's fps)."""
    model = ["unet", 0]
    p = {
        "canvas": {"class_type": "VideoCanvasCanvas", "inputs": {"width": SIZE, "height": SIZE,
                                                                 "length": LENGTH, "fps": 16.0}},
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": checkpoints["wan21_t2v_tiny"],
                                                        "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": TOY_VAE}},
        "text": {"class_type": "VideoCanvasNullPrompt", "inputs": {}},
        "img": {"class_type": "EmptyImage", "inputs": {"width": SIZE, "height": SIZE, "batch_size": 1,
                                                       "color": 0xC04020}},
        "place": {"class_type": "VideoCanvasPatchPlacer", "inputs": {
            "image": ["img", 0], "x": 0.0, "y": 0.0, "width": 1.0, "height": 1.0, "unit": "fraction",
            "fit": "stretch", "feather": 0.0}},
        "when": {"class_type": "VideoCanvasTimestampConditioner", "inputs": {
            "patch": ["place", 0], "frames": str(frame), "unit": "frames", "canvas": ["canvas", 0],
            "strength": 1.0}},
        "decode": {"class_type": "VideoCanvasDecode", "inputs": {
            "vae": ["vae", 0], "latent": ["sample", 0], "tile_size": 0, "paste_back": False, "feather": 0.0}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["decode", 0],
                                                       "filename_prefix": f"trainer_test_{seed}"}},
    }
    if lora_name:
        p["lora"] = {"class_type": "LoraLoaderModelOnly", "inputs": {
            "model": ["unet", 0], "lora_name": lora_name, "strength_model": 1.0}}
        model = ["lora", 0]
    p["rope"] = {"class_type": "VideoCanvasRoPEInterpolator", "inputs": {
        "model": model, "position_policy": "interpolate", "paradigm": "in_context"}}
    p["sample"] = {"class_type": "VideoCanvasSampler", "inputs": {
        "model": ["rope", 0], "positive": ["text", 0], "negative": ["text", 0], "vae": ["vae", 0],
        "canvas": ["canvas", 0], "batch_size": 1, "seed": seed, "steps": 4, "cfg": 1.0,
        "sampler_name": "euler", "scheduler": "simple", "denoise": 1.0, "conditions": ["when", 0]}}
    if "VideoCanvasCanvas" not in object_info:
        del p["canvas"], p["when"]["inputs"]["canvas"], p["sample"]["inputs"]["canvas"]
        p["when"]["inputs"]["fps"] = 16.0
        p["sample"]["inputs"].update(width=SIZE, height=SIZE, length=LENGTH)
    return p


def saved_frames(server, entry) -> np.ndarray:
    from PIL import Image

    images = entry["outputs"]["save"]["images"]
    return np.stack([np.asarray(Image.open(Path(server.output_dir) / im["subfolder"] / im["filename"]),
                                dtype=np.float64) / 255 for im in images])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def test_the_node_trains_in_comfyui_and_loraloadermodelonly_loads_its_lora(server, checkpoints, input_folder,
                                                                          object_info):
    """Inside a real server: VideoCanvas Train LoRA (tiny Wan, clips of one solid colour) -> SaveLoRA;
    the file, moved to models/loras, loads through LoraLoaderModelOnly with no 'lora key not loaded'
    warning and pulls the conditioned frame towards the condition: PSNR up by more than 3 dB
    against the base with the same seed (measured: 10.2 -> 14.3 dB; an overfit LoRA: it has seen
    only this colour)."""
    import shutil

    folder = input_folder[0] / "solid"
    for i in range(2):
        write_video(folder / f"solid{i}.mp4", 12, SIZE, SIZE, color=COLOUR)
    train = {
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": checkpoints["wan21_t2v_tiny"],
                                                        "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": TOY_VAE}},
        "text": {"class_type": "VideoCanvasNullPrompt", "inputs": {}},
        "train": {"class_type": "VideoCanvasTrainLoRA", "inputs": {
            "model": ["unet", 0], "vae": ["vae", 0], "positive": ["text", 0],
            "folder": f"{input_folder[1]}/solid", "width": SIZE, "height": SIZE, "length": LENGTH,
            "clips_per_video": 1, "steps": 60,
            "batch_size": 1, "learning_rate": 0.02, "rank": 8, "alpha": 0.0, "max_anchors": 2, "seed": 0,
            "gradient_checkpointing": True, "targets": "self_attn.o,cross_attn.o,ffn.0,ffn.2"}},
        "save": {"class_type": "SaveLoRA", "inputs": {"lora": ["train", 1], "prefix": "loras/vc_trainer_test",
                                                      "steps": ["train", 3]}},
    }
    server.run(train, timeout=600)
    saved = sorted(Path(server.output_dir, "loras").glob("vc_trainer_test_60_steps_*.safetensors"))
    assert saved, list(Path(server.output_dir).rglob("*"))
    lora = load_file(str(saved[-1]))
    assert len(lora) == 2 * 4 * 3 and all(k.startswith("diffusion_model.blocks.") for k in lora)
    loras = comfy_dir() / "models" / "loras" / TEST_SUBDIR
    loras.mkdir(parents=True, exist_ok=True)
    shutil.copy(saved[-1], loras / "vc_trainer_test.safetensors")

    log_start = len(server.log())
    base = saved_frames(server, server.run(sampling_graph(checkpoints, object_info), timeout=300))
    tuned = saved_frames(server, server.run(
        sampling_graph(checkpoints, object_info, f"{TEST_SUBDIR}/vc_trainer_test.safetensors"), timeout=300))
    assert "lora key not loaded" not in server.log()[log_start:]
    target = np.broadcast_to(np.array(COLOUR) / 255, base.shape[1:])
    before, after = psnr(base[4], target), psnr(tuned[4], target)
    print(f"PSNR at the conditioned frame: base {before:.2f} dB, with the LoRA {after:.2f} dB")
    assert after > before + 3.0, (before, after)


def test_train_cost_benchmark_quick_run_writes_its_table(tmp_path):
    """benchmarks/train_cost.py --quick: the real-size script's code path on a tiny model (CPU)."""
    out = tmp_path / "train_cost.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks.train_cost", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [(r["frames"], r["checkpointing"], r["status"]) for r in rows] == [(9, False, "ok"),
                                                                             (9, True, "ok")]
    assert all(r["seconds_per_step"] > 0 and np.isfinite(r["loss"]) for r in rows)
    assert rows[0]["tokens"] == (3 + 2) * 4 * 4  # 3 latent frames + 2 anchors, 4x4 tokens each
    assert rows[0]["loss"] == rows[1]["loss"]  # checkpointing recomputes; it changes nothing
    assert "| 9 | 64x64 | 2 | 80 | off |" in result["markdown"]


@pytest.mark.parametrize("case", ["no_folder", "corrupt_video", "odd_width", "other_vae"])
def test_the_node_refuses_bad_input_naming_node_input_and_file(comfy, checkpoints, input_folder, case):
    """Files are named relative to ComfyUI's input folder (the node reads nothing outside it:
    tests/host/test_input_safety.py)."""
    from hostkit.inprocess import ExecutionFailed

    folder, name = input_folder[0] / "videos", f"{input_folder[1]}/videos"
    write_video(folder / "good.mp4", 12, 32, 32)
    unet, width = checkpoints["wan21_t2v_tiny"], 32
    expected = {"no_folder": f"folder '{input_folder[1]}/missing': no such folder in ComfyUI's input folder",
                "corrupt_video": f"{name}/broken.mp4: cannot be read as a video",
                "odd_width": "size '40x32': width and height must be positive multiples of 16",
                "other_vae": "vae: this VAE makes 16-channel latents but the model denoises 48"}[case]
    if case == "no_folder":
        name = f"{input_folder[1]}/missing"
    elif case == "corrupt_video":
        (folder / "broken.mp4").write_bytes(b"\x00" * 300)
    elif case == "odd_width":
        width = 40
    else:  # a TI2V-5B (48-channel) model with a Wan 2.1 VAE
        unet = checkpoints["wan22_ti2v_tiny"]
    prompt = {
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": unet, "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": checkpoints["wan21_vae_tiny"]}},
        "text": {"class_type": "VideoCanvasNullPrompt", "inputs": {}},
        "train": {"class_type": "VideoCanvasTrainLoRA", "inputs": {
            "model": ["unet", 0], "vae": ["vae", 0], "positive": ["text", 0], "folder": name,
            "width": width, "height": 32, "length": LENGTH, "clips_per_video": 1, "steps": 1,
            "batch_size": 1, "learning_rate": 0.001, "rank": 4, "alpha": 0.0, "max_anchors": 2, "seed": 0,
            "gradient_checkpointing": False, "targets": "self_attn.q"}},
        "save": {"class_type": "SaveLoRA", "inputs": {"lora": ["train", 1], "prefix": "loras/vc_refused"}},
    }
    with pytest.raises(ExecutionFailed) as err:
        comfy.run(prompt)
    assert err.value.data["node_type"] == "VideoCanvasTrainLoRA"
    message = err.value.data["exception_message"]
    assert message.startswith("VideoCanvas Train LoRA: ") and expected in message, message
    assert str(comfy_dir()) not in message, message


def test_train_cost_estimate_counts_the_real_size_grid():
    """--estimate (no run): Wan 2.1 1.3B at 832x480 has 30x52 tokens per latent frame; 81 frames =
    21 latent frames, + 4 anchors = 39000 tokens. Checkpointing runs the forward once more (4/3 of
    the FLOPs) and keeps one block's activations instead of 30."""
    from benchmarks.train_cost import estimate

    plain = estimate(81, 832, 480, 4, checkpointing=False)
    ckpt = estimate(81, 832, 480, 4, checkpointing=True)
    assert plain["tokens"] == ckpt["tokens"] == (21 + 4) * 30 * 52 == 39000
    assert ckpt["tflop_per_step"] == pytest.approx(plain["tflop_per_step"] * 4 / 3)
    assert ckpt["peak_gib"] < plain["peak_gib"] / 5
    assert estimate(33, 832, 480, 4, checkpointing=False)["tokens"] == (9 + 4) * 30 * 52


def test_the_node_continues_a_lora_and_refuses_one_of_another_model(comfy, checkpoints, input_folder):
    """init_lora: the node's own LORA_MODEL output continues (its rank wins over the input's); one
    trained on a wider Wan (dim 256) is refused, naming init_lora and the layer."""
    from hostkit.inprocess import ExecutionFailed
    from hostkit.tiny_models import save

    wide = f"{TEST_SUBDIR}/wan21_t2v_tiny_dim256.safetensors"
    path = comfy_dir() / "models" / "diffusion_models" / wide
    if not path.exists():
        save(TinyWan(dim=256).build(seed=5), path)
    write_video(input_folder[0] / "good.mp4", 12, 32, 32)

    def train(node, unet, rank, init=None):
        inputs = {"model": [f"{node}_unet", 0], "vae": ["vae", 0], "positive": ["text", 0],
                  "folder": input_folder[1], "width": 32, "height": 32, "length": LENGTH,
                  "clips_per_video": 1,
                  "steps": 1, "batch_size": 1, "learning_rate": 0.001, "rank": rank, "alpha": 0.0,
                  "max_anchors": 2, "seed": 0, "gradient_checkpointing": False, "targets": "self_attn.q"}
        if init:
            inputs["init_lora"] = [init, 1]
        return {f"{node}_unet": {"class_type": "UNETLoader", "inputs": {"unet_name": unet,
                                                                     "weight_dtype": "default"}},
                node: {"class_type": "VideoCanvasTrainLoRA", "inputs": inputs}}

    def prompt(first_unet):
        return {"vae": {"class_type": "VAELoader", "inputs": {"vae_name": checkpoints["wan21_vae_tiny"]}},
                "text": {"class_type": "VideoCanvasNullPrompt", "inputs": {}},
                **train("first", first_unet, 2), **train("second", checkpoints["wan21_t2v_tiny"], 8, "first"),
                "save": {"class_type": "SaveLoRA", "inputs": {"lora": ["second", 1],
                                                              "prefix": "loras/vc_continued"}}}

    comfy.run(prompt(checkpoints["wan21_t2v_tiny"]))
    saved = sorted((comfy_dir() / "output" / "loras").glob("vc_continued_*.safetensors"))
    continued = load_file(str(saved[-1]))
    assert continued["diffusion_model.blocks.0.self_attn.q.lora_down.weight"].shape[0] == 2  # rank 2
    with pytest.raises(ExecutionFailed) as err:
        comfy.run(prompt(wide))
    assert err.value.data["node_type"] == "VideoCanvasTrainLoRA"
    assert ("init_lora: layer 'blocks.0.self_attn.q' is 128x128 in this model but 256x256 in the LoRA"
            in err.value.data["exception_message"])
