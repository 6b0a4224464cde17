"""Process-wide torch settings shared by training and inference: seeds and CPU threads."""

from __future__ import annotations

import os
import random


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA), so the same data and config give the same model."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads; ``None`` means every core."""
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)
