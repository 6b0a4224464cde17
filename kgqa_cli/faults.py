"""Crash points for the crash tests: a process can be told to ``kill -9`` itself at its Nth point.

Stages call :func:`point` at the moments a crash would be most harmful (after a batch is
committed, before and after a file is renamed into place). It costs one dictionary lookup unless
one of these environment variables is set, which only the tests and benchmarks do:

``KGQA_FAULT_TRACE=FILE``
    append the name of every point reached to FILE, one a line (to count a run's points);
``KGQA_FAULT_KILL_AT=N``
    send SIGKILL to this process on reaching the Nth point (1-based), as a power cut would.
"""

from __future__ import annotations

import os
import signal

_reached = 0


def point(name: str) -> None:
    """A place where the process may be killed by the crash test (see the module docstring)."""
    global _reached
    trace = os.environ.get("KGQA_FAULT_TRACE")
    kill_at = os.environ.get("KGQA_FAULT_KILL_AT")
    if trace is None and kill_at is None:
        return
    _reached += 1
    if trace:
        with open(trace, "a", encoding="utf-8") as handle:
            handle.write(f"{name}\n")
    if kill_at and _reached == int(kill_at):
        os.kill(os.getpid(), signal.SIGKILL)
