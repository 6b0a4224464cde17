"""`kgqa monitor kg`: the extractor's precision from the reviewed uniform sample, with its
interval, in Model Monitor's file formats and a report; exit 9 and an alert below the limit."""

from __future__ import annotations

import json

from helpers.review import invoke

from kgqa_cli.labeling.review_results import precision_estimate


def test_precision_from_the_uniform_sample_with_a_wilson_interval():
    rows = {f"e{n}": {"decision": "accept" if n < 8 else "reject", "uniform": True, "model_version": "kg/v1"}
            for n in range(10)}
    rows["x"] = {"decision": "reject", "uniform": False, "model_version": "kg/v1"}  # not in the sample
    overall = precision_estimate(rows)["overall"]
    assert (overall["reviewed"], overall["accepted"], overall["precision"]) == (10, 8, 0.8)
    assert 0.49 < overall["low"] < 0.5 and 0.94 < overall["high"] < 0.95  # Wilson, z 1.96


def test_monitor_kg_reports_the_planted_precision_drop(planted, tmp_path):  # noqa: F811 - the fixture
    settings, _ = planted
    decisions = tmp_path / "decisions.csv"
    decisions.write_text("subject,predicate,object,decision\n三度诱惑,导演,李嘉欣,reject\n许晋亨,丈夫,李嘉欣,reject\n"
                         "长短脚,导演,何藩,accept\n", encoding="utf-8")
    sample = ("--graph.review.sample_rate", "1")
    assert invoke(settings, "label", "triples", "--import", str(decisions), *sample).exit_code == 0
    too_few = invoke(settings, "monitor", "kg", "--monitor.kg.min_reviewed", "10")
    assert too_few.exit_code == 4 and "not enough reviews" in too_few.output
    low = invoke(settings, "monitor", "kg", "--json", "--monitor.kg.min_reviewed", "3")
    assert low.exit_code == 9
    summary = json.loads(low.stdout)
    assert summary["precision"] == 0.3333 and summary["reviewed"] == 3 and summary["by_model_version"]["kg/v1"]
    folder = settings.paths.monitoring_dir / "kg-runs"
    (run,) = list(folder.iterdir())
    violations = json.loads((run / "constraint_violations.json").read_text(encoding="utf-8"))["violations"]
    assert violations[0]["metric_name"] == "precision"
    assert json.loads((run / "constraints.json").read_text(encoding="utf-8"))["kg_quality_constraints"]
    assert "Extractor-quality report" in (run / "report.html").read_text(encoding="utf-8")
    fine = invoke(settings, "monitor", "kg", "--monitor.kg.min_reviewed", "3", "--monitor.kg.min_precision", "0.3")
    assert fine.exit_code == 0 and "no violations" in fine.output
