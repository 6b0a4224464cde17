"""Hostile and careless input to the terminal conversation (`kgqa chat`) and to follow-ups."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from kgqa_cli.cli.main import app

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]


def test_history_shows_controls_and_bidi_overrides_escaped(tiny_qa):
    # A question holding an escape sequence and a right-to-left override: /history echoes the
    # turns, and must not hand either to the terminal.
    lines = "\x1b[2J三度诱惑的导演是谁\u202e\n/history\n/quit\n"
    result = CliRunner().invoke(app, ["chat", "--workspace", str(tiny_qa.paths.root)], input=lines)
    assert result.exit_code == 0, result.output
    history = [line for line in result.stdout.splitlines() if line.startswith("1. ")]
    assert history, result.stdout
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert "\\x1b[2J" in history[0] and "\\u202e" in history[0]


def test_chat_into_a_closed_pipe_exits_141_quietly(tiny_qa):
    # `kgqa chat < questions | head -1`: the reader goes away after the first line of many panels.
    questions = "三度诱惑的导演是谁\n" * 400
    shell = (f"{' '.join(KGQA)} chat --workspace {tiny_qa.paths.root} | head -1 >/dev/null; "
             "exit ${PIPESTATUS[0]}")
    result = subprocess.run(["bash", "-c", shell], input=questions.encode(), capture_output=True, timeout=300)
    assert result.returncode == 141, result.stderr
    assert b"Traceback" not in result.stderr and b"internal error" not in result.stderr


def test_a_reference_with_no_earlier_turn_says_there_is_nothing_to_refer_to(tiny_qa):
    result = CliRunner().invoke(app, ["ask", "他还导演了哪些电影", "--json", "--workspace",
                                      str(tiny_qa.paths.root)])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["answers"] == [] and answer["reason"] == "nothing earlier to refer to"
    assert "他" in answer["detail"] and "no entity named" not in answer["detail"]
    # The first turn of a conversation too; the second turn then resolves 他 as before.
    lines = "他还导演了哪些电影\n三度诱惑的导演是谁\n他还导演了哪些电影\n"
    chat = CliRunner().invoke(app, ["chat", "--json", "--workspace", str(tiny_qa.paths.root)], input=lines)
    turns = [json.loads(line) for line in chat.stdout.splitlines() if line.startswith("{")]
    assert [turn["reason"] for turn in turns] == ["nothing earlier to refer to", None, None]
    assert turns[2]["context"] == {"reference": "他", "entity": "何藩"}
