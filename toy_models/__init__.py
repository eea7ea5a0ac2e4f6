"""Training-side tools for the tiny VideoCanvas models: procedural data, no ComfyUI imports."""
