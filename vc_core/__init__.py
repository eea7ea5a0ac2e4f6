"""VideoCanvas maths: canvas, timing, rotary positions, in-context tokens. Pure torch; never imports
ComfyUI, so every piece here is testable (and trainable) without a host."""
