"""User-facing output: results on stdout, logs and progress on stderr.

The library logs through ``logging``; commands print results through :func:`out`. Progress bars
come from :func:`progress` and draw on stderr, so ``--json`` output on stdout stays parseable.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class _ResultConsole(Console):
    """The results console: a reader that went away (``kgqa chat | head -1``) surfaces as the
    ``BrokenPipeError`` the command line turns into a quiet exit 141, where Rich would exit 1."""

    def on_broken_pipe(self) -> None:
        import errno

        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "standard output was closed")


stdout = _ResultConsole(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def setup_logging(verbose: bool) -> None:
    """Route library logs to stderr through Rich; DEBUG with ``-v``."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_kgqa", False):
            root.removeHandler(handler)
    handler = RichHandler(console=stderr, show_path=False, show_time=False, markup=False, rich_tracebacks=verbose)
    handler._kgqa = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("urllib3", "botocore", "filelock", "gremlinpython", "gremlite", "asyncio", "aiohttp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def print_json(data: Any) -> None:
    """Write one JSON document on stdout, characters kept as they are."""
    print(json.dumps(data, ensure_ascii=False, indent=2), flush=True)


def progress(*extra_columns: ProgressColumn, transient: bool = False, disable: bool = False) -> Progress:
    """A Rich progress bar on stderr with count, bar, elapsed and remaining time (``disable``:
    none drawn, as on the ranks of a torchrun group other than 0)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra_columns,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=transient,
        disable=disable,
    )
