"""Every exit code the docs document (docs/exit-codes.md), produced once by the real command line.

The codes are read from that page's table, so a code documented without a way to reach it (or
one that stopped being reachable) fails here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from qa_fixtures import copy_workspace

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]
EXIT_CODES = Path(__file__).resolve().parents[1] / "docs" / "exit-codes.md"


def documented_codes() -> list[int]:
    """The exit codes of the docs' table (rows such as ``| 4 | a model ... |``)."""
    text = EXIT_CODES.read_text(encoding="utf-8")
    table = text[text.index("# Exit codes"):]
    codes = []
    for line in table.splitlines()[4:]:
        found = re.match(r"\|\s*(\d+)\s*\|", line)
        if not found:
            break
        codes.append(int(found.group(1)))
    return codes


def kgqa(*args: str, workspace: Path, stdin: str | None = None, env: dict | None = None,
         shell_tail: str = "") -> subprocess.CompletedProcess:
    command = [*KGQA, *args, "--workspace", str(workspace)]
    if shell_tail:  # run through bash to put a pipe after the command
        line = " ".join(f"'{part}'" for part in command) + shell_tail
        return subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=600)
    return subprocess.run(command, capture_output=True, text=True, input=stdin, timeout=600,
                          env={**os.environ, **(env or {})})


def ok(tmp_path, tiny_qa, moto_server):
    return kgqa("ask", "三度诱惑的导演是谁", workspace=tiny_qa.paths.root)


def declined(tmp_path, tiny_qa, moto_server):
    options = ["--target", "neptune", "--aws.bucket", "kgqa-exit-codes", "--aws.neptune.cluster_id", "kgqa-exit-1"]
    return kgqa("graph", "delete", *options, workspace=tmp_path / "ws", stdin="n\n", env=moto_server)


def bad_config(tmp_path, tiny_qa, moto_server):
    return kgqa("graph", "--ask.max_answers", "many", workspace=tmp_path / "ws")


def bad_input(tmp_path, tiny_qa, moto_server):
    return kgqa("bulkload", str(tmp_path / "missing.jsonl"), "--replace", workspace=tmp_path / "ws")


def missing(tmp_path, tiny_qa, moto_server):
    return kgqa("ask", "三度诱惑的导演是谁", workspace=tmp_path / "empty")


def gate(tmp_path, tiny_qa, moto_server):
    settings = copy_workspace(tiny_qa, tmp_path)
    return kgqa("evaluate", "qa", "--qa.gates.min_intent_accuracy", "1.0", "--qa.gates.min_slot_f1", "1.0",
                workspace=settings.paths.root)


def graph_damaged(tmp_path, tiny_qa, moto_server):
    graph = tmp_path / "ws" / "graph" / "kgqa.db"
    graph.parent.mkdir(parents=True)
    graph.write_bytes(b"not a graph at all" * 100)
    return kgqa("graph", workspace=tmp_path / "ws")


def file_system(tmp_path, tiny_qa, moto_server):
    settings = copy_workspace(tiny_qa, tmp_path)
    return kgqa("deploy", "--allow-unapproved", "--serve.capture.destination", "/proc/nope",
                workspace=settings.paths.root)


def corrupt(tmp_path, tiny_qa, moto_server):
    settings = copy_workspace(tiny_qa, tmp_path)
    (model,) = (settings.paths.registry_dir / "qa").glob("v*/model/model.safetensors")
    model.write_bytes(model.read_bytes()[:100])
    return kgqa("ask", "三度诱惑的导演是谁", workspace=settings.paths.root)


def violation(tmp_path, tiny_qa, moto_server):
    from helpers.server import Server, ask

    settings = copy_workspace(tiny_qa, tmp_path)
    tests = [json.loads(line) for line in (settings.paths.questions_dir / "test.jsonl").read_text().splitlines()]
    server = Server(settings.paths.root, "--allow-unapproved")
    try:
        server.wait_ready()
        for example in tests[:10]:
            assert ask(server.base, example["text"])[0] == 200
    finally:
        assert server.stop() == 0
    assert kgqa("monitor", "baseline", workspace=settings.paths.root).returncode == 0
    wrong = tmp_path / "wrong.jsonl"  # every question labelled out of scope: accuracy falls to nothing
    wrong.write_text("".join(json.dumps({"question": e["text"], "intent": "none"}, ensure_ascii=False) + "\n"
                             for e in tests[:10]), encoding="utf-8")
    assert kgqa("label", "--import", str(wrong), workspace=settings.paths.root).returncode == 0
    return kgqa("monitor", "run", "--start-offset", "-PT1H", "--end-offset", "PT1M", "--monitor.min_labels", "10",
                workspace=settings.paths.root)


def cloud(tmp_path, tiny_qa, moto_server):
    return kgqa("sync", "up", "--aws.bucket", "kgqa-no-such-bucket", workspace=tiny_qa.paths.root, env=moto_server)


def busy(tmp_path, tiny_qa, moto_server):
    import fcntl

    settings = copy_workspace(tiny_qa, tmp_path)
    lock = settings.paths.root / "models" / ".qa.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as held:  # another `kgqa train qa` holds the stage's lock
        fcntl.flock(held, fcntl.LOCK_EX)
        return kgqa("train", "qa", workspace=settings.paths.root)


def pipe_closed(tmp_path, tiny_qa, moto_server):
    questions = tmp_path / "questions.txt"
    questions.write_text("三度诱惑的导演是谁\n" * 3000, encoding="utf-8")
    return kgqa("ask", "--file", str(questions), workspace=tiny_qa.paths.root,
                shell_tail=" | head -c 1 >/dev/null; exit ${PIPESTATUS[0]}")


SCENARIOS = {
    0: ok, 1: declined, 2: bad_config, 3: bad_input, 4: missing, 5: gate, 6: graph_damaged, 7: file_system,
    8: corrupt, 9: violation, 10: cloud, 11: busy, 141: pipe_closed,
}


def test_the_readme_documents_the_codes_scenarios_reach():
    assert documented_codes() == sorted(SCENARIOS)


@pytest.mark.slow
@pytest.mark.parametrize("code", documented_codes())
def test_each_documented_exit_code_is_reached(code, tmp_path, tiny_qa, moto_server):
    result = SCENARIOS[code](tmp_path, tiny_qa, moto_server)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if code not in (0, 1, 141):  # a user error is one line that says what is wrong
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, result.stderr
