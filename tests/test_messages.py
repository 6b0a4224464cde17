"""What a person reads about an answer: the `message` line in Chinese and English for every reason
code and answer shape, and `kgqa ask`/`kgqa chat` showing it (Chinese by default, English with
--ask.language en) while the JSON's reason codes stay the same."""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from kgqa_cli.answering.details import clarified_question, intent_label, path_lines
from kgqa_cli.answering.messages import answer_message
from kgqa_cli.answering.reasons import (
    AMBIGUOUS,
    EMPTY,
    NO_ENTITY,
    NO_INTENT,
    NO_REFERENT,
    NO_RELATION,
    NOT_IN_GRAPH,
    OUT_OF_SCOPE,
    PARTIAL,
    REASONS,
)
from kgqa_cli.cli.main import app

CLARIFY = {"question": "你问的是演员张伟，还是歌手张伟？",
           "options": [{"entity": "张伟(演员)", "label": "演员张伟"}, {"entity": "张伟(歌手)", "label": "歌手张伟"}]}

# reason code -> (the answer's other fields, the Chinese line, the English line)
UNANSWERED = {
    EMPTY: ({}, "问题是空的，请输入一个问题", "The question is empty."),
    NO_INTENT: ({}, "没能读懂这个问题", "Could not make out what the question asks."),
    OUT_OF_SCOPE: ({"detail": "out-of-scope intent none at 1.00 and no keyword of a relation"},
                   "这个问题不在知识图谱能回答的范围内", "This is not a question the knowledge graph can answer."),
    NO_ENTITY: ({}, "问题里没有找到要查询的人或事物", "Found nothing in the question to look up in the graph."),
    NOT_IN_GRAPH: ({"slots": {"subject": ["鸡蛋灌饼大冒险"]}},
                   "图谱里没有“鸡蛋灌饼大冒险”这个实体", 'The graph has no entity named "鸡蛋灌饼大冒险".'),
    NO_RELATION: ({"entity": {"mention": "何藩", "name": "何藩"}, "predicate": "妻子", "direction": "forward"},
                  "图谱里没有何藩的妻子", "The graph has no 妻子 of 何藩."),
    NO_REFERENT: ({"detail": "'他' refers back to an earlier question, and there is none"},
                  "“他”指的是前面的问题，但前面没有问题", '"他" refers back to an earlier question, and there is none.'),
    PARTIAL: ({"unexplained": ["妻子"]}, "没读懂问题里的“妻子”", 'Did not understand "妻子" in the question.'),
    AMBIGUOUS: ({"entity": {"mention": "张伟", "name": "张伟(演员)"}, "clarify": CLARIFY},
                "你问的是演员张伟，还是歌手张伟？", "Which do you mean: 演员张伟 or 歌手张伟?"),
}


def test_every_reason_code_has_a_line():
    assert set(UNANSWERED) == set(REASONS)
    assert PARTIAL == "part of the question not understood" and AMBIGUOUS == "ambiguous"


@pytest.mark.parametrize("reason", list(UNANSWERED))
def test_unanswered_message_in_chinese_and_english(reason):
    fields, chinese, english = UNANSWERED[reason]
    answer = {"reason": reason, **fields}
    assert answer_message(answer) == chinese
    assert answer_message(answer, "zh") == chinese
    assert answer_message(answer, "en") == english


@pytest.mark.parametrize("reason", list(UNANSWERED))
def test_a_reason_alone_still_reads(reason):
    """Answers from before the newer fields (or with them empty) still get a sensible line."""
    for language in ("zh", "en"):
        line = answer_message({"reason": reason}, language)
        assert line and "None" not in line and "“”" not in line


def test_more_reason_variants():
    reverse = {"reason": NO_RELATION, "entity": {"name": "李嘉欣"}, "predicate": "导演", "direction": "reverse"}
    assert answer_message(reverse) == "图谱里没有以李嘉欣为导演的记录"
    assert answer_message(reverse, "en") == "Nothing in the graph has 李嘉欣 as its 导演."
    # A chain that leads nowhere: the hop that found nothing says what the graph lacks.
    chain = {"reason": NO_RELATION, "entity": {"name": "三度诱惑"}, "predicate": "导演", "shape": "chain",
             "hops": [{"from": ["三度诱惑"], "predicate": "导演", "direction": "forward", "to": ["何藩"]},
                      {"from": ["何藩"], "predicate": "妻子", "direction": "forward", "to": []}]}
    assert answer_message(chain) == "图谱里没有三度诱惑的导演的妻子"
    assert path_lines(chain) == ["三度诱惑 —导演→ 何藩 —妻子→ （无）"]
    earlier = {"reason": NO_REFERENT, "detail": "'这部电影' refers to nothing of the conversation"}
    assert answer_message(earlier) == "“这部电影”指的是前面提到的人或事物，但前面的对话里找不到"
    assert answer_message({"reason": PARTIAL, "unexplained": ["妻子", "首都"]}) == "没读懂问题里的“妻子”、“首都”"
    assert answer_message({"reason": "a code added later"}) == "没能回答这个问题"
    assert answer_message({"reason": "a code added later"}, "en") == "No answer: a code added later."


def hop(start, predicate, direction, end):
    return {"from": start, "predicate": predicate, "direction": direction, "to": end}


ANSWERED = [
    ({"entity": {"name": "三度诱惑"}, "predicate": "导演", "direction": "forward", "answers": ["何藩"]},
     "三度诱惑的导演是何藩", "The 导演 of 三度诱惑 is 何藩.", ["三度诱惑 —导演→ 何藩"]),
    ({"entity": {"name": "李嘉欣"}, "predicate": "妻子", "direction": "reverse", "answers": ["许晋亨"]},
     "许晋亨的妻子是李嘉欣", "李嘉欣 is the 妻子 of 许晋亨.", ["李嘉欣 ←妻子— 许晋亨"]),
    ({"shape": "chain", "answers": ["陈美琪"], "hops": [hop(["三度诱惑"], "导演", "forward", ["何藩"]),
                                                       hop(["何藩"], "妻子", "forward", ["陈美琪"])]},
     "三度诱惑的导演何藩的妻子是陈美琪", "The 妻子 of the 导演 of 三度诱惑 (何藩) is 陈美琪.",
     ["三度诱惑 —导演→ 何藩 —妻子→ 陈美琪"]),
    ({"shape": "reverse_chain", "answers": ["甲", "乙"],
      "hops": [hop(["何藩"], "导演", "reverse", ["三度诱惑"]), hop(["三度诱惑"], "主演", "forward", ["甲", "乙"])]},
     "以何藩为导演的三度诱惑的主演有甲、乙", "The 主演 of those with 何藩 as their 导演 (三度诱惑) are 甲 and 乙.",
     ["何藩 ←导演— 三度诱惑 —主演→ 甲、乙"]),
    ({"shape": "count", "count": 3, "answers": ["3"],
      "hops": [hop(["何藩"], "导演", "reverse", ["三度诱惑", "浮城往事", "长街旧梦"])]},
     "以何藩为导演的共3部：三度诱惑、浮城往事、长街旧梦",
     "Those with 何藩 as their 导演: 3 in all (三度诱惑, 浮城往事 and 长街旧梦).",
     ["何藩 ←导演— 三度诱惑、浮城往事、长街旧梦"]),
    ({"shape": "intersection", "answers": ["三度诱惑"],
      "hops": [hop(["何藩"], "导演", "reverse", ["三度诱惑"]), hop(["李嘉欣"], "主演", "reverse", ["三度诱惑"])]},
     "同时满足“导演是何藩”和“主演是李嘉欣”的是三度诱惑", "What has 何藩 as its 导演 and has 李嘉欣 as its 主演: 三度诱惑.",
     ["何藩 ←导演— 三度诱惑", "李嘉欣 ←主演— 三度诱惑"]),
]


@pytest.mark.parametrize(("answer", "chinese", "english", "path"), ANSWERED,
                         ids=["one_hop", "reverse", "chain", "reverse_chain", "count", "intersection"])
def test_answered_message_and_path(answer, chinese, english, path):
    answer = {"reason": None, **answer}
    assert answer_message(answer, "zh") == chinese
    assert answer_message(answer, "en") == english
    assert path_lines(answer) == path


def test_many_names_are_cut_short():
    names = [f"电影{i}" for i in range(12)]
    answer = {"entity": {"name": "何藩"}, "predicate": "导演", "direction": "reverse", "answers": names}
    assert answer_message(answer) == "以何藩为导演的有电影0、电影1、电影2、电影3、电影4、电影5、电影6、电影7、电影8、电影9等12个"
    assert answer_message(answer, "en").endswith("电影9 and 2 more.")


def test_clarified_question_puts_the_choice_in_place_of_the_mention():
    answer = {"reason": AMBIGUOUS, "entity": {"mention": "张伟", "name": "张伟(演员)"}, "clarify": CLARIFY}
    assert clarified_question("张伟的妻子是谁", answer, CLARIFY["options"][1]) == "歌手张伟的妻子是谁"
    assert clarified_question("他的妻子是谁", answer, CLARIFY["options"][0]) == "演员张伟：他的妻子是谁"


def test_intent_labels_name_the_predicate():
    routes = {"ask_director": [{"predicate": "导演", "direction": "forward"}],
              "ask_films": [{"predicate": "导演", "direction": "reverse"}], "none": []}
    assert intent_label("ask_director", routes) == "ask_director（导演）"
    assert intent_label("ask_films", routes) == "ask_films（反向：导演）"
    assert intent_label("none", routes) == "none（无关问题）"
    assert intent_label("ask_director", routes, "en") == "ask_director (导演)"
    assert intent_label("ask_unknown", routes) == "ask_unknown"


def test_answer_json_carries_the_message_and_keeps_the_reason_code():
    from kgqa_cli.answering.answer import Answer

    data = Answer(question="何藩的妻子是谁", reason=NO_RELATION, entity={"mention": "何藩", "name": "何藩"},
                  predicate="妻子", direction="forward").to_json()
    assert data["reason"] == "no such relation" and data["message"] == "图谱里没有何藩的妻子"
    english = Answer(question="", reason=EMPTY, language="en").to_json()
    assert english["reason"] == "empty question" and english["message"] == "The question is empty."


def rendered(answer, language=None) -> str:
    from kgqa_cli.cli._tables import answer_panel

    console = Console(width=120, record=True, force_terminal=False)
    console.print(answer_panel(answer, language=language))
    return console.export_text()


def test_the_panel_asks_back_with_numbered_options_and_draws_hops():
    from kgqa_cli.answering.answer import Answer

    asked = Answer(question="张伟的妻子是谁", intent="ask_wife", confidence=0.9, reason=AMBIGUOUS,
                   entity={"mention": "张伟", "name": "张伟(演员)", "method": "scan", "similarity": 0.7},
                   detail="2 entities named 张伟 tie")
    asked.clarify = CLARIFY  # set after construction: the field is the pipeline's
    text = rendered(asked)
    assert "你问的是演员张伟，还是歌手张伟？" in text and "请选择" in text
    lines = text.splitlines()
    assert any("请选择" in line and "1. 演员张伟 (张伟(演员))" in line for line in lines)
    assert any("2. 歌手张伟 (张伟(歌手))" in line and "请选择" not in line for line in lines)
    assert "Which do you mean: 演员张伟 or 歌手张伟?" in rendered(asked, "en")
    chained = Answer(question="三度诱惑的导演的妻子是谁", answers=["陈美琪"], entity={"mention": "三度诱惑", "name": "三度诱惑",
                     "method": "exact", "similarity": 1.0}, predicate="导演", direction="forward")
    chained.shape = "chain"
    chained.hops = [hop(["三度诱惑"], "导演", "forward", ["何藩"]), hop(["何藩"], "妻子", "forward", ["陈美琪"])]
    text = rendered(chained)
    assert "路径" in text and "三度诱惑 —导演→ 何藩 —妻子→ 陈美琪" in text
    assert "答案" in text and "三度诱惑的导演何藩的妻子是陈美琪" in text


def test_ask_shows_chinese_by_default_and_english_on_request(tiny_qa):
    runner = CliRunner()
    common = ["--workspace", str(tiny_qa.paths.root)]
    shown = runner.invoke(app, ["ask", "鸡蛋灌饼大冒险的导演是谁", *common])
    assert shown.exit_code == 0, shown.output
    assert "没有答案" in shown.stdout and "图谱里没有“鸡蛋灌饼大冒险”这个实体" in shown.stdout
    assert "意图" in shown.stdout and "ask_director" in shown.stdout and "entity not in the graph" not in shown.stdout
    english = runner.invoke(app, ["ask", "鸡蛋灌饼大冒险的导演是谁", "--ask.language", "en", *common])
    assert english.exit_code == 0, english.output
    assert "no answer" in english.stdout and 'The graph has no entity named "鸡蛋灌饼大冒险".' in english.stdout
    assert "intent" in english.stdout and "意图" not in english.stdout
    answered = runner.invoke(app, ["ask", "三度诱惑的导演是谁", *common])
    assert "答案" in answered.stdout and "何藩" in answered.stdout and "实体" in answered.stdout
    for language, message in (("zh", "图谱里没有“鸡蛋灌饼大冒险”这个实体"),
                              ("en", 'The graph has no entity named "鸡蛋灌饼大冒险".')):
        result = runner.invoke(app, ["ask", "鸡蛋灌饼大冒险的导演是谁", "--json", "--ask.language", language, *common])
        data = json.loads(result.stdout)
        assert data["reason"] == NOT_IN_GRAPH == "entity not in the graph"  # the code never changes
        assert data["message"] == message and data["language"] == language
    refused = runner.invoke(app, ["ask", "你好", "--ask.language", "fr", *common])
    assert refused.exit_code == 2


def test_chat_speaks_chinese(tiny_qa):
    runner = CliRunner()
    result = runner.invoke(app, ["chat", "--workspace", str(tiny_qa.paths.root)],
                           input="他还导演了哪些电影\n三度诱惑的导演是谁\n")
    assert result.exit_code == 0, result.output
    assert "“他”指的是前面的问题，但前面没有问题" in result.stdout
    assert "答案" in result.stdout and "何藩" in result.stdout


def test_chat_asks_back_and_a_number_chooses(tiny_qa, tmp_path):
    """Two entities named 张伟 in the graph: the answer asks which one; typing 2 asks again."""
    from qa_fixtures import copy_workspace

    settings = copy_workspace(tiny_qa, tmp_path)
    rows = [{"text": f"{name}的妻子是{wife}", "spo_list": [{"predicate": "妻子", "subject": name, "subject_type": "人物",
                                                            "object": {"@value": wife}, "object_type": {"@value": "人物"}}]}
            for name, wife in (("张伟(演员)", "王甲"), ("张伟(歌手)", "李乙"))]
    triples = tmp_path / "homonyms.jsonl"
    triples.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    runner = CliRunner()
    workspace = ["--workspace", str(settings.paths.root)]
    assert runner.invoke(app, ["bulkload", str(triples), "--merge", *workspace]).exit_code == 0
    result = runner.invoke(app, ["chat", *workspace], input="张伟的妻子是谁\n2\n")
    assert result.exit_code == 0, result.output
    first, second = result.stdout.split("╰", 1)
    assert "请选择" in first and "1. " in first and "2. " in first
    chosen = next(line for line in first.splitlines() if "2. " in line)
    label = chosen.split("2. ", 1)[1].split(" (", 1)[0]  # 演员张伟 or 歌手张伟, in the order given
    wife = "王甲" if label == "演员张伟" else "李乙"
    assert f"{label}的妻子是谁" in second and wife in second
