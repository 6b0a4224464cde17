"""Questions read as small query graphs: chains, reverse chains, intersections and counts, on a
real graph and a real trained question model; and no confident answer to a question read only
in part."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import spo, write_lines
from qa_fixtures import copy_workspace

from kgqa_cli.answering.conversation import Conversation
from kgqa_cli.answering.pipeline import NO_RELATION, PARTIAL, Answerer

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]

# Beside the tiny workspace's films and couples: 何藩 directs three works (one of them starring
# 沈碧云, who studied at 北京大学), 赵远 directs 微光追踪 and is married to 毛琪, who directs 暗夜行者.
EXTRA = [
    {"text": "三度诱惑由沈碧云主演", "spo_list": [spo("三度诱惑", "主演", "沈碧云")]},
    {"text": "浮城往事是何藩导演的，莫辉华主演", "spo_list": [spo("浮城往事", "导演", "何藩"), spo("浮城往事", "主演", "莫辉华")]},
    {"text": "长街旧梦是何藩导演的", "spo_list": [spo("长街旧梦", "导演", "何藩")]},
    {"text": "沈碧云毕业于北京大学", "spo_list": [spo("沈碧云", "毕业院校", "北京大学", "人物", "学校")]},
    {"text": "微光追踪是赵远导演的", "spo_list": [spo("微光追踪", "导演", "赵远")]},
    {"text": "赵远的妻子是毛琪", "spo_list": [spo("赵远", "妻子", "毛琪", "人物"), spo("毛琪", "丈夫", "赵远", "人物")]},
    {"text": "暗夜行者是毛琪导演的", "spo_list": [spo("暗夜行者", "导演", "毛琪")]},
]


@pytest.fixture(scope="module")
def workspace(tiny_qa, tmp_path_factory):
    settings = copy_workspace(tiny_qa, tmp_path_factory.mktemp("compose"))
    extra = write_lines(settings.paths.root.parent / "extra.jsonl", EXTRA)
    done = subprocess.run([*KGQA, "bulkload", str(extra), "--merge", "--workspace", str(settings.paths.root)],
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return settings


@pytest.fixture(scope="module")
def answerer(workspace):
    with Answerer(workspace) as answerer:
        yield answerer


def test_a_two_hop_chain_follows_both_edges(answerer):
    answer = answerer.answer("微光追踪的导演的妻子是谁")
    assert answer.answers == ["毛琪"] and answer.shape == "chain"
    assert [(h["predicate"], h["from"], h["to"]) for h in answer.hops] == [
        ("导演", ["微光追踪"], ["赵远"]), ("妻子", ["赵远"], ["毛琪"])]
    assert answer.query.count("g.V()") == 2  # one traversal a hop, each shown
    answer = answerer.answer("三度诱惑的主演毕业于哪所学校")
    assert answer.answers == ["北京大学"] and [h["predicate"] for h in answer.hops] == ["主演", "毕业院校"]


def test_a_chain_the_graph_cannot_finish_is_not_answered_with_its_first_hop(answerer):
    # 何藩 has no wife in the graph: the answer must not be 何藩, nor anything else.
    answer = answerer.answer("三度诱惑的导演的妻子是谁")
    assert not answer.answered and answer.answers == [] and answer.reason == NO_RELATION
    assert answer.hops[0]["to"] == ["何藩"] and answer.hops[-1]["to"] == []


def test_reverse_chain_intersection_and_count(answerer):
    films = answerer.answer("何藩导演的电影都有谁主演")
    assert films.shape == "reverse_chain" and sorted(films.answers) == ["沈碧云", "莫辉华"]
    assert films.hops[0]["direction"] == "reverse" and sorted(films.hops[0]["to"]) == ["三度诱惑", "浮城往事", "长街旧梦"]
    for question in ("何藩导演、沈碧云主演的电影是哪部", "哪部电影是何藩执导并且由沈碧云主演的"):
        both = answerer.answer(question)
        assert both.shape == "intersection" and both.answers == ["三度诱惑"], question
        assert {h["from"][0] for h in both.hops} == {"何藩", "沈碧云"}
    assert answerer.answer("何藩导演、莫辉华主演的电影是哪部").answers == ["浮城往事"]
    # 沈碧云 starred in none of 赵远's films: nothing satisfies both, and nothing is guessed.
    neither = answerer.answer("赵远导演、沈碧云主演的电影是哪部")
    assert not neither.answered and neither.answers == [] and neither.reason == NO_RELATION
    count = answerer.answer("何藩导演了几部电影")
    assert count.shape == "count" and count.count == 3 and count.answers == ["3"]
    assert sorted(count.hops[0]["to"]) == ["三度诱惑", "浮城往事", "长街旧梦"]  # what was counted


def test_a_second_entity_nothing_connects_is_not_ignored(answerer):
    answer = answerer.answer("三度诱惑和毛琪的导演是谁")
    assert not answer.answered and answer.reason == PARTIAL and answer.unexplained == ["毛琪"]


def test_follow_ups_still_take_one_hop_about_the_referent(answerer):
    conversation = Conversation()
    assert answerer.answer("微光追踪的导演是谁", conversation).answers == ["赵远"]
    follow = answerer.answer("他的妻子是谁", conversation)
    assert follow.context == {"reference": "他", "entity": "赵远"} and follow.answers == ["毛琪"]
    assert follow.shape == "one_hop"
    # A count is remembered by what it counted.
    conversation = Conversation()
    assert answerer.answer("何藩导演了几部电影", conversation).answers == ["3"]
    assert sorted(conversation.turns[-1].answers) == ["三度诱惑", "浮城往事", "长街旧梦"]


@pytest.mark.slow
def test_ask_json_and_verbose_show_the_hops_and_queries(workspace):
    where = ["--workspace", str(workspace.paths.root)]
    done = subprocess.run([*KGQA, "ask", "微光追踪的导演的妻子是谁", "--json", *where], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["shape"] == "chain" and [h["to"] for h in answer["hops"]] == [["赵远"], ["毛琪"]]
    verbose = subprocess.run([*KGQA, "ask", "微光追踪的导演的妻子是谁", "-v", *where], capture_output=True, timeout=300)
    text = verbose.stdout.decode()
    assert verbose.returncode == 0 and "outE('导演')" in text and "outE('妻子')" in text and "毛琪" in text


def test_words_an_intent_reads_together_are_still_two_hops_across_de(answerer):
    # 妻子 and 丈夫 both answer a spouse question, but 妻子的丈夫 is two hops (back to 赵远).
    answer = answerer.answer("微光追踪的导演的妻子的丈夫是谁")
    assert answer.answers == ["赵远"] and [h["predicate"] for h in answer.hops] == ["导演", "妻子", "丈夫"]


def test_a_relation_word_before_the_readings_own_is_the_first_hop(answerer):
    # 赵远 directed 微光追踪 himself; the question asks about his wife's films.
    answer = answerer.answer("赵远的妻子导演过哪些电影")
    assert answer.answers == ["暗夜行者"] and [h["predicate"] for h in answer.hops] == ["妻子", "导演"]


def test_two_relations_joined_by_he_are_not_read_as_a_chain(answerer):
    answer = answerer.answer("微光追踪的导演和主演是谁")
    assert not answer.answered and answer.reason == PARTIAL and answer.answers == []


def test_counts_take_duoshao_with_a_kind_and_count_distinct_answers(answerer):
    count = answerer.answer("何藩导演过多少电影")
    assert count.shape == "count" and count.answers == ["3"] and count.count == 3
