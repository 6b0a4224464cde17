"""Follow-up questions: referring words resolved from the conversation, in the library, in
`kgqa chat`, in `kgqa ask --conversation` and per session id at the endpoint."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgqa_cli.answering.conversation import Conversation, Conversations
from kgqa_cli.answering.pipeline import Answerer
from kgqa_cli.cli.main import app


@pytest.fixture(scope="module")
def answerer(tiny_qa):
    with Answerer(tiny_qa) as warm:
        yield warm


def test_a_three_turn_conversation(answerer):
    conversation = Conversation()
    first = answerer.answer("三度诱惑的导演是谁", conversation)
    assert first.answers == ["何藩"] and first.context is None
    second = answerer.answer("他还导演了哪些电影", conversation)
    assert second.context == {"reference": "他", "entity": "何藩"}
    assert second.entity["method"] == "context" and second.answers == ["三度诱惑"]
    third = answerer.answer("这部电影的导演呢", conversation)
    assert third.context == {"reference": "这部电影", "entity": "三度诱惑"} and third.answers == ["何藩"]
    assert [turn.entity for turn in conversation.turns] == ["三度诱惑", "何藩", "三度诱惑"]


def test_a_reference_resolves_by_kind(answerer):
    conversation = Conversation()
    assert answerer.answer("许晋亨的妻子是谁", conversation).answers == ["李嘉欣"]
    # 她 is a person: the last turn's one answer (李嘉欣) comes before its entity (许晋亨).
    answer = answerer.answer("那她的丈夫是谁", conversation)
    assert answer.context == {"reference": "她", "entity": "李嘉欣"} and answer.answers == ["许晋亨"]
    # 这部电影 is a film: nothing of the kind in the conversation, so it refers to nothing.
    assert answerer.answer("这部电影的导演呢", conversation).context is None


def test_without_a_conversation_a_referring_word_is_not_resolved(answerer):
    answer = answerer.answer("他还导演了哪些电影")
    assert not answer.answered and answer.context is None


def test_conversations_are_bounded_in_count_and_age():
    now = [0.0]
    sessions = Conversations(max_sessions=2, ttl_seconds=10, max_turns=3, clock=lambda: now[0])
    a = sessions.get("a")
    a.remember("q1", "三度诱惑", ["何藩"])
    assert sessions.get("a") is a
    sessions.get("b")
    sessions.get("c")  # over the count: the least recently used (a) goes
    assert len(sessions) == 2 and sessions.get("a") is not a
    now[0] = 11.0  # b and c idle too long; a (just made again) too
    fresh = sessions.get("b")
    assert len(sessions) == 1 and not fresh.turns
    for number in range(5):
        fresh.remember(f"q{number}", "x", [])
    assert [turn.question for turn in fresh.turns] == ["q2", "q3", "q4"]


def test_chat_command_holds_the_conversation(tiny_qa):
    lines = "三度诱惑的导演是谁\n他还导演了哪些电影\n/history\n/reset\n他还导演了哪些电影\n/quit\n"
    result = CliRunner().invoke(app, ["chat", "--json", "--workspace", str(tiny_qa.paths.root)], input=lines)
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [a["answers"] for a in answers] == [["何藩"], ["三度诱惑"], []]
    assert answers[1]["context"] == {"reference": "他", "entity": "何藩"} and answers[2]["context"] is None
    assert "1. 三度诱惑的导演是谁 -> 三度诱惑: 何藩" in result.stdout


def test_ask_file_as_a_conversation(tiny_qa, tmp_path):
    questions = tmp_path / "talk.txt"
    questions.write_text("三度诱惑的导演是谁\n他还导演了哪些电影\n\n他还导演了哪些电影\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["ask", "--file", str(questions), "--conversation",
                                      "--workspace", str(tiny_qa.paths.root)])
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["context"] for a in answers] == [None, {"reference": "他", "entity": "何藩"}, None, None]


def test_a_reference_weighs_the_entities_of_its_kind(answerer):
    conversation = Conversation()
    answerer.answer("三度诱惑的导演是谁", conversation)
    assert answerer.answer("许晋亨的妻子是谁", conversation).answers == ["李嘉欣"]
    # 他: 李嘉欣 and 许晋亨 come first, but only 何藩 (two turns back) directed anything.
    answer = answerer.answer("他还导演了哪些电影", conversation)
    assert answer.context == {"reference": "他", "entity": "何藩"} and answer.answers == ["三度诱惑"]
    # The readings weighed: the best is the one answered (何藩 directed), and every one is an
    # entity of the conversation.
    assert answer.readings and answer.readings[0]["entity"] == "何藩", answer.readings
    assert {row["entity"] for row in answer.readings} <= {"何藩", "李嘉欣", "许晋亨"}, answer.readings
