"""Set-up of the browser tests' Chromium (hostkit.setup.ensure_chromium): installed with apt-get when
missing, nothing done when present, and where it cannot be installed, the reason written where the
browser tests read their skip message. apt-get itself is replaced here: these tests must not install
or remove system packages."""

from __future__ import annotations

import subprocess
import time

import pytest

from hostkit import setup


@pytest.fixture
def host(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOCANVAS_HOST_DIR", str(tmp_path))
    monkeypatch.setenv("VIDEOCANVAS_HOST", setup.PINNED_HOST)
    return tmp_path


class Apt:
    """Records the commands ensure_chromium runs and answers each with exit code `rc`."""

    def __init__(self):
        self.calls: list[list[str]] = []
        self.rc = 0

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd)
        return subprocess.CompletedProcess(cmd, self.rc, stdout="E: Unable to locate package\n")


@pytest.fixture
def apt(monkeypatch):
    fake = Apt()
    monkeypatch.setattr(setup.subprocess, "run", fake)
    return fake


def test_present_chromium_is_left_alone_and_a_stale_reason_removed(host, apt, monkeypatch, tmp_path):
    browser = tmp_path / "chromium"
    browser.write_text("")
    monkeypatch.setattr(setup, "CHROMIUM", browser)
    setup.chromium_unavailable_file().write_text("old reason")
    t0 = time.monotonic()
    setup.ensure_chromium()
    assert time.monotonic() - t0 < 0.5
    assert apt.calls == []
    assert not setup.chromium_unavailable_file().exists()


def test_missing_chromium_is_installed_with_apt_get_as_root(host, monkeypatch, tmp_path):
    browser = tmp_path / "chromium"
    monkeypatch.setattr(setup, "CHROMIUM", browser)
    monkeypatch.setattr(setup.os, "geteuid", lambda: 0)
    monkeypatch.setattr(setup.shutil, "which", lambda name: f"/usr/bin/{name}")

    calls = []

    def installs(cmd, **kwargs):
        calls.append(cmd)
        if cmd[:2] == ["apt-get", "install"]:
            browser.write_text("")
        return subprocess.CompletedProcess(cmd, 0, stdout="")

    monkeypatch.setattr(setup.subprocess, "run", installs)
    setup.ensure_chromium()
    assert calls == [["apt-get", "update", "-q"],
                         ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]]
    assert not setup.chromium_unavailable_file().exists()


@pytest.mark.parametrize("euid, apt_get, rc, reason", [
    (1000, "/usr/bin/apt-get", 0, "{browser} is missing and installing it needs root: "
                                  "`sudo apt-get install -y chromium`"),
    (0, None, 0, "{browser} is missing and this system has no apt-get to install it"),
    (0, "/usr/bin/apt-get", 100, "`apt-get update -q` exited with 100: E: Unable to locate package\n"),
])
def test_where_chromium_cannot_be_installed_set_up_goes_on_and_says_why(
        host, apt, monkeypatch, tmp_path, euid, apt_get, rc, reason):
    browser = tmp_path / "chromium"
    monkeypatch.setattr(setup, "CHROMIUM", browser)
    monkeypatch.setattr(setup.os, "geteuid", lambda: euid)
    monkeypatch.setattr(setup.shutil, "which", lambda name: apt_get)
    apt.rc = rc
    setup.ensure_chromium()  # never raises: only the browser tests need Chromium
    assert setup.chromium_unavailable_file().read_text() == reason.format(browser=browser)
