"""Issue 26, "Unbounded": memory bombs under a real cap, and Cancel inside long phases.

A ComfyUI server of its own gets a hard address-space cap (RLIMIT_AS, set on its PID with prlimit
after it has loaded the test models): past it every allocation fails, so a request the pack does not
refuse fails with an allocation error (or a bounded crash), never eats the machine. Each bomb of the
issue's sweep must be refused by the pack in under a second with its estimate, naming the node and
what fits, and the server must then still run a small prompt under the same cap.

The interrupt tests start a long phase (a VAE encode of a large canvas, a sampling step over many
tokens, a VAE decode of a large latent), POST /interrupt once it runs, and time the
execution_interrupted message.
"""

from __future__ import annotations

import json
import resource
import time
import uuid

import pytest

from helpers import timestamp_conditions
from hostkit.server import ComfyServer

CAP = 2 ** 30  # the address space the server may add to what it holds after warming up
REFUSE_WITHIN = 1.0  # seconds, the goal: from POST /prompt to the execution_error
CANCEL_WITHIN = 1.0  # seconds from POST /interrupt to execution_interrupted


@pytest.fixture(scope="module")
def capped(tmp_path_factory, checkpoints):
    out = tmp_path_factory.mktemp("capped")
    with ComfyServer(log_path=out / "server.log", output_dir=out) as srv:
        yield srv


def vm_size(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


def base(checkpoints) -> dict:
    return {
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": checkpoints["wan21_t2v_tiny"],
                                                        "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": checkpoints["wan21_vae_tiny"]}},
        "text": {"class_type": "VideoCanvasNullPrompt", "inputs": {}},
        "img": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1,
                                                       "color": 0xC04020}},
    }


def with_canvas(p: dict, width: int, height: int, length: int, frames: str | None = "0") -> list | None:
    p["canvas"] = {"class_type": "VideoCanvasCanvas", "inputs": {"width": width, "height": height,
                                                                 "length": length, "fps": 16.0}}
    return None if frames is None else timestamp_conditions(p, frames)


def sampler(checkpoints, width, height, length, frames="0", steps=1, seed=0) -> dict:
    p = base(checkpoints)
    conditions = with_canvas(p, width, height, length, frames)
    p["sample"] = {"class_type": "VideoCanvasSampler", "inputs": {
        "model": ["unet", 0], "positive": ["text", 0], "negative": ["text", 0], "vae": ["vae", 0],
        "canvas": ["canvas", 0], "batch_size": 1, "seed": seed, "steps": steps, "cfg": 1.0,
        "sampler_name": "euler", "scheduler": "simple", "denoise": 1.0}}
    if conditions:
        p["sample"]["inputs"]["conditions"] = conditions
    p["show"] = {"class_type": "PreviewAny", "inputs": {"source": ["sample", 0]}}
    return p


def layout_preview(checkpoints, width, height) -> dict:
    p = base(checkpoints)
    with_canvas(p, width, height, 1)
    p["preview"] = {"class_type": "VideoCanvasLayoutPreview", "inputs": {
        "conditions": ["when", 0], "canvas": ["canvas", 0], "thumb_height": 96}}
    p["show"] = {"class_type": "PreviewImage", "inputs": {"images": ["preview", 0]}}
    return p


def conditioning_ksampler(checkpoints, width, height, length, frames: str | None = "0") -> dict:
    p = base(checkpoints)
    p["rope"] = {"class_type": "VideoCanvasRoPEInterpolator", "inputs": {
        "model": ["unet", 0], "position_policy": "interpolate", "paradigm": "in_context"}}
    conditions = with_canvas(p, width, height, length, frames)
    p["cond"] = {"class_type": "VideoCanvasConditioning", "inputs": {
        "positive": ["text", 0], "negative": ["text", 0], "vae": ["vae", 0], "canvas": ["canvas", 0],
        "batch_size": 1}}
    if conditions:
        p["cond"]["inputs"]["conditions"] = conditions
    p["sample"] = {"class_type": "KSampler", "inputs": {
        "model": ["rope", 0], "seed": 0, "steps": 1, "cfg": 1.0, "sampler_name": "euler",
        "scheduler": "simple", "denoise": 1.0, "positive": ["cond", 0], "negative": ["cond", 1],
        "latent_image": ["cond", 2]}}
    p["show"] = {"class_type": "PreviewAny", "inputs": {"source": ["sample", 0]}}
    return p


def good(checkpoints, seed=0) -> dict:
    return sampler(checkpoints, 64, 64, 9, "0, 8", seed=seed)


class Run:
    """A prompt over the websocket, with the time each message arrived (after POST /prompt)."""

    def __init__(self, server, prompt: dict):
        import websocket

        self.server, self.events = server, []
        self.client = str(uuid.uuid4())
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}/ws?clientId={self.client}", timeout=600)
        self.start = time.monotonic()
        status, body = server.submit(prompt, self.client)
        assert status == 200, body
        self.prompt_id = body["prompt_id"]

    def until(self, done, timeout=600.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.ws.recv()
            if not isinstance(msg, str):
                continue
            event = json.loads(msg)
            if event.get("data", {}).get("prompt_id") not in (None, self.prompt_id):
                continue
            event["t"] = time.monotonic()
            self.events.append(event)
            if done(event):
                return event
            if event["type"] in ("execution_error", "execution_interrupted", "execution_success"):
                raise AssertionError(f"ended before the awaited event: {event}")
        raise TimeoutError("no such event")

    def finish(self) -> dict:
        try:
            return self.until(lambda e: e["type"] in ("execution_error", "execution_interrupted",
                                                      "execution_success"))
        finally:
            self.ws.close()


def runs(server, prompt) -> None:
    assert Run(server, prompt).finish()["type"] == "execution_success"


# --- bombs under a cap ------------------------------------------------------------------------------

BOMBS = {
    # name: (graph, node refused, fragments of its message)
    "layout_preview_16384": (lambda c: layout_preview(c, 16384, 16384), "VideoCanvasLayoutPreview",
                             ["conditions: rendering 1 condition canvas of 16384x16384 needs an "
                              "estimated 28.0 GiB", "at most about"]),
    "sampler_8192_length_1": (lambda c: sampler(c, 8192, 8192, 1), "VideoCanvasSampler",
                              ["conditions: this request makes 524,288 tokens per sample",
                               "tokens per sample fit"]),
    "conditioning_ksampler_4096": (lambda c: conditioning_ksampler(c, 4096, 4096, 1),
                                   "VideoCanvasConditioning",
                                   ["conditions: rendering 1 condition canvas of 4096x4096 needs an "
                                    "estimated 1.8 GiB", "at most about"]),
    "no_conditions_2048x81": (lambda c: sampler(c, 2048, 2048, 81, frames=None), "VideoCanvasSampler",
                              ["length: this request makes 344,064 tokens per sample (21 video "
                               "latent frames)", "Use a shorter length or a smaller size"]),
    # the same through KSampler on a patched model: its PREPARE_SAMPLING wrapper checks the video alone
    "no_conditions_ksampler_2048x81": (
        lambda c: conditioning_ksampler(c, 2048, 2048, 81, frames=None), "KSampler",
        ["length: this request makes 344,064 tokens per sample (21 video latent frames)",
         "Use a shorter length or a smaller size"]),
    "conditions_10000_on_10001_frames": (
        lambda c: sampler(c, 64, 64, 10001, frames=", ".join(map(str, range(10000)))),
        "VideoCanvasSampler", ["conditions: this request makes 200,016 tokens per sample (2501 video "
                               "latent frames + 10000 condition frames)"]),
}


def test_memory_bombs_are_refused_within_a_second_under_a_hard_cap(capped, checkpoints):
    runs(capped, good(checkpoints))  # loaders cached: what is timed below is the request itself
    pid = capped.proc.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_AS)
    limit = vm_size(pid) + CAP
    resource.prlimit(pid, resource.RLIMIT_AS, (limit, hard))
    try:
        report = {}
        for name, (graph, node, fragments) in BOMBS.items():
            run = Run(capped, graph(checkpoints))
            end = run.finish()
            elapsed = end["t"] - run.start
            assert end["type"] == "execution_error", (name, end)
            data = end["data"]
            message = data["exception_message"]
            assert data["node_type"] == node, (name, message)
            assert data["exception_type"].endswith("ValueError"), (name, data["exception_type"])
            for fragment in fragments + ["left under this process's RLIMIT_AS"]:
                assert fragment in message, f"{name}: {fragment!r} not in: {message}"
            assert not any(e["type"] == "progress" for e in run.events), f"{name}: sampling started"
            assert elapsed < REFUSE_WITHIN, f"{name}: refused after {elapsed:.2f}s"
            report[name] = round(elapsed, 3)
        print("refusal seconds under RLIMIT_AS = VmSize + 1 GiB:", report)
        runs(capped, good(checkpoints, seed=1))  # the server lives on under the cap
    finally:
        resource.prlimit(pid, resource.RLIMIT_AS, (soft, hard))


# --- Cancel inside long phases ------------------------------------------------------------------------

def cancelled_within(server, prompt, node: str, settle: float) -> tuple[float, list]:
    """(seconds from POST /interrupt, sent `settle` s after `node` starts, to execution_interrupted;
    the messages received)."""
    run = Run(server, prompt)
    run.until(lambda e: e["type"] == "executing" and e["data"].get("node") == node)
    time.sleep(settle)
    sent = time.monotonic()
    status, _ = server.request("/interrupt", {})
    assert status == 200
    end = run.finish()
    assert end["type"] == "execution_interrupted", end
    return end["t"] - sent, run.events


def seconds_from_start(server, prompt, node: str) -> float:
    """Seconds from `node` starting to the end of `prompt`, run to completion (how long the phase
    lasts on this machine, so that Cancel can be sent inside it however fast the machine is)."""
    run = Run(server, prompt)
    start = run.until(lambda e: e["type"] == "executing" and e["data"].get("node") == node)["t"]
    end = run.finish()
    assert end["type"] == "execution_success", end
    return end["t"] - start


def test_cancel_stops_a_condition_encode_and_a_decode_within_a_second_and_a_step_inside_it(
        capped, checkpoints):
    # encode: one 640x640 canvas through the tiny VAE, most of that Sampler run; its longest layer is
    # the unit Cancel waits for (at 768x768: 1.9 s with both cores busy by other work). Cancel goes
    # a third of the way into the run as timed here (another seed: ComfyUI would reuse the output).
    encode = sampler(checkpoints, 640, 640, 1)
    encode_settle = seconds_from_start(capped, sampler(checkpoints, 640, 640, 1, seed=1), "sample") / 3
    # a step: 16 latent frames of 64x32 latents, 8,192 tokens: ~2 s a step on one core. Cancel is
    # checked before every layer; one attention call is the unit (~0.5 s here, ~2 s at 16,384 tokens)
    step = sampler(checkpoints, 512, 256, 61, frames=None, steps=3)
    # decode: 33 frames of 256x256 through the tiny VAE: ~40 s
    decode = base(checkpoints)
    decode["latent"] = {"class_type": "EmptyHunyuanLatentVideo", "inputs": {
        "width": 256, "height": 256, "length": 33, "batch_size": 1}}
    decode["decode"] = {"class_type": "VideoCanvasDecode", "inputs": {
        "vae": ["vae", 0], "latent": ["latent", 0], "tile_size": 0, "paste_back": False,
        "feather": 0.0}}
    decode["show"] = {"class_type": "PreviewImage", "inputs": {"images": ["decode", 0]}}
    report = {}
    for name, prompt, node, settle in (("encode", encode, "sample", encode_settle),
                                       ("decode", decode, "decode", 1.0)):
        report[name] = round(cancelled_within(capped, prompt, node, settle=settle)[0], 3)
    # the step: stopped inside the first step (ComfyUI alone checks only when a step ends, and
    # reports its progress first); one attention call over all tokens is not split, so not < 1 s
    seconds, events = cancelled_within(capped, step, "sample", settle=0.5)
    report["step"] = round(seconds, 3)
    print("seconds from /interrupt to execution_interrupted:", report)
    assert report["encode"] < CANCEL_WITHIN and report["decode"] < CANCEL_WITHIN, report
    assert not any(e["type"] == "progress" for e in events), "the first step ran to its end"
    runs(capped, good(checkpoints, seed=2))


def test_the_estimates_hold_over_measured_peaks():
    """The constants of vc_core.memory_estimates against a fresh process's peak RSS growth."""
    import subprocess

    from hostkit.setup import venv_python
    from vc_core import memory_estimates as est

    code = r"""
import resource, sys
sys.path.insert(0, {root!r})
from hostkit.inprocess import add_comfy_to_path
add_comfy_to_path()
import torch, comfy.sd
from hostkit.tiny_models import build_wan21_vae
from vc_core.plan import Box, ConditionSource, Patch, Placement, build_plan
torch.set_num_threads(1)
def status(key):
    return int([l for l in open('/proc/self/status') if l.startswith(key)][0].split()[1]) * 1024
def rss():
    # the peak (VmHWM) starts again from here: set-up before (VAE weights) may have peaked higher
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    return status('VmRSS')
def peak():
    return status('VmHWM')
vae = comfy.sd.VAE(sd=build_wan21_vae(dim=8).state_dict())
vae.not_video = True
src = [ConditionSource(Patch(torch.rand(64, 64, 3), placement=Placement(Box(0.25, 0.25, 0.5, 0.5),
                                                                        'contain')), frames=i)
       for i in range(3)]
b = rss(); plan = build_plan(src, 1024, 1024, 9); render = peak() - b
b = rss(); vae.encode(torch.rand(1, 384, 384, 3)); encode = peak() - b
print(render, encode)
"""
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([str(venv_python()), "-c", code.format(root=root)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    render, encode = map(int, out.stdout.split()[-2:])
    assert 0 < render <= est.render_bytes(3, 1024, 1024), (render, est.render_bytes(3, 1024, 1024))
    assert 0 < encode <= est.vae_pass_bytes(384 * 384, 8), (encode, est.vae_pass_bytes(384 * 384, 8))
    # not so loose that it refuses what fits: measured 0.80x of the estimate on ComfyUI 0.3.75 and
    # 0.34-0.47x on 0.33.0 (whose VAE encode holds less), so within 4x on every host
    assert encode > est.vae_pass_bytes(384 * 384, 8) / 4, (encode, est.vae_pass_bytes(384 * 384, 8))
