"""The toy-model trainers' pieces: the paper's patch sampling, one training step per variant, and
resumable safetensors-only checkpoints."""

import pytest
import torch

from toy_models.common import RunDir, cosine_lr
from toy_models.train_dit import FRAMES, LATENT_FRAMES, SIZE, build_dit, random_crop_mask, training_step


def test_patches_cover_20_to_100_percent_of_the_frame():
    gen = torch.Generator().manual_seed(0)
    areas = [random_crop_mask(gen).mean().item() for _ in range(300)]
    assert min(areas) >= 0.2 * 0.85 and max(areas) <= 1.0  # rounding to whole pixels
    assert max(areas) > 0.8 and min(areas) < 0.35


TOKENS_PER_FRAME = (SIZE // 16) ** 2  # 8x8 latents in 2x2 patches


def drawn_anchors(seed: int, max_anchors: int) -> list[int]:
    """The anchor frames training_step draws for its first sample from a generator seeded `seed`
    (k first, then frames)."""
    gen = torch.Generator().manual_seed(seed)
    k = int(torch.randint(0, max_anchors + 1, (), generator=gen))
    return sorted(torch.randperm(FRAMES, generator=gen)[:k].tolist())


def step_through_head(model, variant, data, add_to_tokens=None):
    """One training step; returns (loss, d loss / d the head's output [B, tokens, channels]), or
    the loss alone (no backward pass) when add_to_tokens, the token indices whose output is
    shifted by 100 first, is given."""
    seen = {}

    def hook(module, args, out):
        if add_to_tokens is not None:
            out = out.clone()
            out[:, add_to_tokens] += 100.0
        elif out.requires_grad:
            out.retain_grad()
        seen["out"] = out
        return out

    handle = model.head.register_forward_hook(hook)
    try:
        gen = torch.Generator().manual_seed(3)
        with torch.set_grad_enabled(add_to_tokens is None):
            loss, _ = training_step(model, variant, data, torch.arange(1), gen, 3, torch.device("cpu"))
    finally:
        handle.remove()
    if add_to_tokens is not None:
        return loss
    loss.backward()
    return loss, seen["out"].grad


def test_one_training_step_per_variant_is_finite_and_trains_video_tokens_only():
    from vc_core.timing import causal_latent_slot

    gen = torch.Generator().manual_seed(0)
    data = {"video": torch.randn(2, 16, LATENT_FRAMES, SIZE // 8, SIZE // 8, generator=gen),
            "conditions": torch.randn(2, FRAMES, 16, SIZE // 8, SIZE // 8, generator=gen)}
    frames = drawn_anchors(3, 3)  # seed 3 draws two anchors, in two different latent slots
    assert len(frames) == 2
    video_tokens = LATENT_FRAMES * TOKENS_PER_FRAME
    for variant in ("icc", "nearest", "replace"):
        model = build_dit(seed=0)
        loss, grad = step_through_head(model, variant, data)
        assert torch.isfinite(loss)
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
        if variant == "replace":  # conditions overwrite their slots, which carry no loss
            assert grad.shape[1] == video_tokens
            slots = {causal_latent_slot(f, 4) for f in frames}
            conditions = [t for s in sorted(slots) for t in range(s * TOKENS_PER_FRAME,
                                                                  (s + 1) * TOKENS_PER_FRAME)]
        else:  # in context: the condition tokens follow the video's
            assert grad.shape[1] == video_tokens + len(frames) * TOKENS_PER_FRAME
            conditions = list(range(video_tokens, grad.shape[1]))
        trained = sorted(set(range(grad.shape[1])) - set(conditions))
        # The loss never reads the model's output at condition tokens: exactly zero gradient there
        # (dropped from the output, or weighted by 0), and a nonzero one at every video token.
        assert conditions and torch.all(grad[:, conditions] == 0), variant
        assert torch.all(grad[:, trained].abs().amax(dim=(0, 2)) > 0), variant
        # so moving those outputs leaves the loss bit-identical; moving one video token does not
        assert torch.equal(step_through_head(model, variant, data, conditions), loss.detach()), variant
        assert step_through_head(model, variant, data, [trained[0]]) > loss + 1.0, variant


def test_every_sample_draws_its_own_anchors_and_crops_anew_at_every_step():
    """The paper's recipe: conditions are drawn per sample and per iteration from the clip's
    pixels, so one frame drawn again gets another crop (crops cut once per dataset would repeat)."""
    gen = torch.Generator().manual_seed(0)
    data = {"video": torch.randn(1, 16, LATENT_FRAMES, SIZE // 8, SIZE // 8, generator=gen),
            "pixels": torch.randint(0, 256, (1, FRAMES, SIZE, SIZE, 3), dtype=torch.uint8, generator=gen)}
    canvases = []

    def encode(c):  # stands in for the toy VAE: a fixed map from pixels to latents
        canvases.extend(c)
        pooled = torch.nn.functional.avg_pool2d(c.permute(0, 3, 1, 2), 8)  # [K, 3, 8, 8]
        return pooled.repeat(1, 6, 1, 1)[:, :16].movedim(0, 1).unsqueeze(0)

    model = build_dit(seed=0)
    step_gen = torch.Generator().manual_seed(11)
    per_sample = []
    for _ in range(2):  # two steps of four samples of the same clip
        before = len(canvases)
        with torch.no_grad():
            loss, _ = training_step(model, "icc", data, torch.zeros(4, dtype=torch.long), step_gen, 4,
                                    torch.device("cpu"), encode)
        assert torch.isfinite(loss)
        per_sample.append(len(canvases) - before)
    crops = {}  # frame -> the crop masks it was given
    for c in canvases:
        inside = (c != 0.5).any(-1)  # VAE_ZERO (0.5) outside the crop; 0.5 is no uint8 / 255
        frame = [f for f in range(FRAMES)
                 if torch.equal(data["pixels"][0, f][inside].float() / 255, c[inside])]
        assert len(frame) == 1  # a crop of exactly one frame of the clip
        crops.setdefault(frame[0], []).append(inside)
    repeated = [m for m in crops.values() if len(m) > 1]
    assert repeated  # 8 samples with 0..4 anchors of 17 frames: frames come up again
    for masks in repeated:
        assert not all(torch.equal(masks[0], m) for m in masks[1:])  # ... with new crops
    assert 0 < sum(per_sample) <= 8 * 4


def test_checkpoints_resume_model_and_adam_exactly(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    run = RunDir(tmp_path)
    run.save_state(model, opt, {"step": 1})
    assert not list(tmp_path.glob("*.pt")) and (tmp_path / "state.safetensors").exists()
    fresh = torch.nn.Linear(3, 2)
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=1e-2)
    assert RunDir(tmp_path).load_state(fresh, fresh_opt) == {"step": 1, "adam_step": 1.0}
    assert torch.equal(fresh.weight, model.weight)
    for p, q in zip(model.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(opt.state[p]["exp_avg_sq"], fresh_opt.state[q]["exp_avg_sq"])


def test_learning_rate_warms_up_then_decays_to_five_percent():
    assert cosine_lr(0, 1000, 1e-3, warmup=100) == 1e-5
    assert abs(cosine_lr(99, 1000, 1e-3, warmup=100) - 1e-3) < 1e-12
    assert abs(cosine_lr(1000, 1000, 1e-3, warmup=100) - 5e-5) < 1e-9


def test_latent_calibration_is_exact_and_gives_unit_content_std_after_the_wan_format():
    from hostkit.tiny_models import build_wan21_vae
    from toy_models.calibrate_vae import fold_affine, latent_affine

    vae = build_wan21_vae(dim=4, seed=1).eval()
    x = torch.rand(6, 3, 5, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1
    mean_w, std_w = torch.linspace(-0.5, 0.5, 16), torch.linspace(0.5, 2.0, 16)
    with torch.no_grad():
        mu = vae.encode(x)
        before = vae.decode(mu)
        a, b = latent_affine(mu, mean_w, std_w)
        vae.load_state_dict(fold_affine(vae.state_dict(), a, b))
        mu2 = vae.encode(x)
        after = vae.decode(mu2)
    assert torch.allclose(mu2, a.view(1, -1, 1, 1, 1) * mu + b.view(1, -1, 1, 1, 1), atol=1e-5)
    assert torch.allclose(after, before, atol=1e-4)  # decode(encode(x)) unchanged (fp32 rounding)
    z = (mu2 - mean_w.view(1, -1, 1, 1, 1)) / std_w.view(1, -1, 1, 1, 1)
    content = z - z.mean(0, keepdim=True)
    assert torch.allclose(content.pow(2).mean(dim=(0, 2, 3, 4)).sqrt(), torch.ones(16), atol=1e-4)
    assert torch.allclose(z.mean(dim=(0, 2, 3, 4)), torch.zeros(16), atol=1e-4)


def test_vae_regulariser_charges_a_content_free_pattern_and_a_collapsed_spread():
    from toy_models.train_vae import latent_regulariser

    mean, std = torch.linspace(-1, 1, 16), torch.linspace(0.5, 2, 16)
    fmt = lambda z: mean.view(1, -1, 1, 1, 1) + std.view(1, -1, 1, 1, 1) * z  # noqa: E731
    # A per-slot offset with no content: the pattern costs its mean square, the zero spread costs 1.
    offset = torch.arange(5.0).view(1, 1, 5, 1, 1).expand(8, 16, 5, 4, 4)
    assert latent_regulariser(fmt(offset), mean, std).item() == pytest.approx(6.0 + 1.0)
    # Content with the format's statistics at every position costs only sampling noise.
    content = torch.randn(64, 16, 5, 4, 4, generator=torch.Generator().manual_seed(0))
    assert latent_regulariser(fmt(content), mean, std).item() < 0.05


def test_decoder_only_training_moves_the_decoder_and_leaves_every_latent_bit_equal():
    """A DiT trained on a VAE's latents stays valid when that VAE's decoder is trained further."""
    from toy_models.train_vae import build_vae, latent_stats_target, reconstruction_loss, trainable_parameters

    vae = build_vae(4)
    x = torch.rand(2, 3, 5, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        latent_before = vae.encode(x).clone()
    encoder, decoder = ("encoder.", "conv1."), ("decoder.", "conv2.")
    encoder_before = {k: v.clone() for k, v in vae.state_dict().items() if k.startswith(encoder)}
    decoder_before = {k: v.clone() for k, v in vae.state_dict().items() if k.startswith(decoder)}
    params = trainable_parameters(vae, decoder_only=True)
    assert len(params) == sum(1 for n, _ in vae.named_parameters() if n.startswith(decoder))
    opt = torch.optim.Adam(params, lr=1e-2)
    loss, l1, mse, _ = reconstruction_loss(vae, x, *latent_stats_target(), decoder_only=True)
    assert loss.item() == pytest.approx((l1 + mse).item(), abs=0)  # no regulariser on a frozen latent
    loss.backward()
    opt.step()
    after = vae.state_dict()
    assert all(torch.equal(after[k], v) for k, v in encoder_before.items())
    assert sum(not torch.equal(after[k], v) for k, v in decoder_before.items()) > len(decoder_before) // 2
    with torch.no_grad():
        assert torch.equal(vae.encode(x), latent_before)


def test_the_encoded_training_set_is_keyed_by_the_encoder_and_the_data_recipe(monkeypatch, tmp_path):
    from safetensors.torch import load_file, save_file

    from toy_models import train_dit

    bundled = train_dit.dataset_path(1024)
    assert bundled.name.startswith("dit_data_1024_")
    # a decoder trained further leaves the latents, and so the cached set, valid; a new encoder does not
    sd = load_file(str(train_dit.VAE_FILE))
    assert bundled.name == "dit_data_1024_1ffe5c518c.safetensors"  # the bundled encoder, pinned
    for prefix, same in (("decoder.", True), ("conv2.", True), ("encoder.", False), ("conv1.", False)):
        changed = {k: v + 1 if k.startswith(prefix) else v for k, v in sd.items()}
        save_file(changed, str(tmp_path / "vae.safetensors"))
        with monkeypatch.context() as m:
            m.setattr(train_dit, "VAE_FILE", tmp_path / "vae.safetensors")
            assert (train_dit.dataset_path(1024) == bundled) is same
    monkeypatch.setattr(train_dit, "SCENE_CUTS", 0.0)
    assert train_dit.dataset_path(1024) != bundled  # clips without cuts must not reuse the cache
    assert train_dit.dataset_path(512).name.startswith("dit_data_512_")


def test_the_sparse_variant_trains_exactly_the_forward_the_pack_runs_with_sparse_tokens():
    """Training `sparse` masks the keys of the condition tokens the pack's sparse mode drops, batched;
    each row's output equals the pack's sparse forward (the tokens really left out) for that row."""
    from toy_models.train_dit import sample_forward
    from trainer.anchors import Anchor, anchor_masks
    from vc_core.condition_tokens import Footprint
    from vc_core.paradigms.in_context import in_context_forward
    from vc_core.wan_forward import ConditionLatents

    cpu = torch.device("cpu")
    model = build_dit(seed=0).eval()
    gen = torch.Generator().manual_seed(0)
    zt = torch.randn(2, 16, LATENT_FRAMES, SIZE // 8, SIZE // 8, generator=gen)
    t = torch.tensor([0.3, 0.7])
    cond = torch.randn(2, 16, 2, SIZE // 8, SIZE // 8, generator=gen)
    # Anchor(frame, top, left, height, width): partial boxes (tokens dropped) and one full frame
    rows = [[Anchor(3, 0, 0, 24, 40), Anchor(9, 40, 16, 24, 48)],
            [Anchor(0, 8, 8, 16, 16), Anchor(16, 0, 0, 64, 64)]]
    frames = [tuple(a.frame for a in r) for r in rows]
    with torch.no_grad():
        trained, _ = sample_forward(model, "sparse", zt, t, cond, frames, cpu, rows)
        full, _ = sample_forward(model, "icc", zt, t, cond, frames, cpu, rows)
        for r, anchors in enumerate(rows):
            boxes = anchor_masks(anchors, SIZE, SIZE)
            conditions = ConditionLatents(cond[r:r + 1], frames[r], stride=4,
                                          footprint=Footprint.from_masks(boxes, (SIZE // 8, SIZE // 8)))
            pack = in_context_forward(model, zt[r:r + 1], t[r:r + 1] * 1000, torch.zeros(1, 1, 4096),
                                      conditions, "interpolate", condition_tokens="sparse")
            assert torch.allclose(trained[r:r + 1], pack, rtol=1e-5, atol=1e-5), r
            # and dropping those tokens matters: the full forward differs
            assert (full[r] - trained[r]).abs().max() > 1e-3, r


def test_the_concat_variant_reads_the_mask_and_image_channels_comfyui_hands_a_wan_i2v_model():
    """A full first and a full last frame: the mask channels (1 = known, what ComfyUI hands the model
    as 1 - concat_mask) mark latent frame 0 whole and channel 3 of the last latent frame, exactly as
    WanFirstLastFrameToVideo lays them out; the image channels are the encoder's output for the grey
    video holding those two frames; a sample without anchors gets zeros (no concat inputs)."""
    from toy_models.train_dit import concat_channels
    from trainer.anchors import Anchor
    from vc_core.canvas import VAE_ZERO

    gen = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (2, FRAMES, SIZE, SIZE, 3), dtype=torch.uint8, generator=gen)
    seen = []

    def encode(videos):  # stands in for the VAE: records its input, returns a known latent
        seen.append(videos)
        return torch.full((videos.shape[0], 16, LATENT_FRAMES, SIZE // 8, SIZE // 8), 7.0)

    draws = [[Anchor(0, 0, 0, SIZE, SIZE), Anchor(FRAMES - 1, 0, 0, SIZE, SIZE)], []]
    out = concat_channels(pixels, draws, encode, torch.device("cpu"))
    assert out.shape == (2, 20, LATENT_FRAMES, SIZE // 8, SIZE // 8)
    known = torch.zeros(4, LATENT_FRAMES)
    known[:, 0] = 1
    known[3, LATENT_FRAMES - 1] = 1
    assert torch.equal(out[0, :4], known[:, :, None, None].expand(-1, -1, SIZE // 8, SIZE // 8))
    assert torch.equal(out[0, 4:], torch.full_like(out[0, 4:], 7.0))
    assert not out[1].any()
    (video,) = seen[0]  # one video encoded: the sample with anchors
    assert torch.equal(video[0], pixels[0, 0].float() / 255)
    assert torch.equal(video[-1], pixels[0, -1].float() / 255)
    assert torch.equal(video[1:-1], torch.full_like(video[1:-1], VAE_ZERO))


def test_the_vace_variant_reads_the_control_streams_and_mask_comfyui_hands_a_wan_vace_model():
    """A full first frame and the left half of frame 6: the control video holds them at their pixel
    frames (grey elsewhere), split into inactive / reactive streams as WanVaceToVideo splits them;
    the 64-channel mask (1 = generate) is 0 over latent frame 0 and over latent frame 2's left half
    (frame 6 is in latent frame 2: frames 5..8), 1 elsewhere; a sample without anchors gets the
    all-grey control video and an all-ones mask, what WanVaceToVideo gives without one."""
    from toy_models.train_dit import vace_context
    from trainer.anchors import Anchor
    from vc_core.paradigms.vace_control import control_streams

    gen = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (2, FRAMES, SIZE, SIZE, 3), dtype=torch.uint8, generator=gen)
    seen = []

    def encode(videos):  # stands in for the VAE: records its input, returns the stream's index
        seen.append(videos)
        return torch.arange(len(videos), dtype=torch.float32).view(-1, 1, 1, 1, 1).expand(
            -1, 16, LATENT_FRAMES, SIZE // 8, SIZE // 8)

    draws = [[Anchor(0, 0, 0, SIZE, SIZE), Anchor(6, 0, 0, SIZE, SIZE // 2)], []]  # (frame, top, left, h, w)
    out = vace_context(pixels, draws, encode, torch.device("cpu"))
    assert out.shape == (2, 96, LATENT_FRAMES, SIZE // 8, SIZE // 8)
    # channels 0-15 the sample's inactive stream, 16-31 its reactive one (one encode call, in order)
    assert [out[i, c].unique().tolist() for i in (0, 1) for c in (0, 16)] == [[0.0], [1.0], [2.0], [3.0]]
    generate = torch.ones(LATENT_FRAMES, SIZE // 8, SIZE // 8)
    generate[0] = 0
    generate[2, :, :SIZE // 16] = 0
    assert torch.equal(out[0, 32:], generate.expand(64, -1, -1, -1))
    assert torch.equal(out[1, 32:], torch.ones_like(out[1, 32:]))
    (videos,) = seen
    video = torch.full((FRAMES, SIZE, SIZE, 3), 0.5)
    video[0] = pixels[0, 0].float() / 255
    video[6, :, :SIZE // 2] = pixels[0, 6, :, :SIZE // 2].float() / 255
    pixel_generate = torch.ones(FRAMES, SIZE, SIZE)
    pixel_generate[0] = 0
    pixel_generate[6, :, :SIZE // 2] = 0
    inactive, reactive = control_streams(video, pixel_generate)
    assert torch.equal(videos[0], inactive) and torch.equal(videos[1], reactive)
    assert torch.equal(videos[2], torch.full_like(video, 0.5))  # grey: nothing known
    assert torch.equal(videos[3], torch.full_like(video, 0.5))


def test_the_untrained_vace_adapter_is_the_base_dit_and_only_the_control_blocks_train():
    """VACE's context-adapter recipe: the base DiT's weights loaded and frozen, each control block a
    copy of the block it sits beside with zero before/after projections, so before training the VACE
    model's output equals the base model's bit for bit whatever the control input; one step moves the
    control blocks and the control patch embedding and nothing else. With the base trained too (the
    shipped toy), every parameter trains from the same start."""
    from toy_models.train_dit import VACE_LAYERS, rope_video, vace_adapter_

    base = build_dit(seed=0)
    model = build_dit(seed=1, variant="vace")
    trained = vace_adapter_(model, base.state_dict())
    assert sorted(model.vace_layers_mapping) == list(range(0, 6, 6 // VACE_LAYERS)) == [0, 2, 4]
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and all(n.startswith(("vace_blocks.", "vace_patch_embedding.")) for n in names)
    assert len(trained) == len(names)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 16, LATENT_FRAMES, SIZE // 8, SIZE // 8, generator=gen)
    control = torch.randn(1, 1, 96, LATENT_FRAMES, SIZE // 8, SIZE // 8, generator=gen)
    t, context = torch.tensor([500.0]), torch.zeros(1, 1, 4096)
    with torch.no_grad():
        freqs = rope_video(base, torch.device("cpu"))
        plain = base.forward_orig(x, t, context, freqs=freqs)
        vace = model.forward_orig(x, t, context, vace_context=control, vace_strength=[1.0], freqs=freqs)
    assert torch.equal(plain, vace)
    everything = build_dit(seed=1, variant="vace")
    trained_all = vace_adapter_(everything, base.state_dict(), freeze=False)
    assert len(trained_all) == len(list(everything.parameters()))
    assert all(p.requires_grad for p in everything.parameters())
    with torch.no_grad():
        assert torch.equal(everything.forward_orig(x, t, context, vace_context=control, vace_strength=[1.0],
                                                   freqs=freqs), plain)

    data = {"video": torch.randn(2, 16, LATENT_FRAMES, SIZE // 8, SIZE // 8, generator=gen),
            "vace_pool": torch.randn(2, 3, 96, LATENT_FRAMES, SIZE // 8, SIZE // 8, generator=gen)}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW(trained, lr=1e-3)
    for _ in range(2):  # the first step moves after_proj only (the path to the rest starts at zero)
        loss, _ = training_step(model, "vace", data, torch.tensor([0, 1]), gen, 4, torch.device("cpu"))
        opt.zero_grad()
        loss.backward()
        opt.step()
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert moved and moved <= names
    assert {n.split(".")[0] for n in moved} == {"vace_blocks", "vace_patch_embedding"}


def test_steps_zero_fits_the_step_count_to_the_time_budget(monkeypatch):
    """--steps 0: steps 10..60 are timed (the first ones warm up), then the count is fixed so the
    rest fits 92 % of the time left; a given count is kept as it is."""
    import toy_models.common as common

    clock = [0.0]
    monkeypatch.setattr(common.time, "monotonic", lambda: clock[0])
    logged = []

    class Run:
        def log(self, **row):
            logged.append(row)

    budget = common.StepBudget(0, deadline=100.0)
    for step in range(60):
        clock[0] += 0.5  # every step takes 0.5 s
        budget.after(step, Run())
    # timed: 50 steps in 25 s; left: 70 s x 0.92 = 64.4 s, 128 steps of 0.5 s
    assert budget.steps == 60 + 128 and not budget.auto
    assert logged == [{"event": "steps fixed to fit the time budget", "steps": 188, "seconds_per_step": 0.5}]
    fixed = common.StepBudget(5000, deadline=100.0)
    for step in range(60):
        fixed.after(step, Run())
    assert fixed.steps == 5000 and len(logged) == 1


def test_a_deeper_or_wider_dit_is_read_back_by_comfyui_as_built():
    """--layers / --dim (the depth and width levers): ComfyUI's own detection reads the exported
    state dict back as the same Wan DiT (heads = dim // 128), so UNETLoader loads it unchanged."""
    import comfy.model_detection

    for arch in ({"dim": 128, "ffn_dim": 512, "num_layers": 12},
                 {"dim": 256, "ffn_dim": 1024, "num_layers": 2}):
        sd = build_dit(seed=0, arch=arch).state_dict()
        config = comfy.model_detection.detect_unet_config(sd, "")
        assert (config["dim"], config["ffn_dim"], config["num_layers"], config["num_heads"]) == (
            arch["dim"], arch["ffn_dim"], arch["num_layers"], arch["dim"] // 128)
        assert config["image_model"] == "wan2.1" and config["in_dim"] == 16
