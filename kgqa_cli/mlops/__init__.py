"""MLOps pieces: the model registry, alerts, and data-parallel training under torchrun."""
