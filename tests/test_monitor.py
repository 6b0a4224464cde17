"""`kgqa monitor` on real captured traffic and imported ground truth; alerts to a real local
HTTP receiver and a shell command; retraining from feedback on a tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from helpers.server import Server, ask
from qa_fixtures import copy_workspace

from kgqa_cli.monitoring.metrics import multiclass_statistics, suggest_constraints, violations

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every POSTed JSON body (the alert webhook)."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_statistics_follow_model_monitors_multiclass_format():
    truth = ["a"] * 150 + ["b"] * 60
    pred = ["a"] * 140 + ["b"] * 10 + ["b"] * 50 + ["a"] * 10
    stats = multiclass_statistics(truth, pred, bootstrap=10)
    metrics = stats["multiclass_classification_metrics"]
    assert stats["version"] == 0.0 and stats["dataset"] == {"item_count": 210}
    assert metrics["confusion_matrix"] == {"a": {"a": 140, "b": 10}, "b": {"a": 10, "b": 50}}
    assert metrics["accuracy"]["value"] == pytest.approx(190 / 210)
    assert isinstance(metrics["accuracy"]["standard_deviation"], float)  # 200+ samples: a bootstrap figure
    assert metrics["accuracy_best_constant_classifier"]["value"] == pytest.approx(150 / 210)
    assert {"weighted_recall", "weighted_precision", "weighted_f0_5", "weighted_f1", "weighted_f2"} <= set(metrics)
    small = multiclass_statistics(["a", "b"], ["a", "a"])
    assert small["multiclass_classification_metrics"]["accuracy"]["standard_deviation"] == "NaN"
    constraints = suggest_constraints(stats)
    rule = constraints["multiclass_classification_constraints"]["accuracy"]
    assert rule == {"threshold": round(190 / 210, 6), "comparison_operator": "LessThanThreshold"}
    worse = multiclass_statistics(truth, ["a"] * 210)
    found = violations(worse, constraints)
    assert found[0]["constraint_check_type"] == "LessThanThreshold" and found[0]["metric_name"] == "accuracy"
    assert found[0]["description"].startswith("Metric accuracy with 0.714")


@pytest.fixture
def monitored(tiny_qa, tmp_path):
    """Forty test questions sent to the endpoint, then labelled by import with their true intents."""
    settings = copy_workspace(tiny_qa, tmp_path)
    tests = [json.loads(line) for line in (settings.paths.questions_dir / "test.jsonl").read_text().splitlines()]
    chosen = tests[:40]
    server = Server(settings.paths.root, "--allow-unapproved")
    server.wait_ready()
    for number, example in enumerate(chosen):
        assert ask(server.base, example["text"], **{"X-Amzn-SageMaker-Inference-Id": f"q-{number}"})[0] == 200
    assert server.stop() == 0
    return settings, chosen


def _import(settings, rows, tmp_path, name):
    labels = tmp_path / name
    labels.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    done = subprocess.run([*KGQA, "label", "--import", str(labels), "--workspace", str(settings.paths.root)],
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_baseline_run_report_violation_and_alert(monitored, tmp_path):
    settings, chosen = monitored
    workspace = ["--workspace", str(settings.paths.root)]
    window = ["--start-offset", "-PT1H", "--end-offset", "PT1M"]
    baseline = subprocess.run([*KGQA, "monitor", "baseline", "--json", *workspace], capture_output=True, timeout=300)
    assert baseline.returncode == 0, baseline.stderr
    folder = settings.paths.monitoring_dir / "baseline" / "qa-v1"
    assert json.loads((folder / "statistics.json").read_text())["dataset"]["item_count"] >= 100
    assert "multiclass_classification_constraints" in json.loads((folder / "constraints.json").read_text())
    # Too few labels: a clear result, not a pass.
    too_few = subprocess.run([*KGQA, "monitor", "run", *window, *workspace], capture_output=True, timeout=300)
    assert too_few.returncode == 4 and "not enough ground truth: 0 labelled events" in too_few.stderr.decode()
    # The true intents: within the constraints.
    _import(settings, [{"question": e["text"], "intent": e["intent"]} for e in chosen], tmp_path, "right.jsonl")
    passed = subprocess.run([*KGQA, "monitor", "run", *window, "--json", "--monitor.threshold_margin", "0.3",
                             *workspace], capture_output=True, timeout=300)
    assert passed.returncode == 0, passed.stderr
    summary = json.loads(passed.stdout)
    assert summary["labelled"] == 40 and summary["captured_questions"] == 40 and summary["violations"] == []
    run_dir = settings.paths.monitoring_dir / "runs" / summary["folder"].rsplit("/", 1)[-1]
    for name in ("statistics.json", "constraint_violations.json", "drift.json", "report.html", "confusion.png",
                 "history.png"):
        assert (run_dir / name).exists(), name
    report = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in report and "http://" not in report and "https://" not in report
    assert set(summary["drift"]) == {"unknown_char_rate", "intent_js_distance", "length_change", "answered_share"}
    assert summary["answers"]["ratings"] == {"up": 0, "down": 0}
    # People rated a dozen answers 👎 on the chat page: over the limit, a violation of its own.
    ratings = settings.paths.root / "datacapture" / "kgqa-local" / "AllTraffic.feedback.jsonl"
    ratings.write_text("".join(json.dumps({"inferenceId": f"q-{n}", "rating": "down", "correctAnswer": None,
                                           "at": "2026-12-07T10:00:00Z"}) + "\n" for n in range(12)), encoding="utf-8")
    rated = subprocess.run([*KGQA, "monitor", "run", *window, "--json", "--monitor.threshold_margin", "0.3",
                            *workspace], capture_output=True, timeout=300)
    assert rated.returncode == 9, rated.stderr
    rated_summary = json.loads(rated.stdout)
    assert rated_summary["answers"]["ratings"] == {"up": 0, "down": 12}
    assert rated_summary["drift"]["thumbs_down_share"]["value"] == 1.0
    assert [v["metric_name"] for v in rated_summary["violations"]] == ["thumbs_down_share"]
    ratings.unlink()
    # A deliberately wrong label set: violations, exit 9, an alert to the webhook and the command.
    receiver = Receiver()
    sink = tmp_path / "alerts.jsonl"
    try:
        _import(settings, [{"question": e["text"], "intent": "none"} for e in chosen], tmp_path, "wrong.jsonl")
        failed = subprocess.run(
            [*KGQA, "monitor", "run", *window, *workspace, "--alerts.webhook", receiver.url,
             "--alerts.command", f"cat >> {sink}"], capture_output=True, timeout=300)
    finally:
        receiver.close()
    assert failed.returncode == 9, failed.stderr
    assert "violation(s)" in failed.stderr.decode() and "make retrain-qa" in failed.stderr.decode()
    assert len(receiver.received) == 1
    alert = receiver.received[0]
    assert alert["kind"] == "monitor_violation" and alert["report"].endswith("report.html")
    assert alert["model_version"] == "qa/v1" and alert["figures"]["violations"]
    assert json.loads(sink.read_text().splitlines()[0])["kind"] == "monitor_violation"
    latest = sorted((settings.paths.monitoring_dir / "runs").iterdir())[-1]
    found = json.loads((latest / "constraint_violations.json").read_text())["violations"]
    assert any(v["metric_name"] == "accuracy" for v in found)


@pytest.mark.slow
def test_captures_that_name_no_model_are_monitored_not_a_crash(monitored, tmp_path):
    """Captured answers written without a model version (an older endpoint, another writer) are
    counted under no version and scored against the newest baseline."""
    settings, chosen = monitored
    workspace = ["--workspace", str(settings.paths.root)]
    assert subprocess.run([*KGQA, "monitor", "baseline", *workspace], capture_output=True, timeout=300).returncode == 0
    _import(settings, [{"question": e["text"], "intent": e["intent"]} for e in chosen], tmp_path, "right.jsonl")
    captures = [path for path in (settings.paths.root / "datacapture").rglob("*.jsonl")
                if not path.name.endswith(".feedback.jsonl")]
    assert captures
    for path in captures:
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for record in records:
            output = record["captureData"]["endpointOutput"]
            assert output["encoding"] == "JSON"
            answer = json.loads(output["data"])
            answer.pop("model_version")
            output["data"] = json.dumps(answer, ensure_ascii=False)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    done = subprocess.run([*KGQA, "monitor", "run", "--start-offset", "-PT1H", "--end-offset", "PT1M", "--json",
                           "--monitor.threshold_margin", "0.3", *workspace], capture_output=True, timeout=300)
    assert done.returncode in (0, 9), done.stderr  # scored: passing, or a drift violation
    summary = json.loads(done.stdout)
    assert summary["model_versions"] == {"null": 40} and summary["labelled"] == 40


@pytest.mark.slow
def test_a_failed_gate_alerts_and_a_dead_sink_changes_nothing(tiny_qa, tmp_path):
    settings = copy_workspace(tiny_qa, tmp_path)
    receiver = Receiver()
    try:
        failed = subprocess.run(
            [*KGQA, "evaluate", "qa", "--min-f1", "1.01", "--workspace", str(settings.paths.root),
             "--alerts.webhook", receiver.url], capture_output=True, timeout=300)
    finally:
        receiver.close()
    assert failed.returncode == 2  # --min-f1 above 1 is refused before any work
    failed = subprocess.run(
        [*KGQA, "evaluate", "qa", "--workspace", str(settings.paths.root), "--qa.gates.min_intent_accuracy", "1.0",
         "--qa.gates.min_slot_f1", "1.0", "--alerts.webhook", "http://127.0.0.1:9/nothing-listens",
         "--alerts.command", "exit 3"], capture_output=True, timeout=300)
    assert failed.returncode == 5, failed.stderr  # the gate's own code, whatever the sinks did
    assert "alert quality_gate_failed via webhook failed" in " ".join(failed.stderr.decode().split())


@pytest.mark.slow
def test_feedback_retrains_a_question_the_model_got_wrong(tiny_qa, tmp_path):
    from kgqa_cli.answering.pipeline import Answerer
    from kgqa_cli.understanding.questions import generate_questions
    from kgqa_cli.understanding.training import train_question_model

    settings = copy_workspace(tiny_qa, tmp_path)
    question = "拍三度诱惑的那个人叫啥呀"
    with Answerer(settings) as answerer:
        before = answerer.answer(question)
    assert before.intent != "ask_director" or before.answers != ["何藩"]  # wrong before
    tags = ["O", "B-subject", "I-subject", "I-subject", "I-subject"] + ["O"] * (len(question) - 5)
    settings.paths.feedback_file.parent.mkdir(parents=True, exist_ok=True)
    settings.paths.feedback_file.write_text(json.dumps(
        {"text": question, "intent": "ask_director", "slots": tags}, ensure_ascii=False) + "\n", encoding="utf-8")
    sets = generate_questions(settings.qa.questions, settings.paths)
    train = sets.splits["train"]
    assert sum(example["text"] == question for example in train) >= 1
    assert all(example["text"] != question for split in ("dev", "test") for example in sets.splits[split])
    result = train_question_model(settings.qa, settings.paths)
    assert result.version.name == "qa/v2" and result.version.status == "PendingManualApproval"
    with Answerer(settings, qa_model="v2") as answerer:
        after = answerer.answer(question)
    assert after.intent == "ask_director" and after.answers == ["何藩"]
