"""Development host tooling shared by the tests, the demo and the benchmarks: building the host
(venv + ComfyUI), starting a real ComfyUI server and talking to it, running ComfyUI in-process, and
writing tiny checkpoints in ComfyUI's own formats. Not part of the node pack: ComfyUI never imports
it. `hostkit.setup` is stdlib-only (it runs before the venv exists)."""
