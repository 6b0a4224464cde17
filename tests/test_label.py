"""`kgqa label`: captured traffic of a real server, labelled through the real Textual UI (pilot),
by import, and resumed; the ground-truth and feedback files checked field by field."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from helpers.server import Server, ask, request
from qa_fixtures import copy_workspace

pytestmark = pytest.mark.slow  # each test serves and captures traffic first

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]
QUESTIONS = ["三度诱惑的导演是谁", "李嘉欣和谁结婚了", "三度诱惑的导演是谁", "许晋亨的配偶是谁", "今天天气怎么样"]


@pytest.fixture
def captured(tiny_qa, tmp_path):
    """A workspace whose endpoint answered QUESTIONS (one with an inference id) and a batch."""
    settings = copy_workspace(tiny_qa, tmp_path)
    server = Server(settings.paths.root, "--allow-unapproved")
    server.wait_ready()
    for number, question in enumerate(QUESTIONS):
        headers = {"X-Amzn-SageMaker-Inference-Id": "req-1"} if number == 1 else {}
        assert ask(server.base, question, **headers)[0] == 200
    batch = json.dumps({"questions": ["何藩导演了哪些电影", "李嘉欣和谁结婚了"]}).encode()
    assert request(f"{server.base}/invocations", batch, {"Content-Type": "application/json"})[0] == 200
    assert server.stop() == 0
    return settings


def ground_truth(settings) -> list[dict]:
    root = settings.paths.groundtruth_dir
    return [json.loads(line) for path in sorted(root.rglob("*.jsonl")) for line in path.read_text().splitlines()]


def feedback(settings) -> list[dict]:
    path = settings.paths.feedback_file
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_queue_groups_repeats_and_splits_batches(captured):
    from kgqa_cli.labeling.session import LabelSession

    session = LabelSession(captured)
    texts = [group.question for group in session.groups]
    # Oldest first; the repeated question once (3 requests: two single, one in the batch for 李嘉欣).
    assert texts == ["三度诱惑的导演是谁", "李嘉欣和谁结婚了", "许晋亨的配偶是谁", "今天天气怎么样", "何藩导演了哪些电影"]
    assert [len(group.items) for group in session.groups] == [2, 2, 1, 1, 1]
    keys = [item.key for item in session.groups[1].items]
    assert keys[0] == "req-1" and keys[1].endswith("#1")  # the inference id; the batch's second question


def test_label_in_the_terminal_ui_correct_undo_quit_and_resume(captured):
    from kgqa_cli.labeling.app import LabelApp
    from kgqa_cli.labeling.session import LabelSession

    async def first_session() -> LabelApp:
        app = LabelApp(LabelSession(captured))
        async with app.run_test(size=(100, 30)) as pilot:
            # Each intent shows the Chinese predicate it asks for.
            assert "ask_director（导演）" in str(app.query_one("#prediction").content)
            assert "ask_director（导演）" in str(app.query_one("#pending").content)
            await pilot.press("enter")                      # 三度诱惑的导演是谁: accept ask_director
            await pilot.press("i", *"妻子", "enter")        # 李嘉欣和谁结婚了: the intent corrected (by predicate)
            await pilot.pause()
            assert app.session.pending.intent == "ask_wife"
            await pilot.press("enter")
            await pilot.press("e", "ctrl+u", *"许晋亨", "enter")  # 许晋亨的配偶是谁: the entity re-marked
            await pilot.pause()
            assert app.session.pending.entity == "许晋亨"
            await pilot.press("enter")
            await pilot.press("o")                          # 今天天气怎么样: out of scope
            await pilot.press("u")                          # ... undone
            await pilot.pause()
            assert app.session.current.question == "今天天气怎么样"
            await pilot.press("question_mark")              # help, then any key closes it
            await pilot.press("x")
            await pilot.press("q")
        return app

    app = asyncio.run(first_session())
    assert app.session.labelled == 3
    truth = ground_truth(captured)
    assert [(t["eventMetadata"]["eventId"].split("#")[0] != "", t["groundTruthData"]["data"]) for t in truth] == [
        (True, "ask_director"), (True, "ask_director"), (True, "ask_wife"), (True, "ask_wife"), (True, "ask_wife")]
    assert all(t["groundTruthData"]["encoding"] == "CSV" and t["eventVersion"] == "0" for t in truth)
    assert set(truth[0]) == {"groundTruthData", "eventMetadata", "eventVersion"}
    assert truth[2]["eventMetadata"]["eventId"] == "req-1"
    rows = feedback(captured)
    assert [(r["text"], r["intent"], r["predicted"]) for r in rows] == [
        ("三度诱惑的导演是谁", "ask_director", "ask_director"), ("李嘉欣和谁结婚了", "ask_wife", rows[1]["predicted"]),
        ("许晋亨的配偶是谁", "ask_wife", rows[2]["predicted"])]
    assert rows[0]["slots"] == ["B-subject", "I-subject", "I-subject", "I-subject", "O", "O", "O", "O", "O"]
    assert rows[2]["slots"][:3] == ["B-subject", "I-subject", "I-subject"] and set(rows[2]["slots"][3:]) == {"O"}
    # A new session resumes at the first question without a label (the undone one).
    resumed = LabelSession(captured)
    assert [group.question for group in resumed.groups] == ["今天天气怎么样", "何藩导演了哪些电影"]


def test_import_export_and_no_terminal(captured, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("question,intent,entity\n今天天气怎么样,none,\n何藩导演了哪些电影,ask_films,何藩\n"
                      "从没问过的问题何藩,ask_films,何藩\n", encoding="utf-8")
    workspace = ["--workspace", str(captured.paths.root)]
    done = subprocess.run([*KGQA, "label", "--import", str(labels), "--json", *workspace], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["imported"] == {"rows": 3, "ground_truth_records": 2, "feedback_questions": 3}
    rows = feedback(captured)
    assert rows[-2]["slots"][:2] == ["B-object", "I-object"] and rows[-1]["source"] == "import"
    bad = tmp_path / "bad.csv"
    bad.write_text("question,intent\n三度诱惑的导演是谁,ask_nothing\n", encoding="utf-8")
    refused = subprocess.run([*KGQA, "label", "--import", str(bad), *workspace], capture_output=True, timeout=120)
    assert refused.returncode == 3 and f"{bad}:2: 'ask_nothing' is not an intent" in refused.stderr.decode()
    out = tmp_path / "export.jsonl"
    exported = subprocess.run([*KGQA, "label", "--export", str(out), *workspace], capture_output=True, timeout=120)
    assert exported.returncode == 0
    assert [json.loads(line)["text"] for line in out.read_text().splitlines()][-1] == "从没问过的问题何藩"
    # Without a terminal (CI), one line and exit 0.
    plain = subprocess.run([*KGQA, "label", *workspace], capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert plain.returncode == 0 and len(plain.stdout.decode().strip().splitlines()) == 1
    # The three questions the import did not label still wait.
    assert plain.stdout.decode().startswith("3 captured questions wait for labels; no terminal here"), plain.stdout


def test_keystrokes_per_question(captured):
    """What labelling costs at the keyboard: accepting, and correcting an intent (every key
    pressed counts, the ones typed into the intent filter too)."""
    from kgqa_cli.labeling.app import LabelApp
    from kgqa_cli.labeling.session import LabelSession

    accept_keys = ["enter"]
    correct_keys = ["i", *"wife", "enter", "enter"]  # open the list, filter, choose, accept

    async def run() -> None:
        app = LabelApp(LabelSession(captured))
        async with app.run_test() as pilot:
            await pilot.press(*accept_keys)
            await pilot.press(*correct_keys)
            await pilot.pause()
        assert [r["intent"] for r in feedback(captured)] == ["ask_director", "ask_wife"]

    asyncio.run(run())
    # The figure reported in the docs: the keys above, each of which the UI needed.
    print(f"keystrokes per labelled question: accept {len(accept_keys)}, correct an intent {len(correct_keys)}")
