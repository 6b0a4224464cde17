"""`kgqa monitor baseline`: a qa version scored on labelled questions, the yardstick of the runs.

The baseline scores the version on labelled questions (the test questions by default) and writes
``statistics.json`` and ``constraints.json`` under
``<workspace>/monitoring/baseline/<group>-v<N>/``, with ``drift_baseline.json`` beside them
(what the inputs looked like: :class:`InputProfile`).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.errors import ConfigError, InputDataError, MissingArtifactError
from kgqa_cli.io import write_json
from kgqa_cli.monitoring.metrics import METRICS, multiclass_statistics, suggest_constraints
from kgqa_cli.understanding.tokenizer import fold

if TYPE_CHECKING:
    from kgqa_cli.mlops.registry import ModelVersion
    from kgqa_cli.settings import KgqaConfig
    from kgqa_cli.understanding.model import QuestionModel

log = logging.getLogger(__name__)


@dataclass
class InputProfile:
    """What a set of questions looks like, for drift: characters, intents, lengths."""

    questions: int = 0
    characters: int = 0
    unknown_characters: int = 0
    intents: Counter = field(default_factory=Counter)

    def add(self, question: str, intent: str | None, known: set[str]) -> None:
        self.questions += 1
        self.characters += len(question)
        self.unknown_characters += sum(1 for char in question if fold(char) not in known)
        self.intents[intent or "none"] += 1

    def figures(self) -> dict:
        return {
            "questions": self.questions,
            "unknown_char_rate": round(self.unknown_characters / self.characters, 6) if self.characters else 0.0,
            "mean_length": round(self.characters / self.questions, 3) if self.questions else 0.0,
            "intent_distribution": {k: round(v / self.questions, 6) for k, v in sorted(self.intents.items())}
            if self.questions else {},
        }


def model_vocabulary(folder: Path) -> set[str]:
    from kgqa_cli.understanding.tokenizer import load_tokenizer

    return set(load_tokenizer(folder).tokens)


def version_dir_name(name: str) -> str:
    """The folder name of a version's baseline (``qa/v3`` -> ``qa-v3``)."""
    return name.replace("/", "-")


def run_baseline(settings: KgqaConfig, version_name: str | None = None, data: Path | None = None, *,
                 force: bool = False) -> dict[str, Any]:
    """Score a qa version on labelled questions; write the baseline files; returns a summary.

    Refuses (:class:`InputDataError`) data too small or foreign to the model to set constraints
    on, and (:class:`ConfigError`) replacing the version's existing baseline unless ``force``.
    """
    from kgqa_cli.mlops.registry import Registry, model_files
    from kgqa_cli.understanding.model import QuestionModel
    from kgqa_cli.understanding.questions import read_questions
    from kgqa_cli.workspace import ensure_writable

    registry = Registry(settings.paths.registry_dir)
    if version_name is None:
        version = registry.approved("qa", settings.ask.qa_model, allow_unapproved=True)
    else:
        version = registry.get("qa", version_name)
    source = Path(data) if data is not None else settings.paths.questions_dir / "test.jsonl"
    if data is not None and not source.is_file():
        # The file the user named is wrong input, not a stage output still to be built.
        reason = "is not a file" if source.exists() else "not found"
        raise InputDataError(f"{source}: labelled questions {reason} (--data)")
    examples = read_questions(source)
    if not examples and data is None:
        raise MissingArtifactError(f"{source}: no labelled questions for a baseline",
                                   hint="run `kgqa questions` first")
    min_rows = settings.monitor.baseline.min_rows
    if len(examples) < min_rows:
        raise InputDataError(f"{source}: {len(examples)} labelled question(s), a baseline needs at least {min_rows} "
                             "(monitor.baseline.min_rows)")
    out = settings.paths.baseline_dir / version_dir_name(version.name)
    if (out / "constraints.json").exists() and not force:
        raise ConfigError(f"{out}: {version.name} has a baseline already; it is kept",
                          hint="pass --force to replace it")
    with model_files(version.path / "model"):
        model = QuestionModel.load(version.path / "model")
    _check_intents(examples, model, version, source, min_rows)
    ensure_writable([out])  # after every refusal, which leaves no empty folder behind
    return _score(settings, examples, model, version, source, out)


def _check_intents(examples: list[dict[str, Any]], model: QuestionModel, version: ModelVersion, source: Path,
                   min_rows: int) -> None:
    """Questions of intents the model cannot predict are always wrong: constraints set on them
    measure the data, not the model, and no later run could fall below them. Too few of the
    others is an :class:`InputDataError`; some are a warning."""
    model_intents = set(model.intents)
    foreign = Counter(e["intent"] for e in examples if e["intent"] not in model_intents)
    if len(examples) - sum(foreign.values()) < min_rows:
        named = ", ".join(f"{intent!r}" for intent, _ in foreign.most_common(3))
        raise InputDataError(
            f"{source}: only {len(examples) - sum(foreign.values())} of {len(examples)} labelled questions have an "
            f"intent {version.name} knows (unknown: {named}), a baseline needs at least {min_rows} "
            "(monitor.baseline.min_rows)")
    if foreign:
        log.warning("%s: %d labelled question(s) of intents %s does not know count as errors", source,
                    sum(foreign.values()), version.name)


def _score(settings: KgqaConfig, examples: list[dict[str, Any]], model: QuestionModel, version: ModelVersion,
           source: Path, out: Path) -> dict[str, Any]:
    """Predict every labelled question; write the statistics, constraints and input profile."""
    from kgqa_cli.understanding.model import predict_batch

    known = set(model.tokenizer.tokens)
    predicted: list[str] = []
    profile = InputProfile()
    for start in range(0, len(examples), 256):
        chunk = examples[start:start + 256]
        for example, prediction in zip(chunk, predict_batch(model, [e["text"] for e in chunk]), strict=True):
            predicted.append(prediction.intent)
            profile.add(example["text"], prediction.intent, known)
    truth = [example["intent"] for example in examples]
    config = settings.monitor
    statistics = multiclass_statistics(truth, predicted, bootstrap=config.bootstrap_samples)
    constraints = suggest_constraints(statistics, config.threshold_margin)
    write_json(out / "statistics.json", statistics)
    write_json(out / "constraints.json", constraints)
    write_json(out / "drift_baseline.json", {"model_version": version.name, "data": str(source), **profile.figures()})
    metrics = statistics["multiclass_classification_metrics"]
    return {"model_version": version.name, "data": str(source), "folder": str(out), "questions": len(examples),
            **{name: round(metrics[name]["value"], 6) for name in METRICS}}


def latest_baseline(settings: KgqaConfig, model_version: str | None) -> Path:
    """The baseline of ``model_version``, else the newest baseline there is."""
    root = settings.paths.baseline_dir
    if model_version is not None:
        folder = root / version_dir_name(model_version)
        if (folder / "constraints.json").exists():
            return folder
    folders = sorted((p for p in root.glob("*") if (p / "constraints.json").exists()), key=lambda p: p.stat().st_mtime)
    if not folders:
        raise MissingArtifactError(f"no monitoring baseline in {root}", hint="run `kgqa monitor baseline` first")
    return folders[-1]
