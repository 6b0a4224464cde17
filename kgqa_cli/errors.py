"""The one exception hierarchy of kgqa.

Every error a user can cause is a :class:`KgqaError`. The command line turns it into one line on
stderr and the exit code below (see ``kgqa_cli.cli.main``); nothing else calls ``sys.exit``.

=========  ===============================================================
exit code  meaning
=========  ===============================================================
0          success (also: a question that could not be answered, with its reason)
1          unexpected internal error (a bug: run again with ``-v`` and report the traceback)
           (also: a declined confirmation, ``kgqa graph delete`` answered no)
2          bad configuration or command-line value
3          bad input data (undecodable or malformed input, malformed record with ``on_error: stop``)
4          missing prerequisite: a model, a graph or a stage output that must be built first
5          quality gate failed (a metric below its threshold)
6          graph database error (unreachable server, file that is not a complete kgqa graph,
           SQLite error)
7          file system error: a path cannot be read or written (permission denied, read-only
           file system, disk full)
8          corrupt artefact: a checkpoint or model file exists but cannot be loaded
9          model-quality monitor: a constraint or drift limit was violated
10         AWS refused or could not be reached: no such bucket, no credentials, access denied
11         busy: another kgqa process holds the lock of this stage in this workspace
141        stdout was closed early (``kgqa ... | head``): quiet, as Unix tools exit on SIGPIPE
=========  ===============================================================
"""

from __future__ import annotations

from typing import Any


class KgqaError(Exception):
    """Base class: a problem the user can fix, reported as one line."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(KgqaError):
    """A config file or an override is invalid."""

    exit_code = 2


class InputDataError(KgqaError):
    """An input file cannot be read or holds a malformed record."""

    exit_code = 3


class MissingArtifactError(KgqaError):
    """Something an earlier stage should have produced is missing."""

    exit_code = 4


class ApprovalError(KgqaError):
    """A model version is not approved for what was asked (serving it): a person must approve it."""

    exit_code = 4


class QualityGateError(KgqaError):
    """A metric fell below its configured threshold."""

    exit_code = 5


class GraphError(KgqaError):
    """The graph database could not be reached or refused a traversal."""

    exit_code = 6


class FileSystemError(KgqaError):
    """A path cannot be read or written: permissions, a read-only file system, a full disk."""

    exit_code = 7


class CorruptArtifactError(KgqaError):
    """A checkpoint or model file is there but cannot be loaded (truncated, empty, foreign)."""

    exit_code = 8


class MonitorViolationError(KgqaError):
    """Model quality or input drift crossed a configured limit (``kgqa monitor run``)."""

    exit_code = 9
    details: dict[str, Any]  # the run's summary, set by the monitor that raises it (for the alert)


class CloudError(KgqaError):
    """AWS said no, or could not be reached (no such bucket, no credentials, access denied)."""

    exit_code = 10


class BusyError(KgqaError):
    """Another kgqa process holds the lock of the same stage in the same workspace."""

    exit_code = 11


# Exit status when stdout is closed under us (a pipe into `head`): 128 + SIGPIPE, as a Unix tool
# killed by the signal would report it.
BROKEN_PIPE_EXIT = 141


def describe_os_error(exc: OSError, action: str = "cannot use") -> str:
    """One line naming the path and the reason of an :class:`OSError` (``path: cannot write: ...``)."""
    reason = exc.strerror or exc.__class__.__name__
    where = exc.filename if exc.filename is not None else None
    if where is None:
        return f"{action}: {reason}"
    return f"{where}: {action}: {reason}"
