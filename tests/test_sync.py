"""`kgqa sync up|down` against a moto S3 server on 127.0.0.1 (started by the test session)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]


def s3(moto_server):
    import boto3

    return boto3.client("s3", endpoint_url=moto_server["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def run(moto_server, workspace, *args):
    done = subprocess.run([*KGQA, "sync", *args, "--workspace", str(workspace), "--json"], capture_output=True,
                          timeout=120, env={**os.environ, **moto_server})
    return done.returncode, (json.loads(done.stdout) if done.returncode == 0 else done.stderr.decode())


def test_sync_up_and_down_with_checksums(moto_server, tmp_path):
    client = s3(moto_server)
    client.create_bucket(Bucket="kgqa-sync-test")
    workspace = tmp_path / "ws"
    (workspace / "data" / "corpus").mkdir(parents=True)
    (workspace / "data" / "corpus" / "train.jsonl").write_text('{"text": "三度诱惑"}\n', encoding="utf-8")
    (workspace / "registry" / "qa" / "v1").mkdir(parents=True)
    (workspace / "registry" / "qa" / "v1" / "package.json").write_text("{}\n", encoding="utf-8")
    (workspace / ".stamps").mkdir()
    (workspace / ".stamps" / "preprocess").write_text("", encoding="utf-8")  # local only
    bucket = ["--aws.bucket", "kgqa-sync-test"]
    code, report = run(moto_server, workspace, "up", *bucket)
    assert code == 0, report
    assert report["copied"] == 2 and report["unchanged"] == 0 and report["location"] == "s3://kgqa-sync-test/kgqa/"
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket="kgqa-sync-test")["Contents"])
    assert keys == ["kgqa/data/corpus/train.jsonl", "kgqa/registry/qa/v1/package.json"]  # the workspace layout
    code, again = run(moto_server, workspace, "up", *bucket)
    assert code == 0 and again["copied"] == 0 and again["unchanged"] == 2  # unchanged files are skipped
    (workspace / "registry" / "qa" / "v1" / "package.json").write_text('{"status": "Approved"}\n', encoding="utf-8")
    code, changed = run(moto_server, workspace, "up", "registry", *bucket)
    assert code == 0 and changed["files"] == ["registry/qa/v1/package.json"]
    elsewhere = tmp_path / "elsewhere"
    code, down = run(moto_server, elsewhere, "down", *bucket)
    assert code == 0 and down["copied"] == 2
    assert (elsewhere / "registry" / "qa" / "v1" / "package.json").read_text() == '{"status": "Approved"}\n'
    code, down = run(moto_server, elsewhere, "down", "data", *bucket)
    assert code == 0 and down["copied"] == 0 and down["unchanged"] == 1


def test_missing_bucket_and_unset_bucket_are_one_clear_line(moto_server, tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    code, message = run(moto_server, workspace, "up", "--aws.bucket", "no-such-bucket-here")
    assert code == 10 and message.strip() == (
        "error: s3://no-such-bucket-here: no such bucket (create it (aws s3 mb s3://NAME) or set aws.bucket)")
    code, message = run(moto_server, workspace, "up")
    assert code == 2 and "aws.bucket is not set" in message
    code, message = run(moto_server, workspace, "up", "../outside", "--aws.bucket", "x")
    assert code == 2 and "stay inside it" in message


def test_a_file_sent_in_parts_keeps_its_checksum(moto_server, tmp_path, monkeypatch):
    """Above the single-put size a file goes up in parts (its ETag is then no MD5): the MD5 rides
    in the object's metadata, so the next sync still sees it unchanged."""
    import kgqa_cli.aws.s3 as s3_module
    from kgqa_cli.settings import load_settings

    for key, value in moto_server.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(s3_module, "SINGLE_PUT_BYTES", 1024)  # the 9 MB file below counts as large
    client = s3(moto_server)
    client.create_bucket(Bucket="kgqa-sync-parts")
    workspace = tmp_path / "ws"
    big = workspace / "models" / "big.bin"
    big.parent.mkdir(parents=True)
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # above boto3's 8 MB multipart threshold
    settings = load_settings(None, {"workspace": str(workspace), "aws.bucket": "kgqa-sync-parts"})
    first = s3_module.sync(settings.aws, workspace, "up")
    assert first.copied == ["models/big.bin"]
    head = client.head_object(Bucket="kgqa-sync-parts", Key="kgqa/models/big.bin")
    assert "-" in head["ETag"] and len(head["Metadata"]["kgqa-md5"]) == 32  # sent in parts
    again = s3_module.sync(settings.aws, workspace, "up")
    assert again.copied == [] and again.skipped == ["models/big.bin"]
    elsewhere = tmp_path / "elsewhere"
    down = s3_module.sync(settings.aws, elsewhere, "down")
    assert down.copied == ["models/big.bin"] and (elsewhere / "models" / "big.bin").read_bytes() == big.read_bytes()
