"""Any question string gets an answer or a reason, and always valid UTF-8 JSON (hypothesis).

10,000 generated questions in `make test`; `make bench` runs the long version
(KGQA_FUZZ_EXAMPLES=100000, see scripts/bench_reliability.py).
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgqa_cli.answering.pipeline import Answerer

EXAMPLES = int(os.environ.get("KGQA_FUZZ_EXAMPLES", "10000"))

# Pieces real and hostile questions are made of: the vocabulary of the tiny graph, question
# words, brackets, terminal escapes, bidi overrides, NUL, lone surrogates (undecodable argv
# bytes), emoji and whitespace of every kind.
PIECES = ["三度诱惑", "何藩", "李嘉欣", "许晋亨", "的导演是谁", "和谁结婚了", "导演了哪些电影", "的配偶是谁", "《", "》",
          "？", "?", "请问", "\x1b]0;title\x07", "\x1b[2J", "\u202e", "\x00", "\udcff", "\ud800", "😀", "\u3000",
          "\t", "\n", "\r\n", " ", "'", '"', "\\", "%s", "{}", "<script>", "g.V().drop()"]
questions = st.one_of(
    st.text(max_size=60),                                          # any Unicode text
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=8),  # lone surrogates
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),  # hostile mixtures
    st.text(st.characters(min_codepoint=0, max_codepoint=0x9FFF), min_size=200, max_size=2000),  # long
)


@pytest.fixture(scope="module")
def answerer(tiny_qa):
    with Answerer(tiny_qa) as warm:
        yield warm


@pytest.mark.slow
def test_any_question_gets_an_answer_or_a_reason_as_utf8_json(answerer):
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(questions)
    def check(question):
        answer = answerer.answer(question)
        assert answer.answered or answer.reason
        encoded = json.dumps(answer.to_json(), ensure_ascii=False).encode("utf-8")  # strict: no surrogates
        assert json.loads(encoded)["question"] == answer.question

    check()
