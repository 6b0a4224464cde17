"""The details a person reads beside an answer's line (`kgqa ask`/`kgqa chat` panels, the chat
page): row labels, how the entity was found, the path its hops took, the evidence sentences with
their names marked, the intents with what they ask, and a question asked again once clarified."""

from __future__ import annotations

from typing import Any

from kgqa_cli.answering.messages import hops_of, mention_of, name_list

NONE_LABEL = {"zh": "无关问题", "en": "not about the graph"}

# Row labels of `kgqa ask`/`kgqa chat` and the chat page's details.
LABELS = {
    "zh": {"intent": "意图", "slots": "槽位", "entity": "实体", "context": "上下文", "path": "路径", "count": "数量",
           "query": "查询", "answer": "答案", "no_answer": "没有答案", "detail": "说明", "clarify": "请选择",
           "readings": "候选解读", "score": "得分", "found_by": "找到方式", "edge": "关系", "intent_p": "意图（概率）",
           "keyword": "关键词", "empty": "（空问题）", "choose": "输入编号选择，或直接提出新问题", "evidence": "依据",
           "sentences": "句", "no_evidence": "（图中没有保存来源句子）"},
    "en": {"intent": "intent", "slots": "slots", "entity": "entity", "context": "context", "path": "path",
           "count": "count", "query": "query", "answer": "answer", "no_answer": "no answer", "detail": "detail",
           "clarify": "which one", "readings": "readings", "score": "score", "found_by": "found by", "edge": "edge",
           "intent_p": "intent (p)", "keyword": "keyword", "empty": "(empty)",
           "choose": "type a number to choose, or ask something else", "evidence": "evidence",
           "sentences": "sentences", "no_evidence": "(the graph keeps no source sentence)"},
}

METHODS = {
    "zh": {"exact": "完全匹配", "normalized": "规范化匹配", "contained": "包含匹配", "fuzzy": "模糊匹配",
           "scan": "在问题中找到", "context": "来自对话", "homonym": "同名实体", "spelling": "写法不同",
           "transliteration": "译名简称", "alias": "别名"},
    "en": {"exact": "exact", "normalized": "normalized", "contained": "contained", "fuzzy": "fuzzy",
           "scan": "found in the question", "context": "from the conversation", "homonym": "homonym",
           "spelling": "spelt otherwise", "transliteration": "short transliteration", "alias": "alias"},
}


def marked_sentence(sentence: dict[str, Any]) -> list[tuple[str, str | None]]:
    """A stored evidence sentence cut into ``(text, role)`` parts, role ``subject``, ``object`` or
    None, for a terminal or a page to mark the two names (a span that is missing or overlaps the
    other is left unmarked)."""
    text = str(sentence.get("text") or "")
    spans: list[tuple[int, int, str]] = []
    for role in ("subject", "object"):
        span = sentence.get(role)
        if (isinstance(span, list) and len(span) == 2 and all(isinstance(v, int) for v in span)
                and 0 <= span[0] < span[1] <= len(text)
                and not any(span[0] < end and start < span[1] for start, end, _ in spans)):
            spans.append((span[0], span[1], role))
    parts: list[tuple[str, str | None]] = []
    position = 0
    for start, end, role in sorted(spans):
        if start > position:
            parts.append((text[position:start], None))
        parts.append((text[start:end], role))
        position = end
    if position < len(text):
        parts.append((text[position:], None))
    return parts

def path_lines(answer: dict[str, Any], language: str = "zh") -> list[str]:
    """The hops drawn as edges, 三度诱惑 —导演→ 何藩 —妻子→ …: one line for a chain, one per hop
    for an intersection (its hops start from different entities)."""
    hops = hops_of(answer)
    zh = language != "en"
    if not hops:
        return []
    nothing = "（无）" if zh else "(none)"
    drawn = [(name_list(hop.get("from"), zh, 3) or nothing, _arrow(hop), name_list(hop.get("to"), zh, 3) or nothing)
             for hop in hops]
    if answer.get("shape") == "intersection":
        return [f"{start} {arrow} {end}" for start, arrow, end in drawn]
    line = drawn[0][0]
    for _, arrow, end in drawn:
        line += f" {arrow} {end}"
    return [line]

def method_text(entity: dict[str, Any], language: str = "zh") -> str:
    """How the entity was found (完全匹配, 模糊匹配 0.85, 来自对话：“他”)."""
    zh = language != "en"
    method = entity.get("method") or ""
    text = METHODS["zh" if zh else "en"].get(method, method)
    if method == "fuzzy" and entity.get("similarity") is not None:
        text += f" {float(entity['similarity']):.2f}"
    if method == "context" and entity.get("reference"):
        text += f"：“{entity['reference']}”" if zh else f': "{entity["reference"]}"'
    return text

def context_text(context: dict[str, Any] | None, language: str = "zh") -> str:
    """What a referring word stood for: “他”指何藩."""
    if not context or not context.get("reference"):
        return ""
    entity = context.get("entity") or ""
    if language == "en":
        return f'"{context["reference"]}" is {entity}'
    return f"“{context['reference']}”指{entity}"

def clarified_question(question: str, answer: dict[str, Any], option: dict[str, Any]) -> str:
    """The question asked again with the chosen option: its label (演员张伟, which states the
    disambiguator the linker looks for) in place of the ambiguous mention, else before the question."""
    chosen = str(option.get("label") or option.get("entity") or "")
    mention = (answer.get("clarify") or {}).get("mention") or mention_of(answer)
    if mention and mention in question:
        return question.replace(mention, chosen, 1)
    return f"{chosen}：{question}"

def intent_label(intent: str, routes: dict[str, Any] | None, language: str = "zh") -> str:
    """An intent with the predicate it asks for: ``ask_director（导演）``; a reverse question
    ``ask_films（反向：导演）``; the out-of-scope intent ``none（无关问题）``."""
    zh = language != "en"
    route = ((routes or {}).get(intent) or [None])[0]
    if route is None:
        if intent != "none":
            return intent
        what = NONE_LABEL["zh" if zh else "en"]
    elif route.get("direction") == "reverse":
        what = f"反向：{route.get('predicate')}" if zh else f"reverse: {route.get('predicate')}"
    else:
        what = str(route.get("predicate"))
    return f"{intent}（{what}）" if zh else f"{intent} ({what})"

def _arrow(hop: dict[str, Any]) -> str:
    """An edge as the graph has it: forward —导演→, reverse ←导演— (the answer is the subject)."""
    predicate = hop.get("predicate")
    return f"←{predicate}—" if hop.get("direction") == "reverse" else f"—{predicate}→"
