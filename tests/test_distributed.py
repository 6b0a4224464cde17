"""Data-parallel training under torchrun: two processes on 127.0.0.1 over gloo, on a tiny corpus
built here, against one process.

Each run is the real ``kgqa`` CLI started by ``python -m torch.distributed.run``, inside a small
script that also writes, per rank, a digest of the weights that rank holds at the end: it reads
them off the module torch's DistributedDataParallel wraps (a subclass that only remembers it).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_lines
from helpers.extractor import SCHEMA, TINY_MODEL, invoke, synthetic_corpus

pytestmark = pytest.mark.slow

EPOCHS = ["--kg.train.epochs", "8", "--kg.train.lr", "0.01"]
GATE = "0.6"  # kg.gates' default: the demo corpus's gate, reachable on this tiny one

RUNNER = '''
import hashlib, json, os, sys
from pathlib import Path

import torch.nn.parallel

wrapped = []


class Recording(torch.nn.parallel.DistributedDataParallel):
    """torch's DistributedDataParallel as it is, remembering the module it wraps."""

    def __init__(self, module, *args, **kwargs):
        super().__init__(module, *args, **kwargs)
        wrapped.append(module)


torch.nn.parallel.DistributedDataParallel = Recording

from kgqa_cli.cli.main import main

sys.argv = ["kgqa", *sys.argv[1:]]
try:
    main()
    code = 0
except SystemExit as stop:
    code = stop.code
if wrapped:
    state = wrapped[0].state_dict()
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    rank = os.environ["RANK"]
    Path(__file__).parent.joinpath(f"weights-{rank}.json").write_text(json.dumps(
        {"rank": int(rank), "world": int(os.environ["WORLD_SIZE"]), "sha256": digest.hexdigest()}))
sys.exit(code)
'''


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def torchrun(workspace: Path, runs: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``kgqa ARGS --workspace WORKSPACE`` in two ranks started by torchrun; the ranks' weight
    digests land in ``runs`` (weights-0.json, weights-1.json)."""
    runs.mkdir(parents=True, exist_ok=True)
    script = runs / "run_kgqa.py"
    script.write_text(RUNNER, encoding="utf-8")
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
               str(script), *args, "--workspace", str(workspace)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **(env or {})})


def digests(runs: Path) -> list[str]:
    return [json.loads((runs / f"weights-{rank}.json").read_text())["sha256"] for rank in (0, 1)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A preprocessed tiny corpus (train, dev, test, schema), copied into each test's workspace."""
    root = tmp_path_factory.mktemp("ddp")
    raw = root / "raw"
    write_lines(raw / "duie_train.json", synthetic_corpus(160, seed=1))
    write_lines(raw / "duie_schema.json", SCHEMA)
    done = invoke(root / "ws", "preprocess", str(raw), "--preprocess.dev_ratio", "0.15",
                  "--preprocess.test_ratio", "0.15")
    assert done.exit_code == 0, done.output
    return root / "ws" / "data"


def workspace_with(corpus: Path, folder: Path) -> Path:
    shutil.copytree(corpus, folder / "data")
    return folder


@pytest.fixture(scope="module")
def two_ranks(corpus, tmp_path_factory):
    """One uninterrupted two-process training: its workspace, its runs folder and its summary."""
    root = tmp_path_factory.mktemp("two-ranks")
    workspace = workspace_with(corpus, root / "ws")
    done = torchrun(workspace, root / "runs", "train", "kg", "--json", *TINY_MODEL, *EPOCHS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "distributed: rank 1 of 2 (gloo" in done.stderr
    return workspace, root / "runs", json.loads(done.stdout)  # one summary: rank 0 reports for the group


def test_both_ranks_end_with_the_same_weights_and_the_model_passes_the_gate(two_ranks):
    workspace, runs, summary = two_ranks
    first, second = digests(runs)
    assert first == second
    assert summary["model_version"] == "kg/v1" and summary["epochs_run"] == 8
    checkpoint = workspace / "models" / "kg" / "last.pt"
    import torch

    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert saved["world_size"] == 2 and len(saved["rank_rng"]) == 2
    gate = invoke(workspace, "evaluate", "kg", "--min-f1", GATE, "--json")
    assert gate.exit_code == 0, gate.output
    assert json.loads(gate.stdout)["f1"] >= float(GATE)


def test_one_process_passes_the_gate_and_saves_the_same_keys(corpus, two_ranks, tmp_path):
    from safetensors import safe_open

    workspace = workspace_with(corpus, tmp_path / "ws")
    done = invoke(workspace, "train", "kg", "--json", *TINY_MODEL, *EPOCHS)
    assert done.exit_code == 0, done.output
    gate = invoke(workspace, "evaluate", "kg", "--min-f1", GATE, "--json")
    assert gate.exit_code == 0, gate.output
    # The two-process model folder is the one-process one: the weights unwrapped, same names.
    names = []
    for folder in (workspace, two_ranks[0]):
        with safe_open(folder / "models" / "kg" / "model" / "model.safetensors", "pt") as weights:
            names.append(sorted(weights.keys()))
    assert names[0] == names[1] and not any(name.startswith(("module.", "model.")) for name in names[0])


def test_two_processes_killed_after_a_checkpoint_resume_to_the_same_weights(corpus, two_ranks, tmp_path):
    workspace = workspace_with(corpus, tmp_path / "ws")
    # Every rank kills itself at its second checkpoint point, after the barrier: a power cut.
    killed = torchrun(workspace, tmp_path / "killed", "train", "kg", "--json", *TINY_MODEL, *EPOCHS,
                      env={"KGQA_FAULT_KILL_AT": "2"})
    assert killed.returncode != 0
    import torch

    assert torch.load(workspace / "models" / "kg" / "last.pt", weights_only=True)["epoch"] == 2
    assert not (workspace / "registry" / "kg").exists()
    resumed = torchrun(workspace, tmp_path / "resumed", "train", "kg", "--resume", "--json", *TINY_MODEL, *EPOCHS)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    reference_workspace, reference_runs, reference = two_ranks
    summary = json.loads(resumed.stdout)
    assert summary["epochs_run"] == 8 and summary["dev"] == reference["dev"]
    assert digests(tmp_path / "resumed") == digests(reference_runs)
    model = Path("models") / "kg" / "model" / "model.safetensors"
    assert (workspace / model).read_bytes() == (reference_workspace / model).read_bytes()
    # Resuming with another number of processes is refused: each rank's share would differ.
    refused = invoke(workspace, "train", "kg", "--resume", *TINY_MODEL, *EPOCHS)
    assert refused.exit_code == 2 and "made by 2 training process(es), this run has 1" in refused.output


def test_the_question_model_trains_on_two_ranks_to_the_same_weights(tmp_path):
    from qa_fixtures import build_workspace

    settings = build_workspace(tmp_path, train=False, graph=False)
    tiny = ["--qa.model.num_hidden_layers", "2", "--qa.model.hidden_size", "64", "--qa.model.num_attention_heads", "2",
            "--qa.model.intermediate_size", "128", "--qa.model.max_length", "48", "--qa.train.epochs", "3",
            "--qa.train.batch_size", "16", "--qa.train.learning_rate", "0.003"]
    done = torchrun(settings.paths.root, tmp_path / "runs", "train", "qa", "--json", *tiny)
    assert done.returncode == 0, done.stdout + done.stderr
    first, second = digests(tmp_path / "runs")
    assert first == second
    summary = json.loads(done.stdout)
    assert summary["model_version"] == "qa/v1" and len(summary["curve"]) == 3
    assert (settings.paths.registry_dir / "qa" / "v1").is_dir() and not (settings.paths.registry_dir / "qa" / "v2").exists()
