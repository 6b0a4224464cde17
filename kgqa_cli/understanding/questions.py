"""Question data from the schema: intents x phrasings x entity names, with a BIO tag per character.

Entity names are split between train, dev and test *before* any question is made, so no name of a
test question occurs in a training question: the test figures measure generalisation to names the
model has never seen. Output is deterministic for a given seed, schema, corpus and templates.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from kgqa_cli.data.corpus import load_corpus
from kgqa_cli.data.preprocess import SPLITS, require_split
from kgqa_cli.data.records import Record
from kgqa_cli.data.schema import Schema
from kgqa_cli.errors import InputDataError, MissingArtifactError
from kgqa_cli.io import write_json, write_jsonl
from kgqa_cli.understanding.config import QuestionGenerationConfig
from kgqa_cli.understanding.entity_names import CLOSE_QUOTE, OPEN_QUOTE, NamePools, collect_names, split_names
from kgqa_cli.understanding.feedback import Example, merge_feedback, read_feedback, span_texts
from kgqa_cli.understanding.templates import NONE_INTENT, IntentTemplate, QuestionTemplates, load_templates
from kgqa_cli.workspace import Workspace, ensure_writable

if TYPE_CHECKING:
    from kgqa_cli.graph.config import GraphConfig

log = logging.getLogger(__name__)

# Out-of-scope noise: characters a garbage question is drawn from besides the names' own.
_NOISE = "abcdefghijklmnopqrstuvwxyz0123456789!@#$%&*()_+-=[]{}'\";:,.<>/?~ "


@dataclass
class QuestionSets:
    """What generation wrote: examples per split, and counts for the report."""

    splits: dict[str, list[Example]]
    intents: list[IntentTemplate]
    names_per_split: dict[str, int]
    output_dir: Path

    def stats(self) -> dict[str, Any]:
        """Questions per intent and split, as printed by `kgqa questions` and saved in stats.json."""
        per_intent = {
            intent.name: {split: 0 for split in self.splits} for intent in self.intents
        }
        for split, examples in self.splits.items():
            for example in examples:
                per_intent[example["intent"]][split] += 1
        return {
            "output": str(self.output_dir),
            "intents": len(self.intents),
            "splits": {split: len(examples) for split, examples in self.splits.items()},
            "names": self.names_per_split,
            "per_intent": per_intent,
        }


class TaggedText(TypedDict):
    """A question's text and one BIO tag per character."""

    text: str
    slots: list[str]


def tag_question(template: str, wrapper: str, name: str | None, slot: str, quoted: bool) -> TaggedText:
    """Build the text and one BIO tag per character; 《》 around the name are tagged O."""
    question = wrapper.replace("{q}", template)
    if name is None or "{entity}" not in question:
        text = question.replace("{entity}", "")
        return {"text": text, "slots": ["O"] * len(text)}
    before, after = question.split("{entity}", 1)
    mention = f"{OPEN_QUOTE}{name}{CLOSE_QUOTE}" if quoted else name
    tags = ["O"] * len(before)
    if quoted:
        tags.append("O")
    tags += [f"B-{slot}"] + [f"I-{slot}"] * (len(name) - 1)
    if quoted:
        tags.append("O")
    tags += ["O"] * len(after)
    text = before + mention + after
    return {"text": text, "slots": tags}


def _garbage(rng: random.Random, alphabet: str) -> str:
    length = rng.randint(1, 24)
    return "".join(rng.choice(alphabet) for _ in range(length)).strip() or "?"


# Lexicon words that read as nouns after 的 (the rest are verbs or question phrases: 谁写, 哪年上映).
_NOT_NOUN_MARKS = set("的谁了过什么哪多几在是吗呢")
# Templates made from a predicate's lexicon nouns, for forward intents: the short and elliptical
# forms real users type (这部电影的主演呢).
_LEXICON_TEMPLATES = ("{entity}的{word}呢", "{entity}的{word}", "{entity}的{word}是？", "说说{entity}的{word}")


def lexicon_templates(intent: IntentTemplate, synonyms: dict[str, list[str]]) -> list[str]:
    """Extra templates of a forward intent from its predicate and the lexicon's noun-like words;
    a word of several predicates (配偶 for 妻子 and 丈夫) makes none, as it would teach both."""
    if intent.predicate is None or intent.direction != "forward":
        return []
    owners: dict[str, set[str]] = {}
    for predicate, listed in synonyms.items():
        for word in (predicate, *listed):
            owners.setdefault(word, set()).add(predicate)
    words = [intent.predicate, *synonyms.get(intent.predicate, [])]
    nouns = [w for w in dict.fromkeys(words)
             if len(w) >= 2 and not set(w) & _NOT_NOUN_MARKS and owners.get(w) == {intent.predicate}]
    return [template.replace("{word}", word) for word in nouns for template in _LEXICON_TEMPLATES]


def followup_text(template: str, reverse: bool, rng: random.Random) -> str:
    """A template as a follow-up (他导演了… -> 他还导演了…, 那他的…): 还 after the referring word
    of a reverse question (what else did he direct), 那/那么 before it."""
    text = template
    at = text.find("{entity}")
    after = text[at + len("{entity}"): at + len("{entity}") + 1]
    if reverse and at == 0 and after and after not in "的是和跟在有" and rng.random() < 0.5:
        text = text.replace("{entity}", "{entity}还", 1)
    if at == 0 and rng.random() < 0.3:
        text = rng.choice(("那", "那么", "那么请问")) + text
    return text


def generate_examples(
    templates: QuestionTemplates,
    intents: list[IntentTemplate],
    pools: NamePools,
    assignment: dict[str, str],
    config: QuestionGenerationConfig,
    references: dict[str, list[str]] | None = None,
) -> dict[str, list[Example]]:
    """Generate ``config.per_intent[split]`` questions per intent and split.

    With ``references`` (intent -> the referring words of the kind of entity its slot takes), a
    share ``config.followup_share`` of each intent's questions are follow-ups: the entity is left
    out, a referring word stands in its place, tagged ``context``, so the model learns questions
    that take their entity from the conversation.
    """
    split_pool: dict[str, list[str]] = {split: [] for split in SPLITS}
    for name, split in sorted(assignment.items()):
        split_pool[split].append(name)
    quote_types = set(templates.quote_types)
    alphabet = "".join(sorted({ch for name in assignment for ch in name})) + _NOISE
    result: dict[str, list[Example]] = {}
    for split_index, split in enumerate(SPLITS):
        examples: list[Example] = []
        for intent_index, intent in enumerate(intents):
            rng = random.Random(config.seed * 1_000_003 + split_index * 10_007 + intent_index)
            if intent.predicate is not None:
                typed = sorted(n for n in pools.by_role.get((intent.predicate, intent.slot), ()) if assignment[n] == split)
            else:
                typed = []
            maker = _IntentQuestions(
                intent, [*intent.templates, *lexicon_templates(intent, templates.synonyms)], templates.wrappers,
                typed or split_pool[split], (references or {}).get(intent.name, []), pools.types, quote_types, alphabet,
            )
            examples += maker.examples(config.per_intent[split], config.followup_share, rng)
        random.Random(config.seed + split_index).shuffle(examples)
        result[split] = examples
    return result


@dataclass
class _IntentQuestions:
    """What the questions of one intent in one split are made of: its phrasings, the wrappers
    around them, the entity names and referring words that fill them."""

    intent: IntentTemplate
    phrasings: list[str]
    wrappers: list[str]
    names: list[str]
    referring: list[str]
    name_types: dict[str, set[str]]
    quote_types: set[str]
    alphabet: str

    def examples(self, wanted: int, followup_share: float, rng: random.Random) -> list[Example]:
        """Up to ``wanted`` distinct questions (a few tries each before giving up on more)."""
        examples: list[Example] = []
        seen: set[str] = set()
        attempts = 0
        while len(seen) < wanted and attempts < wanted * 5:
            attempts += 1
            example = self.example(followup_share, rng)
            if example["text"] in seen:
                continue
            seen.add(example["text"])
            examples.append({"text": example["text"], "intent": self.intent.name, "slots": example["slots"]})
        return examples

    def example(self, followup_share: float, rng: random.Random) -> TaggedText:
        """One question: out-of-scope noise (a quarter of the ``none`` intent's), a follow-up
        (``followup_share`` of them where there are referring words), else a phrasing with a name."""
        intent = self.intent
        if intent.name == NONE_INTENT and rng.random() < 0.25:
            text = _garbage(rng, self.alphabet)
            return {"text": text, "slots": ["O"] * len(text)}
        if self.referring and rng.random() < followup_share:
            template = followup_text(rng.choice(self.phrasings), intent.direction == "reverse", rng)
            return tag_question(template, rng.choice(self.wrappers), rng.choice(self.referring), "context", False)
        template = rng.choice(self.phrasings)
        # 的 dropped a third of the time, in the hand-written phrasings only: after a
        # lexicon word (化学专业代码) nothing would mark where the name ends.
        if "{entity}的" in template and template in intent.templates and rng.random() < 1 / 3:
            template = template.replace("{entity}的", "{entity}", 1)
        name = rng.choice(self.names) if self.names and "{entity}" in template else None
        quoted = bool(name and self.name_types.get(name, set()) & self.quote_types) and rng.random() < 0.5
        wrapper = rng.choice(self.wrappers)
        return tag_question(template, wrapper, name, intent.slot, quoted)


def read_split_records(workspace: Workspace) -> list[Record]:
    """All labelled records of the preprocessed splits (names come from every split)."""
    return [record for split in SPLITS for record in load_corpus(require_split(workspace, split))]


class ReferringContext(Protocol):
    """What follow-up questions take of the ``ask.context`` config: the referring words of each
    kind of entity, and the vertex types of each kind."""

    @property
    def references(self) -> Mapping[str, list[str]]: ...

    @property
    def types(self) -> Mapping[str, list[str]]: ...


def referring_words(schema: Schema, intents: list[IntentTemplate], context: ReferringContext) -> dict[str, list[str]]:
    """Intent -> the referring words (``context.references``) of the kinds of entity its slot
    takes: by the schema, the subject type of a forward intent's predicate, the object type of a
    reverse one, each type's kind from ``context.types``."""
    kinds_of_type: dict[str, set[str]] = {}
    for kind, types in context.types.items():
        for type_name in types:
            kinds_of_type.setdefault(type_name, set()).add(kind)
    words: dict[str, list[str]] = {}
    for intent in intents:
        if intent.predicate is None:
            continue
        kinds = {
            kind
            for relation in schema.relations if relation.predicate == intent.predicate
            for kind in kinds_of_type.get(
                relation.subject_type if intent.direction == "forward" else relation.object_value_type, ())
        }
        found = [word for kind in sorted(kinds) for word in context.references.get(kind, [])]
        if found:
            words[intent.name] = found
    return words


def generate_questions(
    config: QuestionGenerationConfig, workspace: Workspace, graph_names: Iterable[str] = (),
    context: ReferringContext | None = None,
) -> QuestionSets:
    """Read the schema, the corpus splits and templates; write ``questions_dir/{train,dev,test}.jsonl``.

    ``context`` (the ``ask.context`` config) names the referring words of follow-up questions;
    without it none are made."""
    if not workspace.schema_file.exists():
        raise MissingArtifactError(f"{workspace.schema_file} does not exist", hint="run `kgqa preprocess` first")
    schema = Schema.load(workspace.schema_file)
    ensure_writable([workspace.questions_dir])
    templates = load_templates(config.templates)
    intents = templates.for_schema(set(schema.predicates))
    if not any(intent.name != NONE_INTENT for intent in intents):
        raise InputDataError(
            f"{config.templates}: no intent uses a predicate of the schema {workspace.schema_file}"
        )
    known_intents = {intent.name for intent in intents}
    feedback = read_feedback(workspace.feedback_file, known_intents) if config.feedback.enabled else []
    feedback_names = {name for example in feedback for name in span_texts(example)}
    pools = collect_names(schema, read_split_records(workspace), [*graph_names, *sorted(feedback_names)],
                          config.max_name_length)
    assignment = split_names(pools.all_names, config.name_ratios, config.seed)
    for name in feedback_names & set(assignment):
        assignment[name] = "train"  # a name a user asked about is trained on, never held out
    references = referring_words(schema, intents, context) if context is not None else None
    splits = generate_examples(templates, intents, pools, assignment, config, references)
    if feedback:
        merge_feedback(splits, feedback, config.feedback.repeat, config.feedback.max_share, config.seed)
    out = workspace.questions_dir
    for split, examples in splits.items():
        write_jsonl(out / f"{split}.jsonl", examples)
    names_per_split = dict(Counter(assignment.values()))
    sets = QuestionSets(splits, intents, {s: names_per_split.get(s, 0) for s in SPLITS}, out)
    write_json(out / "stats.json", sets.stats())
    log.info("wrote %s questions for %d intents to %s", sum(len(v) for v in splits.values()), len(intents), out)
    return sets


def read_questions(path: Path) -> list[dict[str, Any]]:
    """Read a question file, checking that each example has one tag per character."""
    if not path.exists():
        raise MissingArtifactError(f"{path} does not exist", hint="run `kgqa questions` first")
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            example = json.loads(line)
            text, intent, slots = example["text"], example["intent"], example["slots"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InputDataError(f"{path}:{number}: not a question example ({exc})") from exc
        if not isinstance(text, str) or not isinstance(intent, str) or len(slots) != len(text):
            raise InputDataError(f"{path}:{number}: needs text, intent and one slot tag per character")
        examples.append(example)
    return examples


def graph_names_if_any(graph_config: GraphConfig, workspace: Workspace) -> list[str]:
    """Entity names of the configured graph, or none when there is no graph yet."""
    from kgqa_cli.graph.queries import entity_names
    from kgqa_cli.graph.store import open_graph

    try:
        with open_graph(graph_config, workspace, create=False) as store:
            return entity_names(store.g)
    except MissingArtifactError:
        log.info("no graph yet: question names come from the corpus alone")
        return []
