"""Process-wide torch settings shared by training and inference: seeds, CPU threads, bfloat16."""

from __future__ import annotations

import os
import random
from functools import lru_cache


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


def limit_primitive_cache(entries: int = 16) -> None:
    """Keep few prepared oneDNN primitives (unless the caller set ONEDNN_PRIMITIVE_CACHE_CAPACITY).

    Inference meets a new batch width almost every batch; each width's fused LSTM primitive
    keeps its own buffers, and the default cache of 1024 grew ``kgqa extract`` of 5,000 DuIE
    sentences to 1.4 GB. Read by oneDNN when it prepares its first primitive, so call this
    before the first forward pass.
    """
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(entries))


@lru_cache(maxsize=4)  # asked on every extract call (each served request): the hardware does not change
def native_bfloat16(device: str = "cpu") -> bool:
    """Whether ``device`` computes in bfloat16 natively: a CUDA GPU that supports it, or a CPU
    with AVX-512 BF16 or AMX (elsewhere bfloat16 is emulated and slower than float32)."""
    import torch

    if str(device).startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = next((line for line in info if line.startswith("flags")), "").split()
    except OSError:  # not Linux: no way to tell here, stay in float32
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_bfloat16(setting: bool | str, device: str = "cpu") -> bool:
    """``kg.extract.bfloat16``: true, false, or ``auto`` (on where the device computes it natively)."""
    if isinstance(setting, str):
        return native_bfloat16(device) if setting == "auto" else setting.lower() in ("1", "true", "yes")
    return bool(setting)
