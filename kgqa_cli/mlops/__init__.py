"""MLOps pieces: the model registry (later: monitoring, labeling, retraining)."""
