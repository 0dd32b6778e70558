"""Training cost: stages (pretraining, fine-tuning, alignment), per-GPU memory, GPU-hours, dollars, sizing."""
