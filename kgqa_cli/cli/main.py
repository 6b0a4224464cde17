"""Entry point: registers every command module on the one app."""

from __future__ import annotations

from typing import Annotated

import typer

import kgqa_cli.cli.ask  # noqa: F401
import kgqa_cli.cli.bulkload  # noqa: F401
import kgqa_cli.cli.chat  # noqa: F401
import kgqa_cli.cli.deploy  # noqa: F401
import kgqa_cli.cli.ensemble  # noqa: F401
import kgqa_cli.cli.evaluate  # noqa: F401
import kgqa_cli.cli.extract  # noqa: F401
import kgqa_cli.cli.graph  # noqa: F401
import kgqa_cli.cli.label  # noqa: F401
import kgqa_cli.cli.monitor  # noqa: F401
import kgqa_cli.cli.pipeline  # noqa: F401
import kgqa_cli.cli.pretrain  # noqa: F401
import kgqa_cli.cli.questions  # noqa: F401
import kgqa_cli.cli.registry  # noqa: F401
import kgqa_cli.cli.sync  # noqa: F401
import kgqa_cli.cli.train  # noqa: F401
import kgqa_cli.cli.triggers  # noqa: F401
from kgqa_cli import __version__
from kgqa_cli.cli import preprocess  # noqa: F401  (each import registers a command)
from kgqa_cli.cli._util import State, app


def _version(value: bool) -> None:
    if value:
        print(f"kgqa {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Debug logs, and tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Chinese knowledge-graph question answering: extract triples, build a graph, answer questions."""
    State.verbose = verbose


def main() -> None:
    """Console-script entry point (``kgqa``)."""
    import sys

    try:
        app()
    except SystemExit:
        # The last buffered output is written at exit; a reader that went away (`| head`) must
        # not turn into a traceback there either.
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            from kgqa_cli.cli._util import quiet_broken_pipe

            try:
                quiet_broken_pipe()
            except typer.Exit as exit_:
                raise SystemExit(exit_.exit_code) from None
        raise


if __name__ == "__main__":
    main()
