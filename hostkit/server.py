"""A real ComfyUI server as a subprocess on a free loopback port, and a small HTTP/websocket client.

Used by the tests (end-to-end through /prompt), the demo and the benchmarks alike.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from .inprocess import on_gpu
from .setup import comfy_dir, venv_python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    """`with ComfyServer() as srv:` starts `main.py --cpu` (on the GPU with VIDEOCANVAS_DEVICE=cuda),
    waits until it answers, stops it by PID."""

    def __init__(self, log_path: Path, output_dir: Path | None = None, extra_args: list[str] = (),
                 startup_timeout: float = 120.0):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.output_dir = output_dir
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None

    def start(self) -> ComfyServer:
        comfy = comfy_dir()
        device = [] if on_gpu() else ["--cpu"]
        cmd = [str(venv_python() if venv_python().exists() else sys.executable), "main.py", *device,
               "--listen", "127.0.0.1", "--port", str(self.port), "--disable-api-nodes",
               *self.extra_args]
        if self.output_dir is not None:
            cmd += ["--output-directory", str(self.output_dir)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=comfy, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode} during start-up; "
                                   f"log:\n{self.log()[-3000:]}")
            try:
                self.get("/system_stats")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"ComfyUI did not answer within {self.startup_timeout}s; log:\n"
                           f"{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        self.proc = None

    def __enter__(self) -> ComfyServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    # --- HTTP -----------------------------------------------------------------------------------
    def request(self, path: str, body: dict | None = None, timeout: float = 30.0) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        try:
            return status, json.loads(raw)
        except json.JSONDecodeError:
            return status, raw

    def get(self, path: str) -> object:
        status, payload = self.request(path)
        if status != 200:
            raise RuntimeError(f"GET {path} -> {status}: {payload}")
        return payload

    def submit(self, prompt: dict, client_id: str | None = None) -> tuple[int, dict]:
        """POST /prompt; returns (HTTP status, body): 200 with prompt_id, or 400 with node_errors."""
        return self.request("/prompt", {"prompt": prompt, "client_id": client_id or str(uuid.uuid4())})

    def run(self, prompt: dict, timeout: float = 600.0) -> dict:
        """Submit, follow it over the websocket until done; returns its /history entry.
        Raises PromptFailed with ComfyUI's validation or execution error."""
        import websocket  # websocket-client, installed in the host venv

        client_id = str(uuid.uuid4())
        ws = websocket.create_connection(f"ws://127.0.0.1:{self.port}/ws?clientId={client_id}",
                                         timeout=timeout)
        try:
            status, body = self.submit(prompt, client_id)
            if status != 200:
                raise PromptFailed("rejected", body)
            prompt_id = body["prompt_id"]
            self.events = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                msg = ws.recv()
                if not isinstance(msg, str):
                    continue  # binary preview frames
                event = json.loads(msg)
                if event.get("data", {}).get("prompt_id") not in (None, prompt_id):
                    continue
                self.events.append(event)
                kind = event["type"]
                if kind == "execution_error":
                    raise PromptFailed("execution_error", event["data"])
                if kind == "execution_success" or (kind == "executing" and
                                                   event["data"].get("node") is None):
                    break
            else:
                raise TimeoutError(f"prompt {prompt_id} not finished after {timeout}s")
        finally:
            ws.close()
        # ComfyUI announces success before its prompt worker has stored the /history entry.
        deadline = time.monotonic() + 30
        while (entry := self.get(f"/history/{prompt_id}").get(prompt_id)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"prompt {prompt_id} finished but has no /history entry")
            time.sleep(0.05)
        return entry


class PromptFailed(Exception):
    def __init__(self, kind: str, payload: dict):
        self.kind, self.payload = kind, payload
        super().__init__(f"{kind}: {json.dumps(payload)[:2000]}")
