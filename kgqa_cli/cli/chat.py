"""`kgqa chat`: a conversation at the terminal; follow-up questions refer back (他, 这部电影)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, VerboseOption, app, start

if TYPE_CHECKING:
    from kgqa_cli.answering.conversation import Conversation
    from kgqa_cli.answering.pipeline import Answerer
    from kgqa_cli.settings import KgqaConfig

HELP_LINE = "/reset starts a new conversation, /history shows it, /quit (or Ctrl-D) ends"


@app.command(**OVERRIDES)
def chat(
    ctx: typer.Context,
    qa_model: Annotated[
        str | None, typer.Option("--qa-model", help="registered qa version (3, v3) \\[default: ask.qa_model or newest]")
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Ask questions one after another; a question may refer to the last ones.

    After 三度诱惑的导演是谁, 他还导演了哪些电影 takes 他 for 何藩 and 这部电影的主演呢 takes
    这部电影 for 三度诱惑: a referring word stands for the latest answer or entity of its kind
    (他/她 a person, 它/这部 a work, 这本 a book, 那里 a place). /reset starts over, /history lists the
    turns, /quit or Ctrl-D ends. When a name fits several entities (张伟), the answer asks which
    one and numbers them: typing the number asks again with that one. Reads standard input when
    it is not a terminal (one question a line); --json prints each answer as a JSON line.
    Example: kgqa chat
    """
    import sys

    from kgqa_cli.answering.pipeline import Answerer
    from kgqa_cli.ui import stderr

    settings = start(ctx, config, verbose)
    interactive = sys.stdin.isatty()
    if interactive:
        import contextlib

        with contextlib.suppress(ImportError):  # not on every platform
            import readline  # noqa: F401  (arrow keys and the history of earlier questions)
    with Answerer(settings, qa_model=qa_model) as answerer:
        if interactive:
            stderr.print(f"[bold]kgqa chat[/] · {answerer.version_name} · {HELP_LINE}")
        _converse(settings, answerer, interactive, json_output, verbose)


def _read_line(interactive: bool) -> str | None:
    """The next line typed (or read), None at the end (Ctrl-D, Ctrl-C, end of input)."""
    from kgqa_cli.ui import stderr

    try:
        return input("问> " if interactive else "")
    except EOFError:
        return None
    except KeyboardInterrupt:
        if interactive:
            stderr.print()
        return None


def _converse(settings: KgqaConfig, answerer: Answerer, interactive: bool, json_output: bool, verbose: bool) -> None:
    """Answer line after line in one conversation until /quit or the end of input; a number
    after a question back (which 张伟?) asks again with that option."""
    from kgqa_cli.answering.conversation import Conversation
    from kgqa_cli.answering.details import clarified_question
    from kgqa_cli.cli._tables import answer_panel
    from kgqa_cli.io import dumps_line
    from kgqa_cli.ui import stdout

    conversation = Conversation(limit=settings.ask.context.max_turns)
    asked_back: tuple[str, dict] | None = None  # the last question and its answer, when it asked which one
    while (line := _read_line(interactive)) is not None:
        command = line.strip()
        if not command:
            continue
        if command in ("/quit", "/exit"):
            break
        if command.startswith("/"):
            _run_command(command, conversation)
            continue
        if asked_back is not None and command.isdecimal():
            question, data = asked_back
            options = data["clarify"]["options"]
            if 1 <= int(command) <= len(options):
                command = clarified_question(question, data, options[int(command) - 1])
        answer = answerer.answer(command, conversation)
        data = answer.to_json()
        asked_back = (command, data) if (data.get("clarify") or {}).get("options") else None
        if json_output:
            print(dumps_line(data), flush=True)
        else:
            stdout.print(answer_panel(answer, readings=verbose, language=settings.ask.language))


def _run_command(command: str, conversation: Conversation) -> None:
    """/reset starts a new conversation, /history lists its turns; another is unknown."""
    from kgqa_cli.text import printable
    from kgqa_cli.ui import stderr, stdout

    if command == "/reset":
        conversation.reset()
        stderr.print("[dim](a new conversation)[/]")
    elif command == "/history":
        for number, turn in enumerate(conversation.turns, start=1):
            # The turns hold user text: terminal controls and bidi overrides made visible.
            line = f"{number}. {turn.question} -> {turn.entity or '-'}: {'、'.join(turn.answers) or '-'}"
            stdout.print(printable(line), markup=False, highlight=False)
    else:
        stderr.print(f"unknown command {command!r}: {HELP_LINE}", markup=False)
