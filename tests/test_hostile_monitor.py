"""Hostile inputs to the config loader, the monitor, bulkload and pipeline start: each is refused
with one line and the documented exit code, and nothing good is overwritten."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from qa_fixtures import copy_workspace

from kgqa_cli.aws.pipelines import check_parameters
from kgqa_cli.config import load_yaml, parse_overrides
from kgqa_cli.errors import ConfigError
from kgqa_cli.monitoring.monitor import parse_offset

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]
ROLE = "arn:aws:iam::123456789012:role/kgqa"


def run_measured(args: list[str], tmp_path: Path, timeout: int = 120) -> tuple[int, str, float, float]:
    """Run kgqa; its exit code, stderr, seconds and peak resident memory in MB (the child's own)."""
    import threading

    errors = tmp_path / "stderr.txt"
    started = time.perf_counter()
    with errors.open("wb") as stderr:
        child = subprocess.Popen([*KGQA, *args], stdout=subprocess.DEVNULL, stderr=stderr)
    killer = threading.Timer(timeout, child.kill)  # a runaway expansion must not hang the suite
    killer.start()
    try:
        _, status, usage = os.wait4(child.pid, 0)
    finally:
        killer.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, errors.read_text(encoding="utf-8"), time.perf_counter() - started, usage.ru_maxrss / 1024


def billion_laughs(levels: int = 8) -> str:
    """The classic alias bomb: each level an anchored list of nine aliases of the one before."""
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"lol{level}: &lol{level} [" + ", ".join([f"*lol{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# --- YAML alias bombs --------------------------------------------------------------------------

def test_billion_laughs_config_is_refused_quickly_in_bounded_memory(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs(8), encoding="utf-8")
    code, stderr, seconds, peak_mb = run_measured(["graph", "-c", str(bomb), "--workspace", str(tmp_path / "ws")],
                                                  tmp_path)
    assert code == 2, stderr
    assert f"{bomb}:6: refused: aliases expand to more than" in stderr  # lol5 is the first past the bound
    assert stderr.strip().count("\n") == 0
    assert seconds < 30 and peak_mb < 1024


def test_alias_bombs_elsewhere_are_refused(tmp_path):
    # The intent templates file.
    templates = tmp_path / "questions.yaml"
    templates.write_text(billion_laughs(8), encoding="utf-8")
    from kgqa_cli.understanding.templates import load_templates

    with pytest.raises(ConfigError, match=r"questions\.yaml:6: refused: aliases expand"):
        load_templates(templates)
    # A self-referring alias, which a plain walk of the data would follow forever.
    loop = tmp_path / "loop.yaml"
    loop.write_text("workspace: &here [1, *here]\n", encoding="utf-8")
    done = subprocess.run([*KGQA, "graph", "-c", str(loop)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and f"{loop}:1: refused: an alias refers to the collection it is in" in done.stderr
    # An override value is read as YAML too: a bomb there stays text, and the config check names it.
    assert parse_overrides(["--workspace", billion_laughs(8)]) == {"workspace": billion_laughs(8)}
    # Ordinary anchors and aliases still work.
    assert load_yaml("a: &x {b: 1}\nc: *x\n", "ok.yaml") == {"a": {"b": 1}, "c": {"b": 1}}


# --- monitor offsets -----------------------------------------------------------------------------

def test_offsets_take_years_and_months_and_refuse_garbage():
    assert parse_offset("-P1Y") == -timedelta(days=365)
    assert parse_offset("-P1M") == -timedelta(days=30)
    assert parse_offset("P1Y2M3DT4H") == timedelta(days=365 + 60 + 3, hours=4)
    assert parse_offset("-PT1M") == -timedelta(minutes=1)  # M after T is still minutes
    for garbage in ("P", "-PT", "P1M1Y", "P1.5D", "1D", "-P1X", "P-1D", "yesterday"):
        with pytest.raises(ConfigError, match="--end-offset: .* is not an ISO-8601 duration"):
            parse_offset(garbage, "--end-offset")
    with pytest.raises(ConfigError, match="--end-offset: .* is longer than any time window"):
        parse_offset("-P" + "9" * 30 + "D", "--end-offset")


@pytest.mark.slow
def test_monitor_run_offsets_on_the_command_line_and_in_the_config(tmp_path):
    workspace = ["--workspace", str(tmp_path / "ws")]
    huge = subprocess.run([*KGQA, "monitor", "run", "--start-offset", "-P99999999D", *workspace],
                          capture_output=True, text=True, timeout=120)
    assert huge.returncode == 2, huge.stderr
    assert "--start-offset: '-P99999999D' reaches outside the years 1 to 9999" in huge.stderr
    assert "Traceback" not in huge.stderr
    on_aws = subprocess.run([*KGQA, "monitor", "run", "--target", "sagemaker", "--end-offset=P99999999D",
                             *workspace], capture_output=True, text=True, timeout=120)
    assert on_aws.returncode == 2 and "--end-offset: 'P99999999D' reaches outside" in on_aws.stderr
    # A year and a month are windows like any other: the run goes on to find no baseline.
    long_window = subprocess.run([*KGQA, "monitor", "run", "--start-offset", "-P1Y", "--end-offset", "-P1M",
                                  *workspace], capture_output=True, text=True, timeout=120)
    assert long_window.returncode == 4, long_window.stderr
    assert "ISO-8601" not in long_window.stderr
    config = tmp_path / "kgqa.yaml"
    config.write_text("monitor:\n  min_labels: 5\n  start_offset: last week\n", encoding="utf-8")
    bad_key = subprocess.run([*KGQA, "monitor", "run", "-c", str(config), *workspace],
                             capture_output=True, text=True, timeout=120)
    assert bad_key.returncode == 2
    assert f"{config}:3: monitor.start_offset: 'last week' is not an ISO-8601 duration" in bad_key.stderr


# --- monitor baseline ----------------------------------------------------------------------------

def _write_questions(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.slow
def test_baseline_refuses_degenerate_data_and_keeps_the_existing_one(tiny_qa, tmp_path):
    settings = copy_workspace(tiny_qa, tmp_path)
    workspace = ["--workspace", str(settings.paths.root)]
    tests = [json.loads(line) for line in (settings.paths.questions_dir / "test.jsonl").read_text().splitlines()]
    assert len(tests) >= 60
    folder = settings.paths.monitoring_dir / "baseline" / "qa-v1"

    def baseline(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*KGQA, "monitor", "baseline", *args, *workspace], capture_output=True, text=True,
                              timeout=300)

    missing = baseline("--data", str(tmp_path / "missing.jsonl"))
    assert missing.returncode == 3, missing.stderr
    assert f"{tmp_path / 'missing.jsonl'}: labelled questions not found" in missing.stderr
    foreign = [{**row, "intent": "ask_horoscope"} for row in tests[:60]]
    one_row = baseline("--data", str(_write_questions(tmp_path / "one.jsonl", foreign[:1])))
    assert one_row.returncode == 3, one_row.stderr
    assert "1 labelled question(s), a baseline needs at least 50 (monitor.baseline.min_rows)" in one_row.stderr
    unknown = _write_questions(tmp_path / "unknown.jsonl", foreign)
    all_unknown = baseline("--data", str(unknown))
    assert all_unknown.returncode == 3, all_unknown.stderr
    assert "only 0 of 60 labelled questions have an intent qa/v1 knows (unknown: 'ask_horoscope')" in all_unknown.stderr
    # A lower minimum does not make questions of unknown intents meaningful.
    assert baseline("--data", str(unknown), "--monitor.baseline.min_rows", "1").returncode == 3
    assert not folder.exists()
    good = baseline("--json")
    assert good.returncode == 0, good.stderr
    constraints = (folder / "constraints.json").read_bytes()
    assert json.loads(constraints)["multiclass_classification_constraints"]["accuracy"]["threshold"] > 0
    again = baseline()
    assert again.returncode == 2 and f"{folder}: qa/v1 has a baseline already; it is kept" in again.stderr
    assert "--force" in again.stderr
    degenerate = baseline("--data", str(_write_questions(tmp_path / "one.jsonl", foreign[:1])), "--force")
    assert degenerate.returncode == 3
    assert (folder / "constraints.json").read_bytes() == constraints
    forced = baseline("--force", "--data", str(settings.paths.questions_dir / "test.jsonl"))
    assert forced.returncode == 0, forced.stderr


# --- bulkload --------------------------------------------------------------------------------------

def test_bulkload_of_a_named_file_that_is_not_there_is_bad_input(cli, tmp_path):
    missing = tmp_path / "missing.jsonl"
    named = cli("bulkload", str(missing), "--replace")
    assert named.exit_code == 3, named.output
    assert f"{missing}: triples to load not found (INPUT)" in named.output.replace("\n", "")
    configured = cli("bulkload", "--graph.input", str(missing))
    assert configured.exit_code == 3 and "(graph.input)" in configured.output
    # No file named: the extraction output is the default, and a stage still has to run.
    default = cli("bulkload")
    assert default.exit_code == 4 and "kgqa extract" in default.output.replace("\n", " ")


# --- pipeline parameters -----------------------------------------------------------------------------

def test_parameter_values_are_checked_against_their_declared_types():
    declared = [{"Name": "MinF1", "Type": "Float", "DefaultValue": 0.5},
                {"Name": "Epochs", "Type": "Integer", "DefaultValue": 3},
                {"Name": "Augment", "Type": "Boolean", "DefaultValue": False},
                {"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": "Approved"},
                {"Name": "StartOffset", "Type": "String", "DefaultValue": "-P8D"},
                {"Name": "RawData", "Type": "String", "DefaultValue": "s3://b/raw"}]
    check_parameters("p", declared, {"MinF1": "0.7", "Epochs": "12", "Augment": "true", "RawData": "anything",
                                     "ModelApprovalStatus": "Rejected", "StartOffset": "-P1M"})
    refused = {"MinF1": ["abc", "nan", "1.5", "0.5x", ""], "Epochs": ["1.5", "x", "3e2"], "Augment": ["yes", "1"],
               "ModelApprovalStatus": ["approved"], "StartOffset": ["last week"]}
    for name, values in refused.items():
        for value in values:
            with pytest.raises(ConfigError, match=rf"--param {name}=.*{name} is a \w+ parameter of pipeline p"):
                check_parameters("p", declared, {name: value})
    with pytest.raises(ConfigError, match="pipeline p has no parameter Nope"):
        check_parameters("p", declared, {"Nope": "1"})


def test_pipeline_start_refuses_a_value_of_the_wrong_type(moto_server, tmp_path):
    import boto3

    prefix = "hostile-params"
    sagemaker = boto3.client("sagemaker", endpoint_url=moto_server["AWS_ENDPOINT_URL"], region_name="us-east-1",
                             aws_access_key_id="testing", aws_secret_access_key="testing")
    document = {"Version": "2020-12-01", "Metadata": {}, "Steps": [], "Parameters": [
        {"Name": "MinF1", "Type": "Float", "DefaultValue": 0.55},
        {"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": "PendingManualApproval"}]}
    sagemaker.create_pipeline(PipelineName=f"{prefix}-kg", PipelineDefinition=json.dumps(document), RoleArn=ROLE)
    env = {**os.environ, **moto_server}
    args = ["--workspace", str(tmp_path / "ws"), "--aws.bucket", "kgqa-hostile", "--aws.role_arn", ROLE,
            "--aws.package_group_prefix", prefix]

    def start(*params: str) -> subprocess.CompletedProcess:
        return subprocess.run([*KGQA, "pipeline", "start", "kg", *params, *args], capture_output=True, text=True,
                              timeout=120, env=env)

    def executions() -> list:
        return sagemaker.list_pipeline_executions(PipelineName=f"{prefix}-kg")["PipelineExecutionSummaries"]

    refused = start("-p", "MinF1=abc")
    assert refused.returncode == 2, refused.stderr
    assert f"--param MinF1='abc': MinF1 is a Float parameter of pipeline {prefix}-kg, and 'abc' is not a number" \
        in refused.stderr.replace("\n", "")
    assert executions() == []
    started = start("-p", "MinF1=0.6", "--json")
    assert started.returncode == 0, started.stderr
    assert len(executions()) == 1
