"""The monitoring run's report: one self-contained HTML file (its charts embedded as PNG data,
nothing loaded from elsewhere) and the PNG charts beside it (matplotlib)."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable
from pathlib import Path

from kgqa_cli.monitoring.metrics import METRICS


def version_names(versions: Iterable[str | None]) -> str:
    """The model versions that answered a window, for a person: captures that name no version
    are shown as ``unnamed``."""
    return ", ".join(version or "unnamed" for version in versions)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_chart(statistics: dict, path: Path) -> Path:
    """A heatmap of the confusion matrix (true intent by row, predicted by column)."""
    plt = _pyplot()
    matrix = statistics["multiclass_classification_metrics"]["confusion_matrix"]
    labels = sorted(set(matrix) | {p for row in matrix.values() for p in row})
    values = [[matrix.get(t, {}).get(p, 0) for p in labels] for t in labels]
    size = max(4.0, 0.32 * len(labels) + 2)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(values, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    axes.set_yticks(range(len(labels)), labels, fontsize=7)
    axes.set_xlabel("predicted intent")
    axes.set_ylabel("true intent (ground truth)")
    if len(labels) <= 25:
        for i, row in enumerate(values):
            for j, count in enumerate(row):
                if count:
                    axes.text(j, i, str(count), ha="center", va="center", fontsize=7,
                              color="white" if count > max(map(max, values)) / 2 else "black")
    figure.colorbar(image, ax=axes, shrink=0.7)
    axes.set_title("Confusion matrix")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def history_chart(runs_dir: Path, path: Path) -> tuple[Path, list[dict]]:
    """Each metric over every past run (their summary.json), with its threshold."""
    plt = _pyplot()
    history = []
    for summary_file in sorted(runs_dir.glob("*/summary.json")):
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        history.append({"run": summary_file.parent.name, **summary["metrics"], "thresholds": summary["thresholds"]})
    figure, axes = plt.subplots(figsize=(8, 4))
    for name in METRICS:
        axes.plot(range(len(history)), [row[name] for row in history], marker="o", label=name)
    if history:
        axes.axhline(history[-1]["thresholds"]["accuracy"], color="red", linestyle="--", linewidth=1,
                     label="accuracy threshold")
    axes.set_xticks(range(len(history)), [row["run"][:16] for row in history], rotation=30, fontsize=7, ha="right")
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("value")
    axes.set_title("Model quality over the monitoring runs")
    axes.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path, history


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def write_report(run_dir: Path, summary: dict, statistics: dict, runs_dir: Path) -> Path:
    """Write report.html (and confusion.png, history.png) into ``run_dir``; returns the report."""
    confusion = confusion_chart(statistics, run_dir / "confusion.png")
    history_png, history = history_chart(runs_dir, run_dir / "history.png")
    esc = html.escape
    metric_rows = "".join(
        f"<tr class={'bad' if summary['metrics'][name] < summary['thresholds'].get(name, 0) else 'ok'}>"
        f"<td>{name}</td><td>{summary['metrics'][name]:.4f}</td><td>{summary['thresholds'].get(name, 0):.4f}</td></tr>"
        for name in METRICS
    )
    drift_rows = "".join(
        f"<tr class={'bad' if figure['violated'] else 'ok'}><td>{esc(name)}</td><td>{figure['value']}</td>"
        f"<td>{'at least' if name == 'answered_share' else 'at most'} {figure['limit']}</td></tr>"
        for name, figure in summary["drift"].items()
    )
    reason_rows = "".join(f"<tr><td>{esc(str(reason))}</td><td>{count}</td></tr>"
                          for reason, count in summary["answers"]["reasons"].items())
    worst_rows = "".join(
        f"<tr><td>{esc(row['intent'])}</td><td>{row['recall']:.2f}</td><td>{row['labelled']}</td><td>"
        + "<br>".join(f"{esc(e['question'])} → {esc(e['predicted'])}" for e in row["examples"]) + "</td></tr>"
        for row in summary["worst_intents"]
    )
    violation_items = "".join(f"<li>{esc(v['description'])}</li>" for v in summary["violations"]) or "<li>none</li>"
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>kgqa model-quality report {esc(run_dir.name)}</title>
<style>
body {{ font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", system-ui, sans-serif; margin: 2rem; color: #1d2330; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; }}
td, th {{ border: 1px solid #d0d6df; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }}
tr.bad td {{ background: #fde8e8; }} tr.ok td:first-child {{ border-left: 4px solid #2da44e; }}
tr.bad td:first-child {{ border-left: 4px solid #cf222e; }}
img {{ max-width: 100%; }} .muted {{ color: #5c6577; }}
</style></head><body>
<h1>Model-quality report</h1>
<p class="muted">window {esc(summary['window']['start'])} – {esc(summary['window']['end'])} ·
{summary['captured_questions']} captured questions, {summary['labelled']} with ground truth ·
model {esc(version_names(summary['model_versions']))} · baseline {esc(summary['baseline'])}</p>
<h2>Violations</h2><ul>{violation_items}</ul>
<h2>Metrics against their thresholds</h2>
<table><tr><th>metric</th><th>value</th><th>threshold</th></tr>{metric_rows}</table>
<h2>Answers and input drift</h2>
<table><tr><th>measure</th><th>value</th><th>limit</th></tr>{drift_rows}</table>
<table><tr><th>outcome</th><th>questions</th></tr>{reason_rows}</table>
<h2>Worst-predicted intents</h2>
<table><tr><th>true intent</th><th>recall</th><th>labelled</th><th>examples (question → predicted)</th></tr>{worst_rows}</table>
<h2>Confusion matrix</h2>{_img(confusion, "confusion matrix")}
<h2>Each metric over all runs ({len(history)})</h2>{_img(history_png, "metrics over runs")}
</body></html>
"""
    report = run_dir / "report.html"
    report.write_text(page, encoding="utf-8")
    return report
