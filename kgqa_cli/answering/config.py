"""Config of `kgqa ask`: which question model, how a question is read, conversation context."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kgqa_cli.config import StrictModel


class InterpretationConfig(StrictModel):
    """Section ``ask.interpretation``: how the (entity, predicate) pair of a question is chosen.

    A reading (an entity and an edge it has in the graph) scores ``intent_weight`` x the model's
    probability of the intents taking that edge + ``entity_weight`` x the entity's score +
    ``keyword_weight`` x a lexicon word of the predicate in the question (0.7 + 0.1 per character,
    at most 1). See ``kgqa_cli/answering/interpret.py``.
    """

    intent_weight: float = Field(1.0, ge=0)
    entity_weight: float = Field(0.5, ge=0)
    keyword_weight: float = Field(0.8, ge=0)
    min_score: float = Field(0.75, ge=0, description="a best reading scoring less is not answered")
    none_threshold: float = Field(
        0.5, ge=0, le=1, description="out of scope when the model gives `none` this much and no keyword speaks against it"
    )
    fallback_factor: float = Field(0.9, ge=0, le=1, description="an intent's n-th fallback route counts factor^n of it")
    opposite_factor: float = Field(
        0.8, ge=0, le=1, description="an intent counts this much for its predicate the other way round"
    )
    min_route_probability: float = Field(
        0.05, ge=0, le=1, description="a reverse edge needs this much intent probability or a keyword to be read"
    )
    method_scores: dict[str, float] = Field(
        default_factory=lambda: {"exact": 1.0, "normalized": 1.0, "contained": 0.9, "fuzzy": 0.85},
        description="entity score of a linked slot by link method (times its similarity)",
    )
    scan_score: float = Field(0.7, ge=0, le=1, description="entity score of a graph name found in the question")
    scan_overlap_bonus: float = Field(0.3, ge=0, le=1, description="added x its overlap (IoU) with the tagged span")
    shadowed_factor: float = Field(0.5, ge=0, le=1, description="factor of a name found inside a longer found name")
    scan_min_length: int = Field(2, ge=1, description="shorter graph names are not looked for in questions")
    alias_predicates: list[str] = Field(
        default_factory=lambda: ["简称", "别名", "外文名", "昵称", "又名", "原名"],
        description="edges whose object is another name of their subject (X -简称-> 北大: 北大 names X)",
    )
    variant_scores: dict[str, float] = Field(
        default_factory=lambda: {"alias": 0.98, "spelling": 1.0, "transliteration": 0.9, "described": 1.0,
                                 "homonym": 0.95, "other_homonym": 0.6},
        description="factor of a name written otherwise than the graph's (times the scan score): an alias "
        "of a 简称/别名 edge, the name with other or no dots (大卫贝克汉姆), the last part of a transliterated "
        "name (贝克汉姆), a homonym whose bracketed disambiguator the question states (演员张伟 -> 张伟(演员)), "
        "one stated by nothing (every homonym alike), one whose sibling's descriptor is stated",
    )
    context_score: float = Field(0.95, ge=0, le=1, description="entity score of the first referent of a referring word")
    context_decay: float = Field(0.05, ge=0, le=1, description="less for each next referent of the same kind")
    max_entities: int = Field(8, ge=1, description="entity candidates whose edges are weighed")
    profile_cache: int = Field(4096, ge=1, description="entities whose types and edge labels are kept in memory")
    show_readings: int = Field(5, ge=0, description="readings an answer lists (`kgqa ask -v`, --json)")


def _default_references() -> dict[str, list[str]]:
    return {
        "person": ["他", "她", "此人", "这个人", "这人", "这位", "那个人", "他们", "她们"],
        "work": ["它", "这部作品", "这部", "这个作品"],
        "film": ["这部电影", "这部电视剧", "这部剧", "这部片", "这部片子", "这片子", "该片", "此片"],
        "book": ["这本书", "这本小说", "这部小说", "这本", "该书", "此书"],
        "song": ["这首歌", "这首歌曲", "这首", "这张专辑"],
        "show": ["这个节目", "这档节目", "这个综艺"],
        "place": ["它", "那里", "那儿", "这里", "这儿", "这个地方", "这地方", "该地", "当地"],
        "country": ["这个国家", "该国"],
        "city": ["这座城市", "这个城市", "该市"],
        "organisation": ["它", "这家公司", "该公司", "这个公司", "这个机构", "这家企业"],
        "school": ["这所学校", "这个学校", "该校", "这所大学"],
    }


def _default_types() -> dict[str, list[str]]:
    works = ["影视作品", "图书作品", "文学作品", "歌曲", "音乐专辑", "作品", "电视综艺", "电影", "电视剧", "小说"]
    return {
        "person": ["人物", "娱乐人物", "历史人物", "演员", "导演", "歌手", "作家", "运动员"],
        "work": works,
        "film": ["影视作品", "电影", "电视剧", "作品"],
        "book": ["图书作品", "文学作品", "小说", "作品"],
        "song": ["歌曲", "音乐专辑"],
        "show": ["电视综艺"],
        "place": ["地点", "国家", "城市", "行政区", "景点"],
        "country": ["国家"],
        "city": ["城市", "行政区"],
        "organisation": ["企业", "机构", "学校", "企业/品牌", "公司"],
        "school": ["学校"],
    }


class ContextConfig(StrictModel):
    """Section ``ask.context``: follow-up questions that refer back (他还导演了哪些电影)."""

    references: dict[str, list[str]] = Field(
        default_factory=_default_references, description="referring words per kind of entity"
    )
    types: dict[str, list[str]] = Field(
        default_factory=_default_types,
        description="vertex types of each kind (a type may be of several kinds: 影视作品 is a work and a film)",
    )
    max_turns: int = Field(8, ge=1, description="turns of a conversation kept")
    max_sessions: int = Field(1000, ge=1, description="conversations an endpoint keeps (least recent dropped)")
    session_ttl_seconds: float = Field(1800, gt=0, description="a conversation idle this long is forgotten")


class AskConfig(StrictModel):
    """Section ``ask``: answering questions from the graph."""

    qa_model: str | None = Field(None, description="registered qa version (3, v3, qa/v3); null: newest usable")
    fuzzy_threshold: float = Field(0.75, ge=0, le=1, description="least similarity of a fuzzy entity match (0-1)")
    max_answers: int = Field(50, ge=1, description="answers returned per question")
    language: Literal["zh", "en"] = Field(
        "zh", description="language of what a person reads: an answer's `message`, `ask`/`chat` panels "
        "(zh: Chinese, en: English); the JSON's `reason` codes stay the same"
    )
    interpretation: InterpretationConfig = InterpretationConfig()
    context: ContextConfig = ContextConfig()
