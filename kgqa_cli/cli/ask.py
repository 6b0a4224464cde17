"""`kgqa ask`: answer a question (or a file of questions) from the graph."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, VerboseOption, app, start
from kgqa_cli.cli.graph import GraphTarget

if TYPE_CHECKING:
    from kgqa_cli.answering.pipeline import Answerer
    from kgqa_cli.settings import KgqaConfig


@app.command(**OVERRIDES)
def ask(
    ctx: typer.Context,
    question: Annotated[str | None, typer.Argument(help="the question, e.g. 三度诱惑的导演是谁")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="answer one question a line; prints JSON lines")
    ] = None,
    qa_model: Annotated[
        str | None, typer.Option("--qa-model", help="registered qa version (3, v3) \\[default: ask.qa_model or newest]")
    ] = None,
    conversation: Annotated[
        bool, typer.Option("--conversation", help="with --file: the lines are one conversation, so a line may "
                           "refer back (他还导演了哪些电影); a blank line starts a new one")
    ] = False,
    target: Annotated[
        GraphTarget, typer.Option("--target", help="local: the configured graph; neptune: the workspace's Neptune "
                                  "cluster over wss://, SigV4-signed when it uses IAM auth (needs the aws extra)")
    ] = GraphTarget.local,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Classify the question, link its entity to the graph, run the traversal, show the answers.

    The question is read jointly with the graph: every (entity, edge it has) pair is weighed, the
    best answered; -v lists the readings weighed. A question that cannot be answered prints why
    (in Chinese; English with --ask.language en) and exits 0; --json keeps the English reason code
    in `reason` and the readable line in `message`. With --file, output line N answers input line N (a blank line gets the
    reason "empty question"). For a conversation at the terminal, see `kgqa chat`.
    Example: kgqa ask "李嘉欣和谁结婚了" --json
    """
    from kgqa_cli.answering.pipeline import Answerer
    from kgqa_cli.errors import ConfigError
    from kgqa_cli.ui import print_json

    settings = start(ctx, config, verbose)
    if target is GraphTarget.neptune:
        from kgqa_cli.aws.neptune import use_cluster

        use_cluster(settings)
    if (question is None) == (file is None):
        raise ConfigError("give either a question or --file FILE")
    if conversation and file is None:
        raise ConfigError("--conversation reads a conversation from --file FILE; for one at the terminal, run `kgqa chat`")
    lines = _read_questions(file) if file is not None else []
    with Answerer(settings, qa_model=qa_model) as answerer:
        if file is not None:
            _answer_lines(settings, answerer, lines, conversation)
            return
        answer = answerer.answer(question or "")
    if json_output:
        print_json(answer.to_json())
        return
    from kgqa_cli.cli._tables import answer_panel
    from kgqa_cli.ui import stdout

    stdout.print(answer_panel(answer, readings=verbose, language=settings.ask.language))


def _read_questions(file: Path) -> list[str]:
    """The file's lines, one question each. Line by line, so that one undecodable line does not
    cost the others: its bad bytes become U+FFFD in that line's answer."""
    from kgqa_cli.errors import FileSystemError, InputDataError, describe_os_error

    try:
        data = file.read_bytes()
    except FileNotFoundError as exc:
        raise InputDataError(f"{file}: no such file of questions") from exc
    except OSError as exc:
        raise FileSystemError(describe_os_error(exc, "cannot read the questions")) from exc
    return data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff").splitlines()


def _answer_lines(settings: KgqaConfig, answerer: Answerer, lines: list[str], conversation: bool) -> None:
    """One JSON line per question line: output line N answers input line N. With
    ``conversation`` the lines are one conversation, a blank line starting a new one."""
    from kgqa_cli.answering.conversation import Conversation
    from kgqa_cli.io import dumps_line

    context = Conversation(limit=settings.ask.context.max_turns) if conversation else None
    for line in lines:
        if context is not None and not line.strip():
            context.reset()
        print(dumps_line(answerer.answer(line, context).to_json()), flush=True)
