"""The one Typer app and the options every command shares."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

import typer
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException

from kgqa_cli.errors import KgqaError

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig

PIPELINE_ORDER = ("preprocess", "train", "evaluate", "extract", "bulkload", "graph", "questions", "ask", "registry",
                  "deploy", "label", "monitor", "sync")


class State:
    """Process-wide flags read by the error handler."""

    verbose = False


class _ErrorMappingGroup(TyperGroup):
    """The one place where errors become a one-line message and an exit code (see errors.py)."""

    def list_commands(self, ctx):  # noqa: ANN001 - click's signature
        """Commands in pipeline order in ``--help``, whatever order their modules load in."""
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: (PIPELINE_ORDER.index(name) if name in PIPELINE_ORDER else 99, name))

    def invoke(self, ctx):  # noqa: ANN001 - click's signature
        try:
            return super().invoke(ctx)
        except (TyperException, typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            quiet_broken_pipe()
        except Exception as exc:
            known = as_kgqa_error(exc)
            if known is None:  # a bug, not the user's fault: one line unless -v
                if State.verbose:
                    raise
                _echo_error(f"internal error: {exc.__class__.__name__}: {exc} (run with -v for the traceback)")
                raise typer.Exit(1) from None
            if State.verbose:
                import traceback

                traceback.print_exc()
            _echo_error(f"error: {known}")
            raise typer.Exit(known.exit_code) from None


def _echo_error(line: str) -> None:
    """One line on stderr, with control characters made visible (they may come from user input)."""
    from contextlib import suppress

    from kgqa_cli.text import printable

    with suppress(OSError):  # stderr itself is gone: nothing left to tell
        typer.echo(printable(line), err=True)


def quiet_broken_pipe() -> None:
    """stdout was closed by its reader (``kgqa ... | head``): stop quietly with 141, as Unix tools do."""
    import os
    import sys

    from kgqa_cli.errors import BROKEN_PIPE_EXIT

    try:  # later flushes at exit must not raise again on the closed pipe
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    raise typer.Exit(BROKEN_PIPE_EXIT)


# errno values that mean "this path cannot be read or written here", reported with exit 7.
_FILE_SYSTEM_ERRNOS = {"EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "EISDIR", "ENOTDIR", "ENOENT", "EEXIST",
                       "EMFILE", "ENFILE", "EFBIG", "ENAMETOOLONG", "ELOOP", "EIO", "EBUSY", "ETXTBSY"}


# SQLite's words for a file-system problem under the database (sqlite3 raises no OSError).
_SQLITE_FILE_SYSTEM_ERRORS = ("disk is full", "readonly database", "unable to open database file", "disk I/O error")


def as_kgqa_error(exc: BaseException) -> KgqaError | None:
    """The documented error an exception stands for (see errors.py), or None for a bug.

    The library raises :class:`KgqaError` itself wherever it knows the file or URL at fault; this
    is the net below it for errors raised deep inside the standard library or a dependency.
    """
    import errno

    from kgqa_cli import errors

    if isinstance(exc, KgqaError):
        return exc
    module = type(exc).__module__
    if module == "sqlite3" or module.startswith("sqlite3."):
        if any(words in str(exc) for words in _SQLITE_FILE_SYSTEM_ERRORS):
            return errors.FileSystemError(f"graph file cannot be written: {exc}")
        return errors.GraphError(f"graph database error: {exc}")
    if isinstance(exc, UnicodeError):
        return errors.InputDataError(f"input is not valid UTF-8 text: {exc}")
    if isinstance(exc, ConnectionError | TimeoutError):
        return errors.GraphError(f"cannot reach the graph server: {exc}")
    if isinstance(exc, OSError) and errno.errorcode.get(exc.errno or -1) in _FILE_SYSTEM_ERRNOS:
        return errors.FileSystemError(errors.describe_os_error(exc))
    return None


ROOT_EPILOG = (
    "Every command reads configs/kgqa.yaml (or -c FILE) and takes any config key as a dotted override "
    "anywhere on its line, e.g. [bold]--kg.train.epochs 3[/], [bold]--ask.max_answers=5[/] or "
    "[bold]--workspace /tmp/ws[/] (the folder every output goes under). Exit codes: 0 ok, 1 bug, 2 bad "
    "config or option, 3 bad input data, 4 missing model/graph/stage output, 5 quality gate failed, "
    "6 graph error, 7 file system error, 8 corrupt artefact, 9 monitor violation, 10 AWS error, "
    "141 output pipe closed."
)

COMMAND_EPILOG = (
    "Config overrides: any key of the config as a dotted option anywhere on the line, "
    "e.g. [bold]--graph.batch_size 1000[/] or [bold]--ask.max_answers=5[/]; "
    "[bold]--workspace DIR[/] moves every output under DIR."
)

app = typer.Typer(
    cls=_ErrorMappingGroup,
    name="kgqa",
    help="Chinese knowledge-graph question answering: extract triples, build a graph, answer questions.",
    epilog=ROOT_EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Top-level config keys that are values rather than sections, overridable as `--workspace DIR`.
ROOT_KEYS = ("workspace",)


def _is_override(token: str) -> bool:
    if not token.startswith("--") or len(token) == 2:
        return False
    name = token[2:].split("=", 1)[0]
    return "." in name or name in ROOT_KEYS


class OverridableCommand(TyperCommand):
    """A command that takes config overrides (``--kg.train.epochs 3``) anywhere on its line.

    They are taken out before Click parses the rest, so an override's value is never mistaken for
    a positional argument.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["epilog"] = kwargs.get("epilog") or COMMAND_EPILOG
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx, args):  # noqa: ANN001 - click's signature
        rest: list[str] = []
        overrides: list[str] = []
        index = 0
        while index < len(args):
            token = args[index]
            if token == "--":
                rest.extend(args[index:])
                break
            if _is_override(token):
                overrides.append(token)
                if "=" not in token and index + 1 < len(args):
                    index += 1
                    overrides.append(args[index])
            else:
                rest.append(token)
            index += 1
        ctx.meta["kgqa_overrides"] = overrides
        return super().parse_args(ctx, rest)


class CommandOptions(TypedDict):
    """Keyword arguments of ``Typer.command`` (typed, so that ``**OVERRIDES`` checks)."""

    cls: type[TyperCommand]


# Keyword arguments of every command that reads the config.
OVERRIDES: CommandOptions = {"cls": OverridableCommand}

class Target(str, Enum):
    """Where a stage runs, or which registry a command reads."""

    local = "local"
    sagemaker = "sagemaker"


TargetOption = Annotated[
    Target, typer.Option("--target", help="local: run here; sagemaker: submit a SageMaker job (needs the aws extra)")
]
WaitOption = Annotated[
    bool, typer.Option("--wait", help="sagemaker: follow the job to its end and read its outputs back")
]


def reject_wait(wait: bool) -> None:
    """--wait means following a SageMaker job: refuse it on a local run."""
    if wait:
        from kgqa_cli.errors import ConfigError

        raise ConfigError("--wait applies to --target sagemaker")


PlanOption = Annotated[
    bool, typer.Option("--plan", help="AWS: print the requests this would send, what they would create or change and "
                       "what it would cost; send none (no credentials needed)")
]
def reject_plan(plan: bool, where: str = "--target sagemaker") -> None:
    """--plan shows AWS requests: refuse it where none would be sent."""
    if plan:
        from kgqa_cli.errors import ConfigError

        raise ConfigError(f"--plan applies to {where}: this runs here and sends no AWS request")


ConfigOption = Annotated[
    Path | None,
    typer.Option("-c", "--config", help="YAML config (default: configs/kgqa.yaml when present)", envvar="KGQA_CONFIG"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
VerboseOption = Annotated[bool, typer.Option("-v", "--verbose", help="Debug logs, and tracebacks on errors.")]


def start(ctx: typer.Context, config: Path | None, verbose: bool) -> KgqaConfig:
    """Common start of every command: logging, then the validated config with overrides."""
    from kgqa_cli.config import parse_overrides
    from kgqa_cli.settings import load_settings
    from kgqa_cli.ui import setup_logging

    State.verbose = State.verbose or verbose
    setup_logging(State.verbose)
    return load_settings(config, parse_overrides(ctx.meta.get("kgqa_overrides", [])))
