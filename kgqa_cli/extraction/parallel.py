"""Running an extractor's batches in threads that share torch's CPU threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import torch

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")

_THREAD_SHARE = threading.Lock()  # held while torch's thread count is lowered for parallel batches


def ordered_map(function: Callable[[_Item], _Result], items: list[_Item], workers: int) -> Iterator[_Result]:
    """``map(function, items)``, with ``workers`` items at once in threads that share torch's CPU
    threads between them (the kernels release the GIL): the small sequential steps of the
    Bi-LSTM keep one thread busier than they keep two.

    Torch's thread count is process-wide, and a thread keeps the count it saw when it first ran
    torch: so one call at a time lowers it (for its new pool threads) and restores it, and a call
    that finds it lowered by another runs its batches one by one instead.
    """
    threads = torch.get_num_threads()
    workers = min(workers, threads)  # never more threads at work than the caller allowed (kg.train.threads)
    if workers <= 1 or len(items) <= 1 or not _THREAD_SHARE.acquire(blocking=False):
        yield from map(function, items)
        return
    from concurrent.futures import ThreadPoolExecutor

    try:
        torch.set_num_threads(max(1, threads // workers))  # taken up by the pool's threads as they start
        pool = ThreadPoolExecutor(workers, thread_name_prefix="extract")
        try:
            yield from pool.map(function, items)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # a failed batch cancels the batches not yet started
            torch.set_num_threads(threads)
    finally:
        _THREAD_SHARE.release()
