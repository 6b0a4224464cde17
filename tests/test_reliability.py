"""A hostile user's reproductions (issue 8): each one now gets a clear line and a documented code.

Real files and real processes: graph files in temp folders, the CLI in a subprocess where the
process boundary matters (argv bytes, a closed pipe, a read-only mount).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import film_records, write_lines
from helpers.graph_corpus import RECORDS, snapshot, write_corpus

from kgqa_cli.graph.config import GraphConfig
from kgqa_cli.workspace import Workspace

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]


def run_cli(*args: str | bytes, stdin: bytes | None = None, **kwargs) -> subprocess.CompletedProcess:
    """The real `kgqa` in a subprocess (argv may hold raw bytes, as a shell can pass them)."""
    return subprocess.run([*KGQA, *args], capture_output=True, input=stdin, timeout=120, **kwargs)


def load(workspace: Path, records=RECORDS, *args: str) -> subprocess.CompletedProcess:
    corpus = write_corpus(workspace.parent / f"{workspace.name}-input.jsonl", records)
    return run_cli("bulkload", str(corpus), "--json", "--workspace", str(workspace), *args)


@contextmanager
def read_only(folder: Path):
    """``folder`` mounted read-only on itself (root ignores permission bits, not a ro mount)."""
    done = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {done.stderr.decode().strip()}")
    try:
        remount = subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True)
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {remount.stderr.decode().strip()}")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


# ------------------------------------------------------------------ the graph file


def test_replace_that_fails_leaves_the_live_graph_and_no_partial_file(tmp_path):
    from kgqa_cli.graph.bulkload import run_bulkload

    workspace = Workspace(tmp_path / "ws")
    config = GraphConfig(mode="replace", direct_batch_size=2, batch_size=2)
    run_bulkload(config, workspace, write_corpus(tmp_path / "old.jsonl", RECORDS[:2]), show_progress=False)
    before = snapshot(config, workspace)

    def crash(phase, count):
        if phase == "edges":
            raise RuntimeError("power cut")

    new = write_corpus(tmp_path / "new.jsonl", RECORDS)
    for loader in ("direct", "traversal"):
        with pytest.raises(RuntimeError):
            run_bulkload(config.model_copy(update={"loader": loader}), workspace, new, show_progress=False,
                         on_batch=crash)
        assert snapshot(config, workspace) == before
        assert sorted(p.name for p in workspace.graph_dir.iterdir()) == [".kgqa.db.lock", "kgqa.db"]
    run_bulkload(config, workspace, new, show_progress=False)
    assert len(snapshot(config, workspace)[1]) == 7


def test_partial_file_of_a_killed_load_is_named_and_removed(tmp_path, caplog):
    from kgqa_cli.graph.bulkload import run_bulkload

    workspace = Workspace(tmp_path / "ws")
    workspace.graph_dir.mkdir(parents=True)
    leftover = workspace.graph_dir / ".kgqa.db.building-999999"
    leftover.write_bytes(b"SQLite format 3\x00 half a file")
    with caplog.at_level(logging.WARNING):
        run_bulkload(GraphConfig(mode="replace"), workspace, write_corpus(tmp_path / "in.jsonl", RECORDS),
                     show_progress=False)
    assert not leftover.exists()
    assert f"removing {leftover}: a partial graph left by an interrupted load" in caplog.text


def _half_initialised(path: Path) -> Path:
    """What an older kgqa left when killed while creating the graph's tables."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE quads (s INT, p INT, o INT, g INT)")
    con.execute("CREATE INDEX ops ON quads (o, p, s)")
    con.commit()
    con.close()
    return path


@pytest.mark.slow
def test_a_half_written_graph_is_reported_by_readers_and_repaired_by_a_load(tmp_path):
    workspace = tmp_path / "ws"
    graph = _half_initialised(workspace / "graph" / "kgqa.db")
    size = graph.stat().st_size
    for command in (["graph"], ["ask", "三度诱惑的导演是谁"]):
        result = run_cli(*command, "--workspace", str(workspace))
        assert result.returncode == 6, result.stderr
        assert f"{graph}: is an incomplete graph (no table strings" in result.stderr.decode()
        assert "kgqa bulkload FILE --replace" in result.stderr.decode()
        assert graph.stat().st_size == size  # readers changed nothing
    assert load(workspace, RECORDS, "--merge").returncode == 0  # no element in it: recreated
    assert run_cli("graph", "--json", "--workspace", str(workspace)).returncode == 0
    _half_initialised(graph.with_name("other.db"))
    assert load(workspace, RECORDS, "--replace", "--graph.path", str(graph.with_name("other.db"))).returncode == 0


@pytest.mark.slow
def test_merge_refuses_a_damaged_graph_with_data(tmp_path):
    workspace = tmp_path / "ws"
    assert load(workspace).returncode == 0
    graph = workspace / "graph" / "kgqa.db"
    con = sqlite3.connect(graph)
    con.execute("DROP TABLE graphelts")
    con.commit()
    con.close()
    result = load(workspace, RECORDS, "--merge")
    assert result.returncode == 6 and "a merge would build on it" in result.stderr.decode()
    assert load(workspace, RECORDS, "--replace").returncode == 0


@pytest.mark.slow
def test_replace_with_no_triples_is_refused_unless_allowed(tmp_path):
    workspace = tmp_path / "ws"
    assert load(workspace).returncode == 0
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    refused = run_cli("bulkload", str(empty), "--replace", "--workspace", str(workspace))
    assert refused.returncode == 3 and "--allow-empty" in refused.stderr.decode()
    summary = json.loads(run_cli("graph", "--json", "--workspace", str(workspace)).stdout)
    assert summary["edges"] == 7
    allowed = run_cli("bulkload", str(empty), "--replace", "--allow-empty", "--workspace", str(workspace))
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(run_cli("graph", "--json", "--workspace", str(workspace)).stdout)["edges"] == 0


@pytest.mark.slow
@pytest.mark.parametrize(("content", "code", "message"), [
    (None, 4, "no graph here yet"),
    (b"", 6, "is an empty file, not a kgqa graph"),
    (b"just some text\n", 6, "is not a kgqa graph (not an SQLite database)"),
    (b"SQLite format 3\x00" + b"\x00" * 200, 6, "is damaged or not a kgqa graph"),
])
def test_readers_never_write_and_name_what_is_wrong(tmp_path, content, code, message):
    path = tmp_path / "g.db"
    if content is not None:
        path.write_bytes(content)
    for command in (["ask", "三度诱惑的导演是谁"], ["graph"]):
        result = run_cli(*command, "--graph.path", str(path), "--workspace", str(tmp_path / "ws"))
        assert result.returncode == code, result.stderr
        assert f"{path}: {message}" in result.stderr.decode()
        assert len(result.stderr.decode().strip().splitlines()) == 1
    assert (path.read_bytes() if path.exists() else None) == content


@pytest.mark.slow
def test_a_truncated_graph_file_exits_6(tmp_path):
    workspace = tmp_path / "ws"
    assert load(workspace).returncode == 0
    graph = workspace / "graph" / "kgqa.db"
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 3])
    result = run_cli("graph", "--about", "三度诱惑", "--workspace", str(workspace))
    assert result.returncode == 6, result.stderr
    assert str(graph) in result.stderr.decode()


@pytest.mark.slow
def test_graph_about_shows_facts_in_both_directions(tmp_path):
    workspace = tmp_path / "ws"
    assert load(workspace).returncode == 0
    about = json.loads(run_cli("graph", "--json", "--about", "何藩", "--workspace", str(workspace)).stdout)["about"]
    assert {(f["subject"], f["predicate"], f["object"]) for f in about["何藩"]} == {
        ("三度诱惑", "导演", "何藩"), ("长 短 脚", "导演", "何藩")}
    text = run_cli("graph", "--about", "何藩", "--samples", "0", "--workspace", str(workspace)).stdout.decode()
    assert "no facts" not in text and "三度诱惑" in text


# ------------------------------------------------------------------ the error map


def test_unreachable_graph_server_exits_6_naming_the_url(tmp_path):
    url = "ws://127.0.0.1:9/gremlin"  # the discard port: nothing listens
    result = run_cli("graph", "--graph.url", url, "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 6, result.stderr
    assert result.stderr.decode().startswith(f"error: {url}: cannot reach the graph server")


def test_binary_config_exits_2(tmp_path):
    config = tmp_path / "kgqa.yaml"
    config.write_bytes(bytes(range(256)) * 4)
    result = run_cli("graph", "-c", str(config))
    assert result.returncode == 2 and f"{config}: not a YAML config (not UTF-8 text" in result.stderr.decode()


@pytest.mark.slow
def test_booleans_are_not_numbers_in_config(tmp_path):
    config = tmp_path / "kgqa.yaml"
    config.write_text("ask:\n  max_answers: true\n", encoding="utf-8")
    result = run_cli("graph", "-c", str(config))
    assert result.returncode == 2
    assert f"{config}:2: ask.max_answers: a number is needed here, not a boolean" in result.stderr.decode()
    override = run_cli("graph", "--kg.evaluate.min_f1", "false")
    assert override.returncode == 2 and "override --kg.evaluate.min_f1" in override.stderr.decode()


@pytest.mark.slow
def test_output_into_a_closed_pipe_exits_quietly(tmp_path):
    workspace = tmp_path / "ws"
    assert load(workspace, film_records(3000)).returncode == 0
    # `kgqa graph --json | head -c 1`: the reader goes away after one byte of far more than a
    # pipe buffer holds.
    shell = f"{' '.join(KGQA)} graph --json --samples 3000 --workspace {workspace} | head -c 1; exit ${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, timeout=120)
    assert result.returncode == 141, result.stderr
    assert b"Traceback" not in result.stderr and b"internal error" not in result.stderr


@pytest.mark.slow
def test_read_only_workspace_exits_7_before_any_work(tmp_path):
    workspace = tmp_path / "ws"
    corpus = write_lines(tmp_path / "train.json", film_records(30))
    assert run_cli("preprocess", str(corpus), "--workspace", str(workspace)).returncode == 0
    with read_only(workspace):
        for command in (["train", "kg"], ["preprocess", str(corpus)], ["bulkload", str(workspace / "data/corpus/train.jsonl")],
                        ["questions"]):
            result = run_cli(*command, "--workspace", str(workspace))
            assert result.returncode == 7, (command, result.stderr)
            line = result.stderr.decode().strip().splitlines()[-1]
            assert line.startswith(f"error: {workspace}/") and line.endswith(": cannot write here: Read-only file system")


@pytest.mark.slow
def test_a_full_disk_exits_7(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    corpus = write_corpus(tmp_path / "many.jsonl", film_records(3000))
    try:
        # First the workspace (its CSV files fill the disk), then only the graph file is there.
        for where in (["--workspace", str(disk / "ws")],
                      ["--workspace", str(tmp_path / "roomy"), "--graph.path", str(disk / "g.db")]):
            subprocess.run(["rm", "-rf", str(disk / "ws")], check=True)
            result = run_cli("bulkload", str(corpus), "--replace", *where)
            message = result.stderr.decode()
            assert result.returncode == 7, message
            assert "No space left on device" in message or "disk is full" in message
            assert not list(disk.glob(".g.db.building-*"))  # the partial file went with the failure
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_lone_surrogates_in_an_argument(tmp_path):
    # Bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape).
    result = run_cli(b"ask", b"\xff\xfe\xe4\xb8\x89", b"--json", b"--workspace", str(tmp_path / "ws").encode())
    assert result.returncode == 4  # no model here: the question itself was no problem
    assert b"internal error" not in result.stderr


def test_undecodable_line_costs_one_line_only(cli, tmp_path):
    records = [json.dumps(r, ensure_ascii=False).encode() for r in film_records(12)]
    records[4] = records[4].replace("导演".encode(), b"\xff\xfe", 1)
    path = tmp_path / "train.json"
    path.write_bytes(b"\n".join(records) + b"\n")
    result = cli("preprocess", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["splits"]["train"]["sentences"] + 2 >= 11 - 2
    assert f"{path}:5: not valid UTF-8 (byte 0xff" in result.stderr.replace("\n", "")
    assert sum(json.loads(result.stdout)["splits"][s]["sentences"] for s in ("train", "dev", "test")) == 11


def test_a_zip_that_is_not_a_zip(cli, tmp_path):
    fake = tmp_path / "DuIE_2_0.zip"
    fake.write_text("this is not an archive", encoding="utf-8")
    result = cli("preprocess", str(fake))
    assert result.exit_code == 3
    assert f"{fake}: not a zip archive" in result.stderr


def test_outputs_respect_the_umask(tmp_path):
    from kgqa_cli.io import write_text_atomic

    old = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640
    write_text_atomic(tmp_path / "b.json", "{}")
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o666 & ~old


def test_terminal_controls_are_shown_escaped():
    from rich.console import Console

    from kgqa_cli.answering.answer import Answer
    from kgqa_cli.cli._tables import answer_panel

    hostile = "\x1b]0;pwned\x07\x1b[2J三度诱惑\u202e的导演是谁[bold]"
    console = Console(record=True, width=120, force_terminal=False)
    console.print(answer_panel(Answer(question=hostile, reason="empty question")))
    text = console.export_text()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b]0;pwned\\x07\\x1b[2J三度诱惑\\u202e的导演是谁[bold]" in text
