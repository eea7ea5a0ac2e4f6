"""Development host tooling shared by the tests, the demo and the benchmarks: building the host
(venv + ComfyUI), starting a real ComfyUI server and talking to it, running ComfyUI in-process (and
reading its /object_info there), writing tiny checkpoints in ComfyUI's own formats and adapting the
templates to them (adapt.py). Not part of the node pack: ComfyUI never imports it. `hostkit.setup`
is stdlib-only (it runs before the venv exists)."""
