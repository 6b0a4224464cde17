"""The preprocess stage: validate, deduplicate and split a DuIE corpus, and write its schema."""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgqa_cli.data.config import ExtraSource, PreprocessConfig
from kgqa_cli.data.corpus import (
    Problem,
    Source,
    check_record,
    checked_records,
    discover_sources,
    is_labelled,
    read_records,
)
from kgqa_cli.data.records import VALUE, Record, RecordError, SlotValues, Triple
from kgqa_cli.data.schema import Schema
from kgqa_cli.errors import InputDataError, MissingArtifactError
from kgqa_cli.io import dumps_line, write_json, write_jsonl
from kgqa_cli.workspace import Workspace, ensure_writable

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")


@dataclass
class PreprocessReport:
    """What preprocess read, rejected and wrote."""

    inputs: list[str]
    schema_source: str
    splits: dict[str, list[Record]]
    problems: list[Problem] = field(default_factory=list)
    duplicates_removed: int = 0
    leaked_removed: int = 0
    skipped_files: list[str] = field(default_factory=list)
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)  # extra training sources by name: their counts
    review_feedback: dict[str, int] | None = None  # reviewed sentences merged into train: their counts

    def stats(self) -> dict[str, Any]:
        """Counts per split and per predicate, as printed and saved in stats.json."""
        per_predicate: dict[str, dict[str, int]] = {}
        for split, records in self.splits.items():
            for record in records:
                for spo in record.spo_list:
                    counts = per_predicate.setdefault(spo.predicate, dict.fromkeys(SPLITS, 0))
                    counts[split] += 1
        return {
            "inputs": self.inputs,
            "schema": self.schema_source,
            "splits": {
                split: {"sentences": len(records), "triples": sum(len(r.spo_list) for r in records)}
                for split, records in self.splits.items()
            },
            "predicates": dict(sorted(per_predicate.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))),
            "rejected": dict(sorted(Counter(p.kind for p in self.problems).items())),
            "duplicates_removed": self.duplicates_removed,
            "overlap_removed": self.leaked_removed,
            "skipped_files": self.skipped_files,
            **({"extra": self.extra} if self.extra else {}),
            **({"review_feedback": self.review_feedback} if self.review_feedback is not None else {}),
        }


@dataclass
class _Pools:
    """The records read from the input files, by the role of their file, and what was left out."""

    records: dict[str, list[Record]] = field(default_factory=lambda: {split: [] for split in SPLITS})
    problems: list[Problem] = field(default_factory=list)
    rejected_lines: list[dict[str, Any]] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    duplicates: int = 0


def _find_schema(config: PreprocessConfig, sources: list[Source]) -> tuple[Schema | None, str]:
    if config.schema_file is not None:
        return Schema.load(config.schema_file), str(config.schema_file)
    schema_sources = [s for s in sources if s.role == "schema"]
    if schema_sources:
        source = schema_sources[0]
        for ignored in schema_sources[1:]:
            log.warning("several schema files: using %s, ignoring %s", source.name, ignored.name)
        return Schema.parse((line for _, line in source.lines()), source.name), source.name
    return None, "inferred from the data"


def _read_pools(config: PreprocessConfig, sources: list[Source], schema: Schema | None) -> _Pools:
    """The labelled records of every data file, checked and deduplicated (an exact repeat of a
    record is dropped); a bad line stops here with ``on_error: stop``, else it is counted."""
    pools = _Pools()
    seen: set[str] = set()
    for source in sources:
        if source.role == "schema":
            continue
        if not is_labelled(source):
            log.info("%s holds no labels (no spo_list): skipped", source.name)
            pools.skipped_files.append(source.name)
            continue
        for number, record, error in checked_records(source, schema):
            if error is not None:
                problem = Problem(source.name, number, error.kind, error.reason)
                if config.on_error == "stop":
                    raise InputDataError(str(problem), hint="set preprocess.on_error: skip to skip and count")
                pools.problems.append(problem)
                pools.rejected_lines.append({"source": source.name, "line": number, "kind": problem.kind,
                                             "reason": problem.reason})
                continue
            if record is None:
                continue
            key = dumps_line(record.to_json())
            if key in seen:
                pools.duplicates += 1
                continue
            seen.add(key)
            pools.records[source.role].append(record)
    if not any(pools.records.values()):
        raise InputDataError(f"{config.input}: no valid labelled records ({_why_empty(pools)})")
    return pools


def _why_empty(pools: _Pools) -> str:
    """Why no record was taken: the first rejected line, or the files without labels."""
    if pools.problems:
        return f"{len(pools.problems)} line(s) rejected, the first: {pools.problems[0]}"
    if pools.skipped_files:
        return f"{len(pools.skipped_files)} file(s) hold no labels (no spo_list): {', '.join(pools.skipped_files[:3])}"
    return "the input holds no records"


def run_preprocess(config: PreprocessConfig, workspace: Workspace) -> PreprocessReport:
    """Read ``config.input``, write train/dev/test splits, schema and stats under the workspace.

    Raises :class:`InputDataError` at the first bad record when ``on_error`` is ``stop``.
    """
    sources = discover_sources(config.input)
    ensure_writable([workspace.corpus_dir])
    schema, schema_source = _find_schema(config, sources)
    pools = _read_pools(config, sources, schema)
    if schema is None:
        schema = Schema.infer(r for pool in pools.records.values() for r in pool)

    splits, leaked = _split(pools.records, config)
    feedback = (merge_review_feedback(splits, schema, workspace.kg_feedback_file)
                if config.review_feedback and workspace.kg_feedback_file.exists() else None)
    out = workspace.corpus_dir
    for split in SPLITS:
        write_jsonl(out / f"{split}.jsonl", (record.to_json() for record in splits[split]))
    schema.write(workspace.schema_file)
    write_jsonl(out / "rejected.jsonl", pools.rejected_lines)
    report = PreprocessReport(
        inputs=[s.name for s in sources], schema_source=schema_source, splits=splits, problems=pools.problems,
        duplicates_removed=pools.duplicates, leaked_removed=leaked, skipped_files=pools.skipped_files,
    )
    if feedback is not None:
        report.review_feedback = feedback
    if config.extra:
        taken = {record.text for records in splits.values() for record in records}
        report.extra = {extra.name: write_extra_source(extra, schema, taken, workspace) for extra in config.extra}
    write_json(out / "stats.json", report.stats())
    return report


def merge_review_feedback(splits: dict[str, list[Record]], schema: Schema, path: Path) -> dict[str, int]:
    """Add the sentences people reviewed (``path``, written by `kgqa label triples`) to the train
    split: a sentence already in train gains the reviewed triples it lacks, a new one is added
    with them; one in dev or test is left out (it must not leak into training). A record that
    does not fit the schema is skipped with a warning naming its line."""
    held_out = {record.text for split in ("dev", "test") for record in splits[split]}
    in_train = {record.text: index for index, record in enumerate(splits["train"])}
    counts = {"sentences_added": 0, "sentences_extended": 0, "triples": 0, "left_out_held_out": 0, "skipped": 0}
    source = next(iter(discover_sources(path)))
    for number, record, error in checked_records(source, schema):
        if error is not None:
            log.warning("%s:%d: %s (reviewed sentence skipped)", path, number, error.reason)
            counts["skipped"] += 1
            continue
        if record is None:
            continue
        if record.text in held_out:
            counts["left_out_held_out"] += 1
            continue
        index = in_train.get(record.text)
        if index is None:
            in_train[record.text] = len(splits["train"])
            splits["train"].append(record)
            counts["sentences_added"] += 1
            counts["triples"] += len(record.spo_list)
            continue
        known = splits["train"][index]
        have = known.keys
        new = [spo for spo in record.spo_list if spo.key not in have]
        if new:
            splits["train"][index] = known.model_copy(update={"spo_list": [*known.spo_list, *new]})
            counts["sentences_extended"] += 1
            counts["triples"] += len(new)
    return counts


def write_extra_source(extra: ExtraSource, schema: Schema, taken: set[str], workspace: Workspace) -> dict[str, Any]:
    """Map an extra corpus onto the schema; write ``extra-<name>.jsonl`` and its loss mask
    ``extra-<name>.json`` (the channels its sentences do not teach). Returns its counts."""
    sources = [source for source in discover_sources(extra.input) if source.role != "schema" and is_labelled(source)]
    unknown = sorted(set(extra.unlabelled) - set(schema.predicates))
    if unknown:
        raise InputDataError(f"preprocess.extra {extra.name}: unlabelled names predicates the schema lacks: "
                             f"{', '.join(unknown)}")
    kept: list[Record] = []
    counts: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    seen: set[str] = set()
    has_slots = False  # whether any mapped triple, kept or not, carries a slot
    for source in sources:
        for _, record, _error in read_records(source):
            if record is None:
                counts["malformed"] += 1
                continue
            if record.text in taken or record.text in seen:
                counts["text_in_main_corpus" if record.text in taken else "duplicate_text"] += 1
                continue
            mapped = Record(text=record.text, spo_list=_mapped_triples(record, extra, schema, dropped))
            has_slots = has_slots or any(spo.object.slots for spo in mapped.spo_list)
            try:
                check_record(mapped, schema)
            except RecordError:
                counts["not_in_text"] += 1
                continue
            if mapped.spo_list:
                seen.add(record.text)
                kept.append(mapped)
                counts["triples"] += len(mapped.spo_list)
    masked = sorted(set(extra.unlabelled))
    if not has_slots:
        masked += [f"{p}|{slot}" for p in schema.predicates for slot in schema.slots_of(p)]
    write_jsonl(workspace.corpus_dir / f"extra-{extra.name}.jsonl", (record.to_json() for record in kept))
    write_json(workspace.corpus_dir / f"extra-{extra.name}.json", {"name": extra.name, "masked_channels": masked})
    return {"sentences": len(kept), **dict(sorted(counts.items())), "dropped_predicates": dict(dropped.most_common()),
            "masked_channels": masked}


def _mapped_triples(record: Record, extra: ExtraSource, schema: Schema, dropped: Counter[str]) -> list[Triple]:
    """The triples of an extra source's record on the schema: predicates renamed by the source's
    ``predicate_map``, types and slots the schema's; a predicate it lacks or the source does not
    label is counted in ``dropped``."""
    triples = []
    for spo in record.spo_list:
        predicate = extra.predicate_map.get(spo.predicate, spo.predicate)
        if predicate not in schema.predicates or predicate in extra.unlabelled:
            dropped[spo.predicate] += 1
            continue
        relation = schema.relations_of(predicate)[0]
        obj_type = dict(relation.object_type)
        slots = {k: v for k, v in spo.object.slots.items() if k in obj_type}
        triples.append(Triple(subject=spo.subject, subject_type=relation.subject_type, predicate=predicate,
                              object=SlotValues.of(spo.object.value, slots),
                              object_type=SlotValues.of(obj_type[VALUE], {k: obj_type[k] for k in slots})))
    return triples


def _split(pools: dict[str, list[Record]], config: PreprocessConfig) -> tuple[dict[str, list[Record]], int]:
    """Deterministic splits by sentence text: the same text never lands in two splits.

    Texts are sorted before a seeded shuffle, so the result depends on the set of records and the
    seed, not on file order. Given dev/test files are kept as they are.
    """
    fixed = {split: pools[split] for split in ("dev", "test") if pools[split]}
    fixed_texts = {record.text for records in fixed.values() for record in records}
    pool = [record for record in pools["train"] if record.text not in fixed_texts]
    leaked = len(pools["train"]) - len(pool)
    texts = sorted({record.text for record in pool})
    random.Random(config.seed).shuffle(texts)
    cuts: dict[str, set[str]] = {}
    start = 0
    for split, ratio in (("dev", config.dev_ratio), ("test", config.test_ratio)):
        if split in fixed:
            continue
        size = round(len(texts) * ratio)
        cuts[split] = set(texts[start:start + size])
        start += size
    splits = {split: list(fixed.get(split, [])) for split in SPLITS}
    for record in pool:
        target = next((split for split, chosen in cuts.items() if record.text in chosen), "train")
        splits[target].append(record)
    return splits, leaked


def require_split(workspace: Workspace, split: str) -> Path:
    """Path of a preprocessed split, or a clear error saying to run preprocess first."""
    path = workspace.split_file(split)
    if not path.exists():
        raise MissingArtifactError(f"{path} does not exist", hint="run `kgqa preprocess` first")
    return path
