"""`kgqa monitor kg`: the extractor's quality, estimated from people's reviews of its triples.

Only the verdicts on the uniform review sample count (:mod:`kgqa_cli.labeling.triple_queue`): they
estimate the precision of the triples in the graph without the bias of the other queues (those
used in answers, those near the threshold). The estimate comes with a Wilson score interval, in
all and per model version. The run writes, as `kgqa monitor run` does,
``statistics.json``, ``constraints.json``, ``constraint_violations.json``, ``summary.json``
and a self-contained ``report.html`` (with ``precision.png``) under
``<workspace>/monitoring/kg-runs/<UTC time>/``, and fails (exit 9, an alert) when the precision
falls below ``monitor.kg.min_precision``.
"""

from __future__ import annotations

import base64
import html
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.errors import MissingArtifactError, MonitorViolationError
from kgqa_cli.io import write_json
from kgqa_cli.monitoring.config import KgQualityConfig

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig


def run_kg_quality(settings: KgqaConfig, now: datetime | None = None) -> dict[str, Any]:
    """Estimate the extractor's precision from the reviewed uniform sample; write the run's
    files; return the summary. Raises :class:`MissingArtifactError` (exit 4) with too few
    reviews and :class:`MonitorViolationError` (exit 9, after writing) below the limit."""
    from kgqa_cli.graph.reviews import read_reviews, reviews_file
    from kgqa_cli.io import BadLines
    from kgqa_cli.labeling.review_results import precision_estimate

    config: KgQualityConfig = settings.monitor.kg
    now = now or datetime.now(timezone.utc)
    started = time.perf_counter()
    bad = BadLines()
    latest = read_reviews(reviews_file(settings.paths), bad)
    estimate = precision_estimate(latest, config.confidence_z)
    overall = estimate["overall"]
    if overall["reviewed"] < config.min_reviewed:
        raise MissingArtifactError(
            f"not enough reviews: {overall['reviewed']} triples of the uniform sample have a verdict, at least "
            f"{config.min_reviewed} needed (monitor.kg.min_reviewed)",
            hint="review extracted triples with `kgqa label triples` (the uniform sample comes last in its queue)")
    statistics = {"version": 0.0, "dataset": {"item_count": overall["reviewed"]},
                  "kg_quality_metrics": {"precision": {"value": overall["precision"], "low": overall["low"],
                                                       "high": overall["high"], "accepted": overall["accepted"],
                                                       "reviewed": overall["reviewed"]},
                                         "by_model_version": estimate["by_model_version"]}}
    constraints = {"version": 0.0, "kg_quality_constraints": {"precision": {
        "threshold": config.min_precision, "comparison_operator": "LessThanThreshold"}}}
    found = []
    if overall["precision"] < config.min_precision:
        found.append({"constraint_check_type": "LessThanThreshold", "metric_name": "precision",
                      "description": f"precision {overall['precision']} (95 % interval {overall['low']}–"
                                     f"{overall['high']}, {overall['reviewed']} reviewed) is below the limit "
                                     f"{config.min_precision}"})
    run_dir = settings.paths.monitoring_dir / "kg-runs" / now.strftime("%Y-%m-%dT%H-%M-%SZ")
    write_json(run_dir / "statistics.json", statistics)
    write_json(run_dir / "constraints.json", constraints)
    write_json(run_dir / "constraint_violations.json", {"violations": found})
    summary = {"at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "reviewed": overall["reviewed"],
               "precision": overall["precision"], "interval": [overall["low"], overall["high"]],
               "min_precision": config.min_precision, "by_model_version": estimate["by_model_version"],
               "decisions": len(latest), "skipped_lines": bad.count, "violations": found, "folder": str(run_dir),
               "report": str(run_dir / "report.html")}
    write_json(run_dir / "summary.json", summary)
    _write_report(run_dir, summary, settings.paths.monitoring_dir / "kg-runs")
    summary["seconds"] = round(time.perf_counter() - started, 2)
    write_json(run_dir / "summary.json", summary)
    if found:
        error = MonitorViolationError(
            f"extractor quality: precision {overall['precision']} below {config.min_precision} "
            f"({run_dir / 'constraint_violations.json'})",
            hint=f"report {summary['report']}; retrain with the reviewed triples: `make retrain-kg`")
        error.details = summary
        raise error
    return summary


def _write_report(run_dir: Path, summary: dict, runs_dir: Path) -> Path:
    """report.html with the precision of every run so far and its interval (precision.png)."""
    from kgqa_cli.monitoring.report import _pyplot

    history = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(runs_dir.glob("*/summary.json"))]
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 4))
    xs = range(len(history))
    values = [row["precision"] for row in history]
    low = [row["precision"] - row["interval"][0] for row in history]
    high = [row["interval"][1] - row["precision"] for row in history]
    axes.errorbar(xs, values, yerr=[low, high], marker="o", capsize=4, label="precision (95 % interval)")
    axes.axhline(summary["min_precision"], color="red", linestyle="--", linewidth=1, label="limit")
    axes.set_xticks(list(xs), [row["at"][:16] for row in history], rotation=30, fontsize=7, ha="right")
    axes.set_ylim(0, 1.05)
    axes.set_title("Extractor precision over the review runs")
    axes.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    chart = run_dir / "precision.png"
    figure.savefig(chart, dpi=110)
    plt.close(figure)
    esc = html.escape
    rows = "".join(f"<tr class={'bad' if (v['precision'] or 0) < summary['min_precision'] else 'ok'}><td>{esc(name)}</td>"
                   f"<td>{v['precision']}</td><td>{v['low']} – {v['high']}</td><td>{v['reviewed']}</td></tr>"
                   for name, v in summary["by_model_version"].items())
    violations = "".join(f"<li>{esc(v['description'])}</li>" for v in summary["violations"]) or "<li>none</li>"
    image = base64.b64encode(chart.read_bytes()).decode("ascii")
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>kgqa extractor-quality report {esc(run_dir.name)}</title>
<style>
body {{ font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", system-ui, sans-serif; margin: 2rem; color: #1d2330; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; }}
td, th {{ border: 1px solid #d0d6df; padding: 0.3rem 0.6rem; text-align: left; }}
tr.bad td {{ background: #fde8e8; }} img {{ max-width: 100%; }} .muted {{ color: #5c6577; }}
</style></head><body>
<h1>Extractor-quality report</h1>
<p class="muted">{summary['reviewed']} triples of the uniform review sample have a verdict · precision
{summary['precision']} (95 % interval {summary['interval'][0]} – {summary['interval'][1]}) · limit
{summary['min_precision']}</p>
<h2>Violations</h2><ul>{violations}</ul>
<h2>Precision per model version</h2>
<table><tr><th>model version</th><th>precision</th><th>interval</th><th>reviewed</th></tr>{rows}</table>
<h2>Precision over all runs ({len(history)})</h2><img alt="precision over runs" src="data:image/png;base64,{image}">
</body></html>
"""
    report = run_dir / "report.html"
    report.write_text(page, encoding="utf-8")
    return report
