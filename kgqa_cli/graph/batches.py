"""What every loader shares: batches of elements, the callback after each committed batch, the
counts of what a load did, and engine errors turned into kgqa's own."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from kgqa_cli.errors import FileSystemError, GraphError, KgqaError

# Called after each committed batch with the phase ("vertices" or "edges") and how many
# elements that batch held; the progress bar and the interruption test hook in here.
BatchCallback = Callable[[str, int], None]

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` in consecutive batches of ``size`` (the last one shorter)."""
    return [items[start:start + size] for start in range(0, len(items), size)]


@contextmanager
def graph_errors(what: str) -> Iterator[None]:
    """Engine errors inside the block become :class:`GraphError` naming what was attempted."""
    try:
        yield
    except KgqaError:
        raise
    except Exception as exc:
        if any(words in str(exc) for words in ("disk is full", "readonly database", "disk I/O error")):
            raise FileSystemError(f"the graph file cannot be written ({what}): {exc}") from exc
        raise GraphError(f"graph refused {what}: {exc.__class__.__name__}: {exc}") from exc


class LoadCounts:
    """What a load added and found already present."""

    def __init__(self) -> None:
        self.vertices_added = 0
        self.vertices_existing = 0
        self.types_added = 0
        self.edges_added: Counter[str] = Counter()
        self.edges_existing: Counter[str] = Counter()
        self.evidence_added = 0  # edges already present that gained sentences

    @property
    def changed(self) -> bool:
        """Whether the load added anything (a rerun of the same input adds nothing)."""
        return bool(self.vertices_added or self.types_added or sum(self.edges_added.values()) or self.evidence_added)
