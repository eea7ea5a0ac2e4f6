"""The bundled toy model's recipes (dev tooling, not the product): procedural training videos, the toy
VAE and DiT trainers, their evaluation, and the example inputs drawn from the same generator. The
product LoRA trainer for real Wan checkpoints is trainer/."""
