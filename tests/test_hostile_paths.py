"""Strings from outside (S3 keys, version names, config values) never lead outside the workspace,
and processes sharing a workspace queue or are refused instead of corrupting each other."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]


def kgqa(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*KGQA, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def model_folder(folder: Path, marker: str, files: int = 1) -> Path:
    """A model folder of real files whose content says who made it."""
    folder.mkdir(parents=True)
    (folder / "marker.txt").write_text(marker, encoding="utf-8")
    for number in range(files):
        (folder / f"weights-{number}.bin").write_bytes(marker.encode() * 4096)
    return folder


# --- sync down: S3 keys are workspace paths only when they stay inside the workspace ---------------


def test_sync_down_refuses_keys_leading_outside_the_workspace_and_copies_the_rest(moto_server, tmp_path):
    import boto3

    client = boto3.client("s3", endpoint_url=moto_server["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket="kgqa-hostile-keys")
    outside = tmp_path / "outside"
    outside.mkdir()
    hostile = ["kgqa/../outside/climbed.txt", "kgqa/data/../../../outside/deeper.txt",
               f"kgqa/{outside}/absolute.txt"]  # the last one is kgqa//tmp/...: an absolute path after the prefix
    for key in [*hostile, "kgqa/data/corpus/train.jsonl"]:
        client.put_object(Bucket="kgqa-hostile-keys", Key=key, Body=b"payload\n")
    listed = {item["Key"] for item in client.list_objects_v2(Bucket="kgqa-hostile-keys")["Contents"]}
    assert set(hostile) <= listed  # the bucket really holds them as written
    workspace = tmp_path / "ws"
    before = files_under(tmp_path)
    done = kgqa("sync", "down", "--workspace", str(workspace), "--aws.bucket", "kgqa-hostile-keys", env=moto_server)
    assert done.returncode == 3, done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "3 key(s) lead outside the workspace" in error[0], done.stderr
    assert all(repr(key) in error[0] for key in hostile)
    assert "1 other file(s) copied" in error[0]
    # The good file arrived; nothing else appeared anywhere, inside or out.
    assert files_under(tmp_path) - before == {workspace / "data" / "corpus" / "train.jsonl"}
    assert not (tmp_path / "climbed.txt").exists() and not files_under(outside)


def test_sync_down_fetches_two_keys_naming_one_file_once(moto_server, tmp_path):
    """Downloads run at once: "p/a/b" and "p/a/./b" name one file, which only the first writes."""
    import boto3

    client = boto3.client("s3", endpoint_url=moto_server["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket="kgqa-doubled-keys")
    client.put_object(Bucket="kgqa-doubled-keys", Key="kgqa/data/./notes.txt", Body=b"first\n")
    client.put_object(Bucket="kgqa-doubled-keys", Key="kgqa/data/notes.txt", Body=b"second\n")
    workspace = tmp_path / "ws"
    done = kgqa("sync", "down", "--workspace", str(workspace), "--aws.bucket", "kgqa-doubled-keys", env=moto_server)
    assert done.returncode == 3, done.stderr
    assert "1 key(s) name a file another key already fills" in done.stderr
    assert "'kgqa/data/notes.txt'" in done.stderr and "1 other file(s) copied" in done.stderr
    assert (workspace / "data" / "notes.txt").read_bytes() == b"first\n"
    assert not [p for p in (workspace / "data").iterdir() if p.name != "notes.txt"]  # no partial file left


# --- registry names: GROUP/vN only, and only this workspace's registry ----------------------------


def _registry_with_one_version(workspace: Path) -> Path:
    from kgqa_cli.mlops.registry import Registry

    version = Registry(workspace / "registry").register("qa", model_folder(workspace / "m", "mine"), {})
    return version.path / "package.json"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["../../other/registry/qa/v1", "qa/../../../other/registry/qa/v1", "/qa/v1",
                                  "qa/v0", "qa/v-1", "qa//v1", "qa/v1/..", "QA/v1", "qa/v1x"])
def test_registry_decisions_take_group_and_version_not_paths(tmp_path, name):
    mine = _registry_with_one_version(tmp_path / "ws")
    other = _registry_with_one_version(tmp_path / "other")
    untouched = other.read_bytes(), mine.read_bytes()
    for command in ("reject", "approve"):
        done = kgqa("registry", command, name, "--workspace", str(tmp_path / "ws"))
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().startswith("error: ") and repr(name) in done.stderr and "\n" not in done.stderr.strip()
    assert (other.read_bytes(), mine.read_bytes()) == untouched


def test_registry_unknown_group_is_a_config_error(tmp_path):
    _registry_with_one_version(tmp_path / "ws")
    done = kgqa("registry", "reject", "models/v1", "--workspace", str(tmp_path / "ws"))
    assert done.returncode == 2 and "model group 'models' is not one of kg, qa, pretrain" in done.stderr
    assert kgqa("registry", "reject", "qa/v1", "--workspace", str(tmp_path / "ws")).returncode == 0


@pytest.mark.parametrize("prefix", ["../../etc", "/etc", "kgqa/../x", "a//b", "./kgqa"])
def test_aws_prefix_must_stay_below_the_bucket_top(tmp_path, prefix):
    done = kgqa("sync", "up", "--workspace", str(tmp_path / "ws"), "--aws.bucket", "b", "--aws.prefix", prefix)
    assert done.returncode == 2, done.stderr
    assert "aws.prefix" in done.stderr and repr(prefix) in done.stderr


def test_aws_prefix_keeps_plain_folders():
    from kgqa_cli.aws.config import AwsConfig

    assert AwsConfig(prefix="team/kgqa/").prefix == "team/kgqa"
    assert AwsConfig(prefix="").prefix == ""


# --- aws.region: a bad one is a config error, not a crash --------------------------------------


def test_bad_region_is_a_config_error_naming_aws_region(tmp_path):
    done = kgqa("sync", "up", "--workspace", str(tmp_path / "ws"), "--aws.bucket", "b", "--aws.region", "us east 1")
    assert done.returncode == 2, done.stderr
    assert "aws.region" in done.stderr and "'us east 1'" in done.stderr and "Traceback" not in done.stderr


def test_bad_region_from_the_environment_is_a_config_error(tmp_path):
    done = kgqa("sync", "up", "--workspace", str(tmp_path / "ws"), "--aws.bucket", "b",
                env={"AWS_REGION": "us east 1", "AWS_DEFAULT_REGION": "us east 1",
                     "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    assert done.returncode == 2, done.stderr
    assert "'us east 1'" in done.stderr and "aws.region" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "us-gov-west-1", "us-isob-east-1", "aws-global"])
def test_real_region_names_are_accepted(region):
    from kgqa_cli.aws.config import AwsConfig

    assert AwsConfig(region=region).region == region


# --- the registry under concurrent processes ----------------------------------------------------

RACER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from kgqa_cli.mlops.registry import Registry

    registry_root, go, action, argument = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    while not go.exists():
        time.sleep(0.005)
    registry = Registry(registry_root)
    if action == "register":
        print(registry.register("qa", Path(argument), {"source": argument}).name)
    else:
        version = registry.get("qa", "v1")
        for number in range(int(argument)):
            registry.set_status(version, "Rejected", reason=f"{sys.argv[5]}-{number}")
""")


def race(tmp_path: Path, registry_root: Path, jobs: list[list[str]]) -> list[str]:
    """Start one process per job, let them all go at once, return their outputs."""
    script = tmp_path / "racer.py"
    script.write_text(RACER, encoding="utf-8")
    go = tmp_path / "go"
    processes = [subprocess.Popen([sys.executable, str(script), str(registry_root), str(go), *job],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for job in jobs]
    time.sleep(1.5)  # all started and polling
    go.touch()
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outputs.append(out.strip())
    return outputs


@pytest.mark.slow
def test_four_processes_registering_at_once_get_four_consistent_versions(tmp_path):
    from kgqa_cli.mlops.registry import Registry, hash_paths

    root = tmp_path / "registry"
    (root / "qa" / ".v7.partial" / "model").mkdir(parents=True)  # left by a process killed while publishing
    sources = [model_folder(tmp_path / f"model-{n}", f"process {n}", files=40) for n in range(4)]
    names = race(tmp_path, root, [["register", str(source)] for source in sources])
    assert sorted(names) == ["qa/v1", "qa/v2", "qa/v3", "qa/v4"]
    registry = Registry(root)
    for name, source in zip(names, sources, strict=True):
        version = registry.parse_name(name)
        package = version.package
        assert package["name"] == name and package["metrics"] == {"source": str(source)}
        assert package["artifact_hash"] == hash_paths([version.path / "model"]) == hash_paths([source])
        assert (version.path / "model" / "marker.txt").read_text() == (source / "marker.txt").read_text()
    assert not list((root / "qa").glob(".*partial"))


@pytest.mark.slow
def test_concurrent_status_changes_keep_every_history_entry(tmp_path):
    from kgqa_cli.mlops.registry import Registry

    root = tmp_path / "registry"
    Registry(root).register("qa", model_folder(tmp_path / "model", "one"), {})
    race(tmp_path, root, [["status", "10", f"process {n}"] for n in range(6)])
    history = Registry(root).get("qa", "v1").package["history"]
    assert sorted(entry["reason"] for entry in history) == sorted(f"process {p}-{n}" for p in range(6) for n in range(10))


@pytest.mark.slow
def test_six_concurrent_rejects_through_the_cli_record_six_entries(tmp_path):
    workspace = tmp_path / "ws"
    _registry_with_one_version(workspace)
    processes = [subprocess.Popen([*KGQA, "registry", "reject", "qa/v1", "--reason", f"reviewer {n}",
                                   "--workspace", str(workspace)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for n in range(6)]
    assert [process.wait(timeout=120) for process in processes] == [0] * 6
    shown = json.loads(kgqa("registry", "show", "qa/v1", "--json", "--workspace", str(workspace)).stdout)
    assert sorted(entry["reason"] for entry in shown["history"]) == [f"reviewer {n}" for n in range(6)]


# --- one training run per stage and workspace ----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("stage", "command", "named"), [
    ("kg", ["train", "kg"], "`kgqa train kg`"), ("qa", ["train", "qa"], "`kgqa train qa`"),
    ("pretrain", ["pretrain", "texts.txt"], "`kgqa pretrain`")])
def test_a_second_training_run_is_refused_at_once(tmp_path, stage, command, named):
    workspace = tmp_path / "ws"
    checkpoint = workspace / "models" / stage / "last.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"the first run's checkpoint")
    lock_file = workspace / "models" / f".{stage}.lock"
    with lock_file.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the first run, still training
        started = time.monotonic()
        done = kgqa(*command, "--workspace", str(workspace), "--kg.train.device", "cpu")
        elapsed = time.monotonic() - started
    assert done.returncode == 11, done.stderr
    line = done.stderr.strip()
    assert line.startswith(f"error: {named} is already running in this workspace") and "\n" not in line, line
    assert elapsed < 60
    assert files_under(workspace) == {checkpoint, lock_file}  # nothing of the first run touched, nothing new
    assert checkpoint.read_bytes() == b"the first run's checkpoint"
