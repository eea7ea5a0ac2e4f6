"""VideoCanvas maths: canvas, plan, timing, rotary positions, condition tokens, and the paradigms that
turn conditions into what a model family reads (vc_core/paradigms). Pure torch; never imports
ComfyUI, so every piece here is testable (and trainable) without a host."""
