"""Training: the ensemble loop, checkpoints and grokking detection."""
