"""`kgqa ask` on a small graph: forward and reverse intents, unknown entities, hostile input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgqa_cli.answering.pipeline import EMPTY, NO_INTENT, NO_RELATION, NOT_IN_GRAPH, OUT_OF_SCOPE, Answerer
from kgqa_cli.cli.main import app
from kgqa_cli.errors import MissingArtifactError


@pytest.fixture(scope="module")
def settings(tiny_qa):
    return tiny_qa


@pytest.fixture(scope="module")
def answerer(settings):
    with Answerer(settings) as warm:
        yield warm


def test_forward_intent(answerer):
    answer = answerer.answer("三度诱惑的导演是谁")
    assert answer.intent == "ask_director" and answer.answered
    assert answer.answers == ["何藩"]
    assert "三度诱惑" in answer.query and "导演" in answer.query


def test_reverse_intent(answerer):
    answer = answerer.answer("何藩导演了哪些电影")
    assert answer.intent == "ask_films"
    assert answer.answers == ["三度诱惑"]


def test_spouse_question_answers_either_way(answerer):
    assert answerer.answer("李嘉欣和谁结婚了").answers == ["许晋亨"]
    assert answerer.answer("许晋亨的配偶是谁").answers == ["李嘉欣"]


def test_quoted_and_fuzzy_names_link(answerer):
    assert answerer.answer("请问《三度诱惑》的导演是谁？").answers == ["何藩"]
    link = answerer.linker.link("《三度诱惑电影》")
    assert (link.name, link.method) == ("三度诱惑", "fuzzy") and link.similarity >= 0.75
    assert answerer.linker.link("完全无关的名字") is None


def test_a_mention_run_on_into_the_next_words_links_to_the_name_inside(answerer):
    link = answerer.linker.link("三度诱惑在美国")  # too far from 三度诱惑 for the fuzzy match
    assert (link.name, link.method) == ("三度诱惑", "contained")
    assert answerer.linker.link("诱惑在美国上映") is None  # the name would cover less than half


def test_a_relation_the_entity_lacks_is_not_answered_with_another(answerer):
    # 何藩 only directs films: the graph has no wife for him, and no other edge is read instead.
    answer = answerer.answer("何藩的妻子是谁")
    assert not answer.answered and answer.reason == NO_RELATION
    assert answer.entity["name"] == "何藩" and "何藩" in answer.detail


def test_the_graph_decides_between_close_intents(answerer):
    # Whatever the model's best intent, only edges 李嘉欣 has are read: 丈夫 out, 妻子 in.
    answer = answerer.answer("李嘉欣的另一半是谁")
    assert answer.answers == ["许晋亨"]
    assert answer.readings and all(r["entity"] == "李嘉欣" for r in answer.readings[:1])
    assert (answer.readings[0]["predicate"], answer.readings[0]["direction"]) in {("丈夫", "forward"), ("妻子", "reverse")}


def test_an_opener_swallowed_into_the_slot_still_finds_the_name(answerer):
    # Whatever the tagger makes of the opener, the dictionary scan finds the graph name inside.
    answer = answerer.answer("能不能告诉我三度诱惑这部片子的导演是哪一位")
    assert answer.answers == ["何藩"] and answer.entity["name"] == "三度诱惑"


def test_unknown_entity_gets_a_reason(answerer):
    answer = answerer.answer("鸡蛋灌饼大冒险的导演是谁")
    assert not answer.answered and answer.reason == NOT_IN_GRAPH


@pytest.mark.parametrize("text", ["", "   ", "#$%^&*()_+", "啊" * 5000, "🙂🙂🙂"])
def test_empty_garbage_and_long_input(answerer, text):
    answer = answerer.answer(text)
    assert not answer.answered
    assert answer.reason in (EMPTY, NO_INTENT, OUT_OF_SCOPE, NOT_IN_GRAPH, "no entity found in the question")
    json.dumps(answer.to_json(), ensure_ascii=False)


@pytest.mark.parametrize("text", [
    "g.V().drop().iterate()的导演是谁",
    "');g.V().drop();('的导演是谁",
    "\"三度诱惑\"的导演是谁",
    "三度诱惑'的导演是谁",
])
def test_gremlin_and_quotes_are_plain_text(answerer, text):
    answer = answerer.answer(text)
    json.dumps(answer.to_json(), ensure_ascii=False)
    # The graph is untouched: the facts are all still there.
    assert answerer.answer("三度诱惑的导演是谁").answers == ["何藩"]


def test_an_answer_shows_the_sentence_it_was_read_from(answerer, settings):
    answer = answerer.answer("三度诱惑的导演是谁")
    (item,) = answer.evidence
    (fact,) = item["facts"]
    assert item["answer"] == "何藩" and (fact["subject"], fact["predicate"], fact["object"]) == ("三度诱惑", "导演", "何藩")
    sentence = fact["sentences"][0]
    assert sentence["text"][slice(*sentence["subject"])] == "三度诱惑"
    assert sentence["text"][slice(*sentence["object"])] == "何藩"
    assert fact["evidence_count"] >= 1 and sentence["model_version"] == "gold"
    assert answer.to_json()["evidence"] == answer.evidence
    reverse = answerer.answer("何藩导演了哪些电影").evidence[0]["facts"][0]  # a reverse hop: same fact
    assert (reverse["subject"], reverse["object"]) == ("三度诱惑", "何藩")
    shown = CliRunner().invoke(app, ["ask", "三度诱惑的导演是谁", "--workspace", str(settings.paths.root)])
    assert shown.exit_code == 0 and "【三度诱惑】" in shown.stdout and "【何藩】" in shown.stdout
    assert "依据" in shown.stdout and "gold" in shown.stdout


def test_cli_json_file_and_missing_model(settings, tmp_path):
    runner = CliRunner()
    common = ["--workspace", str(settings.paths.root)]
    result = runner.invoke(app, ["ask", "李嘉欣和谁结婚了", "--json", *common])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["answers"] == ["许晋亨"]
    questions = tmp_path / "q.txt"
    questions.write_text("三度诱惑的导演是谁\n\n你好\n", encoding="utf-8")
    result = runner.invoke(app, ["ask", "--file", str(questions), *common])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0 and len(lines) == 3  # output line N answers input line N
    assert lines[0]["answers"] == ["何藩"] and lines[1]["reason"] == EMPTY and not lines[2]["answered"]
    result = runner.invoke(app, ["ask", "你好", *common])
    assert result.exit_code == 0
    with pytest.raises(MissingArtifactError):
        Answerer(settings.model_copy(update={"workspace": tmp_path / "empty"}))


def test_undecodable_bytes_in_the_argument_answer_as_utf8_json(settings):
    import subprocess
    import sys

    question = b"\xff\xfe" + "三度诱惑的导演是谁".encode()  # not UTF-8: lone surrogates in argv
    result = subprocess.run(
        [sys.executable, "-m", "kgqa_cli.cli.main", "ask", question, "--json", "--workspace", str(settings.paths.root)],
        capture_output=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.decode("utf-8"))  # strict UTF-8
    assert answer["question"] == "\ufffd\ufffd三度诱惑的导演是谁" and answer["answers"] == ["何藩"]
    shown = subprocess.run(
        [sys.executable, "-m", "kgqa_cli.cli.main", "ask", b"\x1b]0;pwned\x07" + question,
         "--workspace", str(settings.paths.root)], capture_output=True, timeout=120,
    )
    assert shown.returncode == 0 and b"\x1b" not in shown.stdout and b"\\x1b]0;pwned\\x07" in shown.stdout
