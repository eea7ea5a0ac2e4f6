"""Train a VideoCanvas LoRA on a Wan checkpoint: a folder of videos in, a LoRA ComfyUI loads out.

Command line: `python -m trainer --help` (from the pack's folder). Inside ComfyUI: the node
'VideoCanvas Train LoRA' (vc_nodes/train_lora.py). Both run the forward that inference runs
(vc_core.paradigms.in_context.in_context_forward) on ComfyUI's own WanModel.
"""
