"""`kgqa monitor run`: model quality of the question model on the captured traffic.

Model Monitor is closed to new customers, so this monitor runs anywhere and keeps its formats.
The run reads the captured traffic of a time window, joins the predictions to the ground truth by inferenceId or eventId, and writes the same statistics,
``constraint_violations.json``, ``drift.json`` (what Model Monitor cannot see for text: answer
rates, reasons, unknown characters, intent distribution, question length) and a self-contained
``report.html`` with PNG charts under ``<workspace>/monitoring/runs/<UTC time>/``, each figure
compared with the version's baseline (:mod:`kgqa_cli.monitoring.baseline`).

Captures and labels are streamed file by file; only per-question figures are kept.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.errors import (
    ConfigError,
    KgqaError,
    MissingArtifactError,
    MonitorViolationError,
)
from kgqa_cli.io import write_json
from kgqa_cli.monitoring.baseline import InputProfile, latest_baseline, model_vocabulary
from kgqa_cli.monitoring.config import MonitorConfig, _offset_delta, _shown
from kgqa_cli.monitoring.metrics import METRICS, multiclass_statistics, violations

if TYPE_CHECKING:
    from kgqa_cli.io import BadLines
    from kgqa_cli.settings import KgqaConfig

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


def js_distance(left: dict[str, float], right: dict[str, float]) -> float:
    """Jensen-Shannon distance (base 2, 0..1) of two distributions over intents."""
    from scipy.spatial.distance import jensenshannon

    keys = sorted(set(left) | set(right))
    if not keys:
        return 0.0
    value = float(jensenshannon([left.get(k, 0.0) for k in keys], [right.get(k, 0.0) for k in keys], base=2))
    return 0.0 if math.isnan(value) else round(value, 6)


@dataclass
class WindowReading:
    """What the captured questions of a window say: their profile, answers and ratings, and the
    labelled ones' true and predicted intents."""

    profile: InputProfile = field(default_factory=InputProfile)
    reasons: Counter[str] = field(default_factory=Counter)
    truth: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    examples: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (true, predicted) -> questions
    model_versions: Counter[str | None] = field(default_factory=Counter)
    rated: Counter[str] = field(default_factory=Counter)
    baseline_dir: Path | None = None  # the baseline of the model version that answered first

    @property
    def answered_share(self) -> float:
        """The share of the window's questions that got an answer."""
        return round(self.reasons["answered"] / self.profile.questions, 6) if self.profile.questions else 0.0


def run_monitor(settings: KgqaConfig, *, start: datetime | None = None, end: datetime | None = None,
                start_offset: str | None = None, end_offset: str | None = None, now: datetime | None = None,
                strict: bool = False) -> dict[str, Any]:
    """One monitoring run over a window of captured traffic; writes its folder; returns the
    summary. Raises :class:`~kgqa_cli.errors.MonitorViolationError` (exit 9) after writing when a limit is crossed, and
    :class:`MissingArtifactError` when there is not enough ground truth."""
    from kgqa_cli.io import BadLines

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
    window = read_window(settings, start, end, bad_lines)
    bad_lines.summary("captures and ground truth")
    baseline_dir = window.baseline_dir or latest_baseline(settings, None)
    if len(window.truth) < config.min_labels:
        raise MissingArtifactError(
            f"not enough ground truth: {len(window.truth)} labelled events between {_stamp(start)} and {_stamp(end)} "
            f"({window.profile.questions} captured), at least {config.min_labels} needed",
            hint="label captured questions with `kgqa label`, or widen the window with --start-offset",
        )
    statistics = multiclass_statistics(window.truth, window.predicted, bootstrap=config.bootstrap_samples)
    constraints = json.loads((baseline_dir / "constraints.json").read_text(encoding="utf-8"))
    found = violations(statistics, constraints)
    drift_baseline = json.loads((baseline_dir / "drift_baseline.json").read_text(encoding="utf-8"))
    drift = drift_figures(config, window, drift_baseline)
    found.extend(drift_violations(drift))
    run_dir = settings.paths.monitor_runs_dir / now.strftime("%Y-%m-%dT%H-%M-%SZ")
    write_json(run_dir / "statistics.json", statistics)
    write_json(run_dir / "constraint_violations.json", {"violations": found})
    summary = _summary(window, statistics, constraints, drift, found, start=start, end=end, baseline_dir=baseline_dir,
                       run_dir=run_dir, skipped=bad_lines.count)
    _write_run(settings, run_dir, summary, statistics, started, live=window.profile.figures())
    if found:
        names = ", ".join(v["metric_name"] for v in found)
        error = MonitorViolationError(
            f"model quality: {len(found)} violation(s) ({names}) in {run_dir / 'constraint_violations.json'}",
            hint=f"report {summary['report']}; retrain with the labelled feedback: `make retrain-qa`",
        )
        error.details = summary  # the run's figures, for the alert
        raise error
    return summary


def _vocabulary_of(settings: KgqaConfig, version: str | None) -> set[str]:
    """The characters the named model knows; none when the capture names no model, or one the
    registry no longer holds (every character then counts as unknown to it)."""
    from kgqa_cli.mlops.registry import Registry

    if version is None:
        return set()
    try:
        return model_vocabulary(Registry(settings.paths.registry_dir).parse_name(version).path / "model")
    except (KgqaError, OSError, ValueError):
        return set()


def read_window(settings: KgqaConfig, start: datetime, end: datetime, bad_lines: BadLines) -> WindowReading:
    """Every captured question of [start, end): its profile against the vocabulary of the model
    that answered, its answer, its rating, and its ground truth when it has one."""
    from kgqa_cli.labeling.captures import read_items
    from kgqa_cli.labeling.store import read_ground_truth
    from kgqa_cli.serving.capture import capture_root

    labels = read_ground_truth(settings.paths.groundtruth_dir, bad_lines)
    ratings = _ratings(settings, bad_lines)  # inferenceId -> the latest 👍/👎 of a person
    window = WindowReading()
    known: set[str] | None = None
    for item, _ in read_items(capture_root(settings), start.timestamp(), end.timestamp(), bad=bad_lines):
        answer = item.prediction
        written = answer.get("model_version")  # the capture's JSON: a version name, or absent
        version = written if isinstance(written, str) else None
        window.model_versions[version] += 1
        if known is None:
            window.baseline_dir = latest_baseline(settings, version)
            known = _vocabulary_of(settings, version)
        intent = answer.get("intent") or "none"
        window.profile.add(item.question, intent, known)
        rating = ratings.get(item.inference_key) if item.inference_key and not item.shared else None
        if rating is not None:
            window.rated[rating["rating"]] += 1
        window.reasons[answer.get("reason") or "answered"] += 1
        label = labels.get(item.key)
        if label is not None:
            window.truth.append(label)
            window.predicted.append(intent)
            if label != intent:
                shown = window.examples.setdefault((label, intent), [])
                if len(shown) < 3:
                    shown.append(item.question)
    return window


def drift_figures(config: MonitorConfig, window: WindowReading, drift_baseline: dict[str, Any]) -> dict[str, Any]:
    """Each drift figure of the window beside its baseline and limit, marked ``violated`` when
    it crosses the limit; the share of thumbs down only when enough answers were rated."""
    live = window.profile.figures()
    base_length = drift_baseline["mean_length"] or 1.0
    drift: dict[str, dict[str, Any]] = {
        "unknown_char_rate": {"value": live["unknown_char_rate"], "baseline": drift_baseline["unknown_char_rate"],
                              "limit": config.drift.unknown_char_rate},
        "intent_js_distance": {"value": js_distance(live["intent_distribution"], drift_baseline["intent_distribution"]),
                               "limit": config.drift.intent_js_distance},
        "length_change": {"value": round(abs(live["mean_length"] - base_length) / base_length, 6),
                          "mean_length": live["mean_length"], "baseline": base_length,
                          "limit": config.drift.length_change},
        "answered_share": {"value": window.answered_share, "limit": config.drift.min_answered_share},
    }
    rated = window.rated
    rating_count = rated["up"] + rated["down"]
    if rating_count >= config.drift.min_ratings:
        drift["thumbs_down_share"] = {"value": round(rated["down"] / rating_count, 6), "ratings": rating_count,
                                      "limit": config.drift.max_thumbs_down_share}
    for name, figure in drift.items():
        figure["violated"] = (figure["value"] < figure["limit"] if name == "answered_share"
                              else figure["value"] > figure["limit"])
    return drift


def drift_violations(drift: dict[str, Any]) -> list[dict[str, str]]:
    """The violations of the drift figures that crossed their limits, as Model Monitor words them."""
    found = []
    for name, figure in drift.items():
        if figure["violated"]:
            relation = "below" if name == "answered_share" else "above"
            found.append({"constraint_check_type": "DriftLimit", "metric_name": name,
                          "description": f"{name} {figure['value']} is {relation} the limit {figure['limit']}"})
    return found


def _summary(window: WindowReading, statistics: dict[str, Any], constraints: dict[str, Any], drift: dict[str, Any],
             found: list[dict[str, Any]], *, start: datetime, end: datetime, baseline_dir: Path, run_dir: Path,
             skipped: int) -> dict[str, Any]:
    """The run's ``summary.json`` (its ``seconds`` and ``report`` filled in when written)."""
    per_intent = _per_intent(statistics)
    rated = window.rated
    return {
        "window": {"start": _stamp(start), "end": _stamp(end)}, "baseline": str(baseline_dir),
        "captured_questions": window.profile.questions, "labelled": len(window.truth),
        "model_versions": dict(window.model_versions), "skipped_lines": skipped,
        "metrics": {name: round(statistics["multiclass_classification_metrics"][name]["value"], 6) for name in METRICS},
        "thresholds": {name: rule["threshold"]
                       for name, rule in constraints["multiclass_classification_constraints"].items()},
        "answers": {"answered_share": window.answered_share, "reasons": dict(window.reasons.most_common()),
                    "ratings": {"up": rated["up"], "down": rated["down"]}},
        "drift": drift, "violations": found, "folder": str(run_dir),
        "worst_intents": [
            {**row, "examples": [{"question": q, "predicted": p} for (t, p), qs in window.examples.items()
                                 if t == row["intent"] for q in qs][:3]}
            for row in per_intent[:5]
        ],
        "seconds": None,
    }


def _write_run(settings: KgqaConfig, run_dir: Path, summary: dict[str, Any], statistics: dict[str, Any],
               started: float, *, live: dict[str, Any]) -> None:
    """Write the run's ``drift.json``, ``summary.json`` and ``report.html``."""
    from kgqa_cli.monitoring.report import write_report

    write_json(run_dir / "drift.json", {"answers": summary["answers"], "drift": summary["drift"],
                                        "live": live})
    summary["report"] = str(run_dir / "report.html")
    write_json(run_dir / "summary.json", summary)  # first, so that the report's history has this run
    write_report(run_dir, summary, statistics, settings.paths.monitor_runs_dir)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    write_json(run_dir / "summary.json", summary)


def _ratings(settings: KgqaConfig, bad: BadLines) -> dict[str, dict[str, Any]]:
    """People's 👍/👎 on the endpoint's answers, by inference id (none when nobody rated)."""
    from kgqa_cli.serving.capture import capture_destination
    from kgqa_cli.serving.feedback import feedback_file, read_answer_feedback

    capture = settings.serve.capture
    return read_answer_feedback(feedback_file(capture_destination(settings), capture.endpoint_name,
                                              capture.variant_name), bad)


def _per_intent(statistics: dict[str, Any]) -> list[dict[str, Any]]:
    """Recall per true intent from the confusion matrix, worst first."""
    rows = []
    for intent, row in statistics["multiclass_classification_metrics"]["confusion_matrix"].items():
        total = sum(row.values())
        rows.append({"intent": intent, "labelled": total, "recall": round(row.get(intent, 0) / total, 4) if total else 0})
    return sorted(rows, key=lambda r: (r["recall"], -r["labelled"], r["intent"]))
