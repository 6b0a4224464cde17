"""`kgqa label` and `kgqa monitor run` against hostile input: reused inference ids, imports that
fail half way or repeat, mistyped label rows, an export into a folder, corrupt and torn capture,
ground-truth and feedback lines, and a CSV without its header. Real server, real CLI, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers.server import Server, ask
from qa_fixtures import copy_workspace

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]
# (question, the caller's inference id)
SENT = [("三度诱惑的导演是谁", "dup-1"), ("李嘉欣和谁结婚了", "dup-1"), ("许晋亨的配偶是谁", "solo-1"),
        ("何藩导演了哪些电影", None), ("今天天气怎么样", None)]


@pytest.fixture(scope="module")
def served(tiny_qa, tmp_path_factory):
    """A workspace whose endpoint answered SENT (two different questions under one inference id)."""
    settings = copy_workspace(tiny_qa, tmp_path_factory.mktemp("served"))
    server = Server(settings.paths.root, "--allow-unapproved")
    server.wait_ready()
    for question, inference_id in SENT:
        headers = {"X-Amzn-SageMaker-Inference-Id": inference_id} if inference_id else {}
        assert ask(server.base, question, **headers)[0] == 200
    assert server.stop() == 0
    return settings


@pytest.fixture
def workspace(served, tmp_path):
    """A private copy of the served workspace."""
    return copy_workspace(served, tmp_path)


def kgqa(settings, *args: str) -> subprocess.CompletedProcess:
    """The real CLI; a wide console, so that no message is wrapped inside a path."""
    return subprocess.run([*KGQA, *args, "--workspace", str(settings.paths.root)], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "1000"})


def capture_records(settings) -> list[dict]:
    from kgqa_cli.serving.capture import capture_root

    return [json.loads(line) for path in sorted(capture_root(settings).rglob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()]


def ground_truth_lines(settings) -> list[dict]:
    return [json.loads(line) for path in sorted(settings.paths.groundtruth_dir.rglob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()]


def feedback_lines(settings) -> list[dict]:
    path = settings.paths.feedback_file
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def write_lines(path, rows) -> str:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------------------- reused inference ids


@pytest.mark.slow
def test_a_reused_inference_id_keeps_both_requests_and_labels_by_it_are_refused(workspace, tmp_path):
    from kgqa_cli.labeling.session import LabelSession

    records = capture_records(workspace)
    assert len(records) == len(SENT)
    assert len({record["eventMetadata"]["eventId"] for record in records}) == len(SENT)
    assert [record["eventMetadata"].get("inferenceId") for record in records] == [i for _, i in SENT]
    duplicated = [r["eventMetadata"]["eventId"] for r in records if r["eventMetadata"].get("inferenceId") == "dup-1"]

    # Labelled by the reused id: refused with the count, nothing written.
    labels = write_lines(tmp_path / "by-id.jsonl", [{"inferenceId": "dup-1", "intent": "ask_director"}])
    refused = kgqa(workspace, "label", "--import", labels)
    assert refused.returncode == 3, refused.stderr
    assert "inference id 'dup-1' names 2 captured requests; label by eventId" in refused.stderr
    assert ground_truth_lines(workspace) == [] and feedback_lines(workspace) == []

    # Each request of the reused id waits for its own label, keyed by its eventId.
    groups = LabelSession(workspace).groups
    keys = {group.question: [item.key for item in group.items] for group in groups}
    assert keys["三度诱惑的导演是谁"] == [duplicated[0]] and keys["李嘉欣和谁结婚了"] == [duplicated[1]]
    assert keys["许晋亨的配偶是谁"] == ["solo-1"]

    # A label keyed by the reused id (from elsewhere) counts for neither request.
    stale = workspace.paths.groundtruth_dir / "2026/01/01/00/labels-old.jsonl"
    stale.parent.mkdir(parents=True)
    write_lines(stale, [{"groundTruthData": {"data": "ask_director", "encoding": "CSV"},
                         "eventMetadata": {"eventId": "dup-1"}, "eventVersion": "0"}])
    assert len(LabelSession(workspace).groups) == len(SENT)

    # By eventId each gets its own label, and the feedback learns each question with its own intent.
    rows = [{"eventId": duplicated[0], "intent": "ask_director"}, {"eventId": duplicated[1], "intent": "ask_wife"}]
    done = kgqa(workspace, "label", "--import", write_lines(tmp_path / "by-event.jsonl", rows), "--json")
    assert done.returncode == 0, done.stderr
    truth = {t["eventMetadata"]["eventId"]: t["groundTruthData"]["data"] for t in ground_truth_lines(workspace)}
    assert truth[duplicated[0]] == "ask_director" and truth[duplicated[1]] == "ask_wife"
    assert {(r["text"], r["intent"]) for r in feedback_lines(workspace)} == {
        ("三度诱惑的导演是谁", "ask_director"), ("李嘉欣和谁结婚了", "ask_wife")}


# ---------------------------------------------------------------------------- import: atomic, idempotent


@pytest.mark.slow
def test_import_writes_nothing_when_a_row_is_bad_and_repeats_add_nothing(workspace, tmp_path):
    bad = tmp_path / "half.csv"
    bad.write_text("question,intent\n今天天气怎么样,none\n何藩导演了哪些电影,ask_nothing\n", encoding="utf-8")
    refused = kgqa(workspace, "label", "--import", str(bad))
    assert refused.returncode == 3 and f"{bad}:3: 'ask_nothing' is not an intent" in refused.stderr
    assert ground_truth_lines(workspace) == [] and feedback_lines(workspace) == []

    good = tmp_path / "good.csv"
    good.write_text("question,intent,entity\n今天天气怎么样,none,\n何藩导演了哪些电影,ask_films,何藩\n", encoding="utf-8")
    first = kgqa(workspace, "label", "--import", str(good), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["imported"] == {"rows": 2, "ground_truth_records": 2, "feedback_questions": 2}
    for _ in range(3):  # the same labels again: nothing more
        again = kgqa(workspace, "label", "--import", str(good), "--json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["imported"] == {"rows": 2, "ground_truth_records": 0, "feedback_questions": 0}
    assert len(ground_truth_lines(workspace)) == 2 and len(feedback_lines(workspace)) == 2


@pytest.mark.slow
def test_a_conflicting_import_replaces_the_label_and_keeps_the_earlier_as_history(workspace, tmp_path):
    from kgqa_cli.labeling.store import read_ground_truth
    from kgqa_cli.understanding.feedback import read_feedback

    first = write_lines(tmp_path / "first.jsonl", [{"question": "今天天气怎么样", "intent": "none"}])
    assert kgqa(workspace, "label", "--import", first).returncode == 0
    second = write_lines(tmp_path / "second.jsonl", [{"question": "今天天气怎么样", "intent": "ask_director"},
                                                     {"question": "今天天气怎么样", "intent": "ask_films"}])
    done = kgqa(workspace, "label", "--import", second, "--json")
    assert done.returncode == 0, done.stderr
    # Within one file the later row wins; across imports the new label follows the old one.
    assert json.loads(done.stdout)["imported"]["ground_truth_records"] == 1
    assert [t["groundTruthData"]["data"] for t in ground_truth_lines(workspace)] == ["none", "ask_films"]
    assert set(read_ground_truth(workspace.paths.groundtruth_dir).values()) == {"ask_films"}
    assert [r["intent"] for r in feedback_lines(workspace)] == ["none", "ask_films"]
    assert [e["intent"] for e in read_feedback(workspace.paths.feedback_file, {"none", "ask_films"})] == ["ask_films"]
    out = tmp_path / "export.jsonl"
    assert kgqa(workspace, "label", "--export", str(out)).returncode == 0
    assert [(r["text"], r["intent"]) for r in map(json.loads, out.read_text().splitlines())] == [
        ("今天天气怎么样", "ask_films")]


# ---------------------------------------------------------------------------- import: typed rows


@pytest.mark.parametrize(("row", "field"), [
    ({"eventId": 5, "intent": "none"}, "eventId"),
    ({"question": "今天天气怎么样", "intent": ["none"]}, "intent"),
    ({"question": "何藩导演了哪些电影", "intent": "ask_films", "entity": 5}, "entity"),
    ({"question": "何藩导演了哪些电影", "intent": "ask_films", "entitiy": "何藩"}, "entitiy"),
])
def test_a_mistyped_import_row_is_bad_input_naming_line_and_field(workspace, tmp_path, row, field):
    labels = write_lines(tmp_path / "typed.jsonl", [{"question": "今天天气怎么样", "intent": "none"}, row])
    refused = kgqa(workspace, "label", "--import", labels)
    assert refused.returncode == 3, refused.stderr
    assert f"{labels}:2: {field}:" in refused.stderr and "internal error" not in refused.stderr
    assert ground_truth_lines(workspace) == []


@pytest.mark.parametrize("content", ["今天天气怎么样,none\n何藩导演了哪些电影,ask_films\n",
                                     "text,label\n今天天气怎么样,none\n", ""])
def test_a_csv_without_its_header_is_refused_naming_the_columns(workspace, tmp_path, content):
    labels = tmp_path / "no-header.csv"
    labels.write_text(content, encoding="utf-8")
    refused = kgqa(workspace, "label", "--import", str(labels))
    assert refused.returncode == 3, refused.stdout
    assert f"{labels}:1: the first row must be the header eventId (or inferenceId) or question, intent" in refused.stderr
    assert feedback_lines(workspace) == []


# ---------------------------------------------------------------------------- export into a folder


def test_export_to_a_folder_names_that_folder(workspace, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    refused = kgqa(workspace, "label", "--export", str(folder))
    assert refused.returncode == 2
    message = refused.stderr
    assert f"{folder} is a folder: name the export file" in message and f"{tmp_path}/.out." not in message
    assert list(folder.iterdir()) == []


# ---------------------------------------------------------------------------- unreadable lines


def spoil(settings) -> tuple[str, str, str, int]:
    """A non-UTF-8 line as line 2 of the newest capture file, a torn last line (no newline) in it,
    a garbage ground-truth line and a garbage feedback line; returns the three files' names and
    the torn line's number (the captures may span two hourly files)."""
    from kgqa_cli.serving.capture import capture_root

    capture = sorted(capture_root(settings).rglob("*.jsonl"))[-1]
    lines = capture.read_bytes().splitlines(keepends=True)
    capture.write_bytes(b"".join([lines[0], b'{"captureData": "\xff\xfe"}\n', *lines[1:],
                                  b'{"captureData": {"endpointInput": {"observedCon']))
    truth = settings.paths.groundtruth_dir / "2026/01/01/00/labels-torn.jsonl"
    truth.parent.mkdir(parents=True)
    truth.write_bytes(b'{"groundTruthData": {"data": "none"}, "eventMeta')
    settings.paths.feedback_file.parent.mkdir(parents=True, exist_ok=True)
    settings.paths.feedback_file.write_bytes(b"\x00\x01 not json\n")
    return str(capture), str(truth), str(settings.paths.feedback_file), len(lines) + 2


@pytest.mark.slow
def test_bad_lines_are_skipped_counted_and_warned_or_fatal_with_strict(workspace, tmp_path):
    capture, truth, feedback, torn_line = spoil(workspace)
    listed = kgqa(workspace, "label", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["waiting"] == len(SENT) and json.loads(listed.stdout)["skipped_lines"] == 3
    warnings = listed.stderr
    assert f"{capture}:2: not UTF-8" in warnings and f"{capture}:{torn_line}: the last line is cut short" in warnings
    assert f"{truth}:1: the last line is cut short" in warnings

    labels = write_lines(tmp_path / "labels.jsonl", [{"question": "今天天气怎么样", "intent": "none"}])
    imported = kgqa(workspace, "label", "--import", labels, "--json")
    assert imported.returncode == 0, imported.stderr
    assert f"{feedback}:1: not " in imported.stderr
    assert json.loads(imported.stdout)["imported"]["ground_truth_records"] == 1

    strict = kgqa(workspace, "label", "--strict")  # the ground truth is read first
    assert strict.returncode == 3 and f"{truth}:1: the last line is cut short" in strict.stderr


@pytest.mark.slow
def test_monitor_run_reads_past_bad_lines_and_strict_stops_at_them(workspace, tmp_path):
    baseline = kgqa(workspace, "monitor", "baseline")
    assert baseline.returncode == 0, baseline.stderr
    rows = [{"question": q, "intent": i} for q, i in [("三度诱惑的导演是谁", "ask_director"), ("许晋亨的配偶是谁", "ask_wife"),
                                                     ("今天天气怎么样", "none")]]
    assert kgqa(workspace, "label", "--import", write_lines(tmp_path / "labels.jsonl", rows)).returncode == 0
    capture, truth, _, _ = spoil(workspace)
    window = ["--start-offset", "-PT1H", "--end-offset", "PT1M", "--monitor.min_labels", "3"]
    run = kgqa(workspace, "monitor", "run", *window, "--json")
    assert run.returncode in (0, 9), run.stderr  # a finished run: within or outside the limits
    summary = json.loads(run.stdout)
    assert summary["captured_questions"] == len(SENT) and summary["labelled"] == 3 and summary["skipped_lines"] == 3
    assert f"{capture}:2: not UTF-8" in run.stderr
    strict = kgqa(workspace, "monitor", "run", *window, "--strict")
    assert strict.returncode == 3 and f"{truth}:1: the last line is cut short" in strict.stderr


def test_an_undo_never_cuts_what_another_session_appended_after_it(tmp_path):
    from kgqa_cli.errors import InputDataError
    from kgqa_cli.labeling.captures import Group
    from kgqa_cli.labeling.store import LabelWriter

    truth, feedback = tmp_path / "groundtruth", tmp_path / "feedback" / "feedback.jsonl"
    first, second = LabelWriter(truth, feedback), LabelWriter(truth, feedback)
    mine = first.decide(Group("今天天气怎么样"), "none", ["O"] * 7)
    second.decide(Group("何藩导演了哪些电影"), "ask_films", ["O"] * 9)
    with pytest.raises(InputDataError, match="written to since this label"):
        first.undo(mine)
    assert [json.loads(line)["text"] for line in feedback.read_text(encoding="utf-8").splitlines()] == [
        "今天天气怎么样", "何藩导演了哪些电影"]
    latest = second.decide(Group("许晋亨的配偶是谁"), "ask_wife", ["O"] * 8)
    second.undo(latest)  # nothing came after it: taken back
    assert len(feedback.read_text(encoding="utf-8").splitlines()) == 2
