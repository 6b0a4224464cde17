"""The line a person reads about an answer (the answer, or why there is none), in Chinese
(``zh``) or English (``en``).

Everything here is built from the fields of an answer's JSON (``Answer.to_json()``): the reason
code, entity, predicate, direction, slots, unexplained words, clarify, hops, count and context.
Every field is optional, so that an answer from an older endpoint or a capture still reads well.
The reason codes themselves stay English and stable; only these texts change with the language.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any

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
)

LANGUAGES = ("zh", "en")


# Measure words for a count: what a reverse edge of these predicates leads to (works, songs), and
# the people a forward edge of these leads to. Any other count is in 个.
_WORK_PREDICATES = {"导演", "主演", "编剧", "制片人", "出品公司", "作者", "改编自", "配音", "主题曲", "嘉宾", "主持人"}
_SONG_PREDICATES = {"歌手", "作词", "作曲", "所属专辑"}
_PERSON_PREDICATES = {"导演", "主演", "编剧", "制片人", "作者", "歌手", "作词", "作曲", "父亲", "母亲", "妻子", "丈夫",
                      "嘉宾", "主持人", "配音", "董事长", "创始人", "校长", "代言人"}

_SHOWN_NAMES = 10  # names a message lists before "等N个"


def answer_message(answer: dict[str, Any], language: str = "zh") -> str:
    """One line for a person: the answer, or why there is none, in ``language`` (zh or en)."""
    zh = language != "en"
    reason = answer.get("reason")
    if reason is None:
        return _answered(answer, zh)
    if reason == AMBIGUOUS:
        return _ambiguous(answer, zh)
    if reason == PARTIAL:
        words = [word for word in answer.get("unexplained") or [] if word]
        if not words:
            return "问题里有一部分没能读懂" if zh else "Part of the question was not understood."
        return (f"没读懂问题里的{_quoted(words, True)}" if zh
                else f"Did not understand {_quoted(words, False)} in the question.")
    if reason == NOT_IN_GRAPH:
        mention = mention_of(answer)
        if not mention:
            return "图谱里没有问题中的这个实体" if zh else "The graph has no entity of that name."
        return f"图谱里没有“{mention}”这个实体" if zh else f'The graph has no entity named "{mention}".'
    if reason == NO_RELATION:
        return _no_relation(answer, zh)
    if reason == NO_REFERENT:
        return _no_referent(answer, zh)
    fixed = {
        EMPTY: ("问题是空的，请输入一个问题", "The question is empty."),
        NO_INTENT: ("没能读懂这个问题", "Could not make out what the question asks."),
        OUT_OF_SCOPE: ("这个问题不在知识图谱能回答的范围内", "This is not a question the knowledge graph can answer."),
        NO_ENTITY: ("问题里没有找到要查询的人或事物", "Found nothing in the question to look up in the graph."),
    }
    if reason in fixed:
        return fixed[reason][0 if zh else 1]
    return "没能回答这个问题" if zh else f"No answer: {reason}."


def hops_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer's hops; an answered one-hop question without them gets its one hop from the
    entity, predicate, direction and answers."""
    hops = [hop for hop in answer.get("hops") or [] if isinstance(hop, dict) and hop.get("predicate")]
    if hops:
        return hops
    entity = answer.get("entity") or {}
    if entity.get("name") and answer.get("predicate") and answer.get("answers"):
        return [{"from": [entity["name"]], "predicate": answer["predicate"],
                 "direction": answer.get("direction") or "forward", "to": list(answer.get("answers") or [])}]
    return []


# ---------------------------------------------------------------------- answered


def _answered(answer: dict[str, Any], zh: bool) -> str:
    hops = hops_of(answer)
    answers = list(answer.get("answers") or [])
    count = answer.get("count")
    if not hops:
        return name_list(answers, zh) if answers else ""
    if answer.get("shape") == "intersection":
        subject = _intersection_phrase(hops, zh)
    else:
        subject = _chain_phrase(hops, zh)
    last = hops[-1]
    if isinstance(count, int) and not isinstance(count, bool):
        # A count's answers hold the count itself; the names counted, if any, are its last hop's.
        counted = [name for name in last.get("to") or [] if name != str(count)]
        listed = f"：{name_list(counted, True)}" if zh and counted else f" ({name_list(counted, False)})" if counted else ""
        if zh:
            return f"{subject}共{count}{_unit(last)}{listed}"
        return f"{_capital(subject)}: {count} in all{listed}."
    if not answers:
        return ""
    many = len(answers) > 1
    if (len(hops) == 1 and answer.get("shape") != "intersection" and last.get("direction") == "reverse"
            and len(answers) <= 3):
        # 三度诱惑的导演是何藩 reads better than 以何藩为导演的是三度诱惑.
        start, predicate = name_list(last.get("from"), zh), last.get("predicate")
        if zh:
            return f"{name_list(answers, True)}的{predicate}{'都' if many else ''}是{start}"
        return f"{start} is the {predicate} of {name_list(answers, False)}."
    if zh:
        return f"{subject}{'有' if many else '是'}{name_list(answers, True)}"
    if answer.get("shape") == "intersection":
        return f"{_capital(subject)}: {name_list(answers, False)}."
    return f"{_capital(subject)} {'are' if many else 'is'} {name_list(answers, False)}."


def _chain_phrase(hops: list[dict[str, Any]], zh: bool, with_names: bool = True) -> str:
    """The set a chain leads to, as a noun phrase: 三度诱惑的导演何藩的妻子 / the 妻子 of the 导演 of
    三度诱惑 (何藩); a reverse hop reads 以何藩为导演的 / those with 何藩 as their 导演. Without
    ``with_names`` the names reached in between are left out (三度诱惑的导演的妻子)."""
    phrase = name_list(hops[0].get("from"), zh)
    for index, hop in enumerate(hops):
        if index > 0 and with_names:
            between = hops[index - 1].get("to") or []
            if 0 < len(between) <= 2:  # a few names in between say which way the chain went
                phrase = f"{phrase}{name_list(between, True)}" if zh else f"{phrase} ({name_list(between, False)})"
        predicate = hop.get("predicate")
        if hop.get("direction") == "reverse":
            phrase = f"以{phrase}为{predicate}的" if zh else f"those with {phrase} as their {predicate}"
        else:
            joint = "" if phrase.endswith("的") else "的"  # 以何藩为导演的主演, not 的的
            phrase = f"{phrase}{joint}{predicate}" if zh else f"the {predicate} of {phrase}"
    return phrase


def _intersection_phrase(hops: list[dict[str, Any]], zh: bool) -> str:
    """What every hop of an intersection asks of the answer: 同时满足“导演是何藩”和“主演是李嘉欣”的 /
    what has 何藩 as its 导演 and has 李嘉欣 as its 主演."""
    conditions = []
    for hop in hops:
        start, predicate = name_list(hop.get("from"), zh), hop.get("predicate")
        if hop.get("direction") == "reverse":
            conditions.append(f"“{predicate}是{start}”" if zh else f"has {start} as its {predicate}")
        else:
            conditions.append(f"“是{start}的{predicate}”" if zh else f"is the {predicate} of {start}")
    if zh:
        return "同时满足" + "、".join(conditions[:-1]) + ("和" if len(conditions) > 1 else "") + conditions[-1] + "的"
    return "what " + " and ".join(conditions)


def _unit(hop: dict[str, Any]) -> str:
    predicate = hop.get("predicate")
    if hop.get("direction") == "reverse":
        return "部" if predicate in _WORK_PREDICATES else "首" if predicate in _SONG_PREDICATES else "个"
    return "位" if predicate in _PERSON_PREDICATES else "个"


# ---------------------------------------------------------------------- unanswered


def ask_back(labels: list[str], language: str = "zh") -> str:
    """The question back when a name fits several entities: 你问的是演员张伟，还是歌手张伟？"""
    if language == "zh":
        return "你问的是" + "，还是".join(labels) + "？"
    if len(labels) > 1:
        return "Which do you mean: " + ", ".join(labels[:-1]) + f" or {labels[-1]}?"
    return f"Do you mean {labels[0]}?"


def _ambiguous(answer: dict[str, Any], zh: bool) -> str:
    clarify = answer.get("clarify") or {}
    labels = [str(option.get("label") or option.get("entity")) for option in clarify.get("options") or []
              if isinstance(option, dict) and (option.get("label") or option.get("entity"))]
    if zh and clarify.get("question"):
        return str(clarify["question"])
    if labels:
        return ask_back(labels, "zh" if zh else "en")
    mention = mention_of(answer)
    if zh:
        return f"“{mention}”可以指好几个实体，请说得具体一些" if mention else "问题可以有几种理解，请说得具体一些"
    return (f'"{mention}" could be several entities: please say which.' if mention
            else "The question can be read several ways: please be more specific.")


def _no_relation(answer: dict[str, Any], zh: bool) -> str:
    entity = (answer.get("entity") or {}).get("name") or mention_of(answer)
    predicate, direction = answer.get("predicate"), answer.get("direction")
    # In a chain, what the graph lacks is the whole path up to the hop that led nowhere
    # (三度诱惑的导演的妻子), never the names the hops before it reached, which are no answer.
    hops = [hop for hop in answer.get("hops") or [] if isinstance(hop, dict)]
    if answer.get("shape") == "intersection" and len(hops) > 1:
        if zh:
            return f"图谱里没有{_intersection_phrase(hops, True)}"
        return f"Nothing in the graph is {_intersection_phrase(hops, False).removeprefix('what ')}."
    stuck = next((index for index, hop in enumerate(hops) if not hop.get("to")), None)
    if stuck and hops[stuck].get("predicate") and answer.get("shape") != "intersection":
        path = _chain_phrase(hops[:stuck], zh, with_names=False)
        predicate = hops[stuck]["predicate"]
        if zh:
            return f"图谱里没有{path}{'' if path.endswith('的') else '的'}{predicate}"
        return f"The graph has no {predicate} of {path}."
    if stuck == 0 and hops[0].get("from") and hops[0].get("predicate"):
        entity, predicate, direction = name_list(hops[0]["from"], zh, 3), hops[0]["predicate"], hops[0].get("direction")
    if not entity:
        return "图谱里没有这项信息" if zh else "The graph does not hold that."
    if not predicate:
        return (f"图谱里没有{entity}的这项信息" if zh
                else f"The graph holds nothing about {entity} that answers this.")
    if direction == "reverse":
        return f"图谱里没有以{entity}为{predicate}的记录" if zh else f"Nothing in the graph has {entity} as its {predicate}."
    return f"图谱里没有{entity}的{predicate}" if zh else f"The graph has no {predicate} of {entity}."


# The detail of NO_REFERENT starts with the referring word as a Python string literal.
_REFERENCE_IN_DETAIL = re.compile(r"""^('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*") refers""")


def _no_referent(answer: dict[str, Any], zh: bool) -> str:
    phrase = answer.get("reference") or (answer.get("context") or {}).get("reference")
    detail = answer.get("detail") or ""
    if not phrase:
        match = _REFERENCE_IN_DETAIL.match(detail)
        if match:
            try:
                phrase = ast.literal_eval(match.group(1))
            except (ValueError, SyntaxError):
                phrase = None
    earlier = "refers to nothing of the conversation" in detail  # there were turns, none of its kind
    if zh:
        word = f"“{phrase}”" if phrase else "问题"
        if earlier:
            return f"{word}指的是前面提到的人或事物，但前面的对话里找不到"
        return f"{word}指的是前面的问题，但前面没有问题"
    word = f'"{phrase}"' if phrase else "The question"
    if earlier:
        return f"{word} refers back, but nothing earlier in the conversation fits."
    return f"{word} refers back to an earlier question, and there is none."


# ---------------------------------------------------------------------- helpers


def mention_of(answer: dict[str, Any]) -> str | None:
    """The entity text of the question: the linked mention, else the first slot text."""
    entity = answer.get("entity") or {}
    if entity.get("mention"):
        return str(entity["mention"])
    for texts in (answer.get("slots") or {}).values():
        for text in texts or []:
            if text:
                return str(text)
    return None


def name_list(names: Iterable[str] | str | None, zh: bool, limit: int = _SHOWN_NAMES) -> str:
    """A list of names as a person writes it: 甲、乙、丙等12个 / A, B and C (and 9 more)."""
    if names is None:
        return ""
    items = [names] if isinstance(names, str) else [str(name) for name in names]
    shown, rest = items[:limit], len(items) - limit
    if zh:
        return "、".join(shown) + (f"等{len(items)}个" if rest > 0 else "")
    if rest > 0:
        return ", ".join(shown) + f" and {rest} more"
    return ", ".join(shown[:-1]) + f" and {shown[-1]}" if len(shown) > 1 else "".join(shown)


def _quoted(words: list[str], zh: bool) -> str:
    if zh:
        return "、".join(f"“{word}”" for word in words)
    return ", ".join(f'"{word}"' for word in words)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
