"""`kgqa monitor baseline` and `kgqa monitor run`: model quality of the question model.

Model Monitor is closed to new customers, so this monitor runs anywhere and
keeps its formats. **baseline** scores a qa version on labelled questions (the test questions
by default) and writes ``statistics.json`` and ``constraints.json`` under
``<workspace>/monitoring/baseline/<group>-v<N>/``, with ``drift_baseline.json`` beside them
(what the inputs looked like). **run** reads the captured traffic of a time window, joins the
predictions to the ground truth by inferenceId or eventId, and writes the same statistics,
``constraint_violations.json``, ``drift.json`` (what Model Monitor cannot see for text: answer
rates, reasons, unknown characters, intent distribution, question length) and a self-contained
``report.html`` with PNG charts under ``<workspace>/monitoring/runs/<UTC time>/``.

Captures and labels are streamed file by file; only per-question figures are kept.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from kgqa_cli.errors import (
    ConfigError,
    InputDataError,
    KgqaError,
    MissingArtifactError,
    MonitorViolationError,
)
from kgqa_cli.io import write_json
from kgqa_cli.monitoring.config import MonitorConfig, _offset_delta, _shown
from kgqa_cli.monitoring.metrics import METRICS, multiclass_statistics, suggest_constraints, violations
from kgqa_cli.understanding.tokenizer import fold

log = logging.getLogger(__name__)


def parse_offset(text: str, name: str = "offset") -> timedelta:
    """An ISO-8601 duration with an optional sign: ``-P8D``, ``-PT1H``, ``PT0S``, ``-P1M``, ``-P1Y``
    (a month is 30 days, a year 365). ``name`` (the option or key it came from) leads the error."""
    try:
        return _offset_delta(text)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from exc


def offset_moment(now: datetime, text: str, name: str) -> datetime:
    """``now`` moved by the offset ``text``; a :class:`ConfigError` naming ``name`` when the result
    falls outside the calendar (before year 1 or after 9999)."""
    delta = parse_offset(text, name)
    try:
        return now + delta
    except OverflowError as exc:
        raise ConfigError(f"{name}: {_shown(text)} reaches outside the years 1 to 9999 from now") from exc


def parse_time(text: str) -> datetime:
    """An ISO-8601 time (``2026-11-29T12:00:00Z``); naive times are UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{text!r} is not an ISO-8601 time such as 2026-11-29T12:00:00Z") from exc
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def js_distance(left: dict[str, float], right: dict[str, float]) -> float:
    """Jensen-Shannon distance (base 2, 0..1) of two distributions over intents."""
    from scipy.spatial.distance import jensenshannon

    keys = sorted(set(left) | set(right))
    if not keys:
        return 0.0
    value = float(jensenshannon([left.get(k, 0.0) for k in keys], [right.get(k, 0.0) for k in keys], base=2))
    return 0.0 if math.isnan(value) else round(value, 6)


def _model_vocabulary(folder: Path) -> set[str]:
    from kgqa_cli.understanding.tokenizer import load_tokenizer

    return set(load_tokenizer(folder).tokens)


def _version_dir_name(name: str) -> str:
    return name.replace("/", "-")


def run_baseline(settings: Any, version_name: str | None = None, data: Path | None = None, *,
                 force: bool = False) -> dict:
    """Score a qa version on labelled questions; write the baseline files; returns a summary.

    Refuses (:class:`InputDataError`) data too small or foreign to the model to set constraints
    on, and (:class:`ConfigError`) replacing the version's existing baseline unless ``force``.
    """
    from kgqa_cli.mlops.registry import Registry, model_files
    from kgqa_cli.understanding.model import QuestionModel, predict_batch
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
    out = settings.paths.monitoring_dir / "baseline" / _version_dir_name(version.name)
    if (out / "constraints.json").exists() and not force:
        raise ConfigError(f"{out}: {version.name} has a baseline already; it is kept",
                          hint="pass --force to replace it")
    with model_files(version.path / "model"):
        model = QuestionModel.load(version.path / "model")
    # Questions of intents the model cannot predict are always wrong: constraints set on them
    # measure the data, not the model, and no later run could fall below them.
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
    ensure_writable([out])  # after every refusal, which leaves no empty folder behind
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


def _latest_baseline(settings: Any, model_version: str | None) -> Path:
    root = settings.paths.monitoring_dir / "baseline"
    if model_version is not None:
        folder = root / _version_dir_name(model_version)
        if (folder / "constraints.json").exists():
            return folder
    folders = sorted((p for p in root.glob("*") if (p / "constraints.json").exists()), key=lambda p: p.stat().st_mtime)
    if not folders:
        raise MissingArtifactError(f"no monitoring baseline in {root}", hint="run `kgqa monitor baseline` first")
    return folders[-1]


def run_monitor(settings: Any, *, start: datetime | None = None, end: datetime | None = None,
                start_offset: str | None = None, end_offset: str | None = None, now: datetime | None = None,
                strict: bool = False) -> dict:
    """One monitoring run over a window of captured traffic; writes its folder; returns the
    summary. Raises :class:`~kgqa_cli.errors.MonitorViolationError` (exit 9) after writing when a limit is crossed, and
    :class:`MissingArtifactError` when there is not enough ground truth."""
    from kgqa_cli.io import BadLines
    from kgqa_cli.labeling.store import read_ground_truth, read_items
    from kgqa_cli.mlops.registry import Registry
    from kgqa_cli.serving.capture import capture_root

    config: MonitorConfig = settings.monitor
    now = now or datetime.now(timezone.utc)
    start = start or offset_moment(now, start_offset or config.start_offset,
                                   "--start-offset" if start_offset else "monitor.start_offset")
    end = end or offset_moment(now, end_offset or config.end_offset,
                               "--end-offset" if end_offset else "monitor.end_offset")
    if end <= start:
        raise ConfigError(f"the window ends ({_stamp(end)}) before it starts ({_stamp(start)})")
    started = time.perf_counter()
    bad_lines = BadLines(strict=strict)  # unreadable capture or ground-truth lines: skipped unless strict
    labels = read_ground_truth(settings.paths.groundtruth_dir, bad_lines)
    profile = InputProfile()
    reasons: Counter = Counter()
    truth: list[str] = []
    predicted: list[str] = []
    examples: dict[tuple[str, str], list[str]] = {}
    model_versions: Counter = Counter()
    ratings = _ratings(settings, bad_lines)  # inferenceId -> the latest 👍/👎 of a person
    rated: Counter = Counter()
    baseline_dir = None
    known: set[str] | None = None
    for item, _ in read_items(capture_root(settings), start.timestamp(), end.timestamp(), bad=bad_lines):
        answer = item.prediction
        version = answer.get("model_version")
        model_versions[version] += 1
        if known is None:
            baseline_dir = _latest_baseline(settings, version)
            try:
                known = _model_vocabulary(Registry(settings.paths.registry_dir).parse_name(version).path / "model")
            except (KgqaError, OSError, ValueError):
                known = set()
        intent = answer.get("intent") or "none"
        profile.add(item.question, intent, known)
        rating = ratings.get(item.inference_key) if item.inference_key and not item.shared else None
        if rating is not None:
            rated[rating["rating"]] += 1
        reasons[answer.get("reason") or "answered"] += 1
        label = labels.get(item.key)
        if label is not None:
            truth.append(label)
            predicted.append(intent)
            if label != intent:
                examples.setdefault((label, intent), [])
                if len(examples[(label, intent)]) < 3:
                    examples[(label, intent)].append(item.question)
    bad_lines.summary("captures and ground truth")
    baseline_dir = baseline_dir or _latest_baseline(settings, None)
    if len(truth) < config.min_labels:
        raise MissingArtifactError(
            f"not enough ground truth: {len(truth)} labelled events between {_stamp(start)} and {_stamp(end)} "
            f"({profile.questions} captured), at least {config.min_labels} needed",
            hint="label captured questions with `kgqa label`, or widen the window with --start-offset",
        )
    statistics = multiclass_statistics(truth, predicted, bootstrap=config.bootstrap_samples)
    constraints = json.loads((baseline_dir / "constraints.json").read_text(encoding="utf-8"))
    found = violations(statistics, constraints)
    drift_baseline = json.loads((baseline_dir / "drift_baseline.json").read_text(encoding="utf-8"))
    live = profile.figures()
    answered_share = round(reasons["answered"] / profile.questions, 6) if profile.questions else 0.0
    base_length = drift_baseline["mean_length"] or 1.0
    drift = {
        "unknown_char_rate": {"value": live["unknown_char_rate"], "baseline": drift_baseline["unknown_char_rate"],
                              "limit": config.drift.unknown_char_rate},
        "intent_js_distance": {"value": js_distance(live["intent_distribution"], drift_baseline["intent_distribution"]),
                               "limit": config.drift.intent_js_distance},
        "length_change": {"value": round(abs(live["mean_length"] - base_length) / base_length, 6),
                          "mean_length": live["mean_length"], "baseline": base_length,
                          "limit": config.drift.length_change},
        "answered_share": {"value": answered_share, "limit": config.drift.min_answered_share},
    }
    rating_count = rated["up"] + rated["down"]
    if rating_count >= config.drift.min_ratings:
        drift["thumbs_down_share"] = {"value": round(rated["down"] / rating_count, 6), "ratings": rating_count,
                                      "limit": config.drift.max_thumbs_down_share}
    for name, figure in drift.items():
        over = figure["value"] < figure["limit"] if name == "answered_share" else figure["value"] > figure["limit"]
        figure["violated"] = over
        if over:
            relation = "below" if name == "answered_share" else "above"
            found.append({"constraint_check_type": "DriftLimit", "metric_name": name,
                          "description": f"{name} {figure['value']} is {relation} the limit {figure['limit']}"})
    run_dir = settings.paths.monitoring_dir / "runs" / now.strftime("%Y-%m-%dT%H-%M-%SZ")
    write_json(run_dir / "statistics.json", statistics)
    write_json(run_dir / "constraint_violations.json", {"violations": found})
    per_intent = _per_intent(statistics)
    summary = {
        "window": {"start": _stamp(start), "end": _stamp(end)}, "baseline": str(baseline_dir),
        "captured_questions": profile.questions, "labelled": len(truth), "model_versions": dict(model_versions),
        "skipped_lines": bad_lines.count,
        "metrics": {name: round(statistics["multiclass_classification_metrics"][name]["value"], 6) for name in METRICS},
        "thresholds": {name: rule["threshold"]
                       for name, rule in constraints["multiclass_classification_constraints"].items()},
        "answers": {"answered_share": answered_share, "reasons": dict(reasons.most_common()),
                    "ratings": {"up": rated["up"], "down": rated["down"]}},
        "drift": drift, "violations": found, "folder": str(run_dir),
        "worst_intents": [
            {**row, "examples": [{"question": q, "predicted": p} for (t, p), qs in examples.items() if t == row["intent"]
                                 for q in qs][:3]}
            for row in per_intent[:5]
        ],
        "seconds": None,
    }
    write_json(run_dir / "drift.json", {"answers": summary["answers"], "drift": drift, "live": live})
    from kgqa_cli.monitoring.report import write_report

    summary["report"] = str(run_dir / "report.html")
    write_json(run_dir / "summary.json", summary)  # first, so that the report's history has this run
    write_report(run_dir, summary, statistics, settings.paths.monitoring_dir / "runs")
    summary["seconds"] = round(time.perf_counter() - started, 2)
    write_json(run_dir / "summary.json", summary)
    if found:
        names = ", ".join(v["metric_name"] for v in found)
        error = MonitorViolationError(
            f"model quality: {len(found)} violation(s) ({names}) in {run_dir / 'constraint_violations.json'}",
            hint=f"report {summary['report']}; retrain with the labelled feedback: `make retrain-qa`",
        )
        error.details = summary  # the run's figures, for the alert
        raise error
    return summary


def _ratings(settings: Any, bad: Any) -> dict[str, dict]:
    """People's 👍/👎 on the endpoint's answers, by inference id (none when nobody rated)."""
    from kgqa_cli.serving.capture import capture_destination
    from kgqa_cli.serving.feedback import feedback_file, read_answer_feedback

    capture = settings.serve.capture
    return read_answer_feedback(feedback_file(capture_destination(settings), capture.endpoint_name,
                                              capture.variant_name), bad)


def _per_intent(statistics: dict) -> list[dict]:
    """Recall per true intent from the confusion matrix, worst first."""
    rows = []
    for intent, row in statistics["multiclass_classification_metrics"]["confusion_matrix"].items():
        total = sum(row.values())
        rows.append({"intent": intent, "labelled": total, "recall": round(row.get(intent, 0) / total, 4) if total else 0})
    return sorted(rows, key=lambda r: (r["recall"], -r["labelled"], r["intent"]))
