"""Browser tests: ComfyUI's real frontend, served by a real ComfyUI server, in headless Chromium."""

from hostkit.inprocess import add_comfy_to_path

add_comfy_to_path()
