"""The one Typer app and the options every command shares."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException

from kgqa_cli.errors import KgqaError

PIPELINE_ORDER = ("preprocess", "train", "evaluate", "extract", "bulkload", "graph", "questions", "ask")


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
        except KgqaError as exc:
            if State.verbose:
                import traceback

                traceback.print_exc()
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except (TyperException, typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug, not the user's fault: one line unless -v
            if State.verbose:
                raise
            typer.echo(f"internal error: {exc.__class__.__name__}: {exc} (run with -v for the traceback)", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_ErrorMappingGroup,
    name="kgqa",
    help="Chinese knowledge-graph question answering: extract triples, build a graph, answer questions.",
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


# Keyword arguments of every command that reads the config.
OVERRIDES = {"cls": OverridableCommand}

ConfigOption = Annotated[
    Path | None,
    typer.Option("-c", "--config", help="YAML config (default: configs/kgqa.yaml when present)", envvar="KGQA_CONFIG"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
VerboseOption = Annotated[bool, typer.Option("-v", "--verbose", help="Debug logs, and tracebacks on errors.")]


def start(ctx: typer.Context, config: Path | None, verbose: bool):
    """Common start of every command: logging, then the validated config with overrides."""
    from kgqa_cli.config import parse_overrides
    from kgqa_cli.settings import load_settings
    from kgqa_cli.ui import setup_logging

    State.verbose = State.verbose or verbose
    setup_logging(State.verbose)
    return load_settings(config, parse_overrides(ctx.meta.get("kgqa_overrides", [])))
