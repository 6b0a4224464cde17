"""Every wait on AWS ends: boto3's waiters and kgqa's own polling give up after
``aws.wait_timeout_minutes`` with exit 10, naming what they waited for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from neptune_loader import LoaderStandIn

from kgqa_cli.aws.waiting import Deadline, wait_with_waiter
from kgqa_cli.errors import CloudError

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]


def client(moto_server, service):
    import boto3

    return boto3.client(service, endpoint_url=moto_server["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_a_boto3_waiter_that_never_succeeds_gives_up_at_the_deadline(moto_server):
    s3 = client(moto_server, "s3")
    s3.create_bucket(Bucket="kgqa-waiting")
    started = time.monotonic()
    with pytest.raises(CloudError) as raised:
        wait_with_waiter(s3, "object_exists", "the object never-there", 0.01, 0.2, Bucket="kgqa-waiting",
                         Key="never-there")
    assert 0.5 <= time.monotonic() - started < 5
    assert raised.value.exit_code == 10
    assert "gave up waiting for the object never-there after 0.6 s (aws.wait_timeout_minutes)" in str(raised.value)
    # One that is there: no wait, no error.
    s3.put_object(Bucket="kgqa-waiting", Key="there", Body=b"x")
    wait_with_waiter(s3, "object_exists", "the object there", 0.01, 0.2, Bucket="kgqa-waiting", Key="there")


def test_a_waiter_failure_state_is_one_line_with_the_reason(moto_server):
    sagemaker = client(moto_server, "sagemaker")
    with pytest.raises(CloudError) as raised:
        wait_with_waiter(sagemaker, "endpoint_in_service", "the endpoint nowhere", 0.05, 0.1, EndpointName="nowhere")
    assert raised.value.exit_code == 10 and "the endpoint nowhere failed" in str(raised.value)


def test_deadline_sleeps_no_longer_than_is_left():
    now = [0.0]
    deadline = Deadline(1, "the thing", clock=lambda: now[0])
    assert deadline.remaining() == 60
    now[0] = 61
    with pytest.raises(CloudError, match="gave up waiting for the thing after 1 minute"):
        deadline.sleep(5)


@pytest.mark.slow
def test_a_neptune_load_that_outlasts_the_deadline_exits_10_naming_it(moto_server, tiny_qa, tmp_path):
    s3 = client(moto_server, "s3")
    s3.create_bucket(Bucket="kgqa-neptune-slow")
    workspace = tmp_path / "ws"
    corpus = tiny_qa.paths.root.parent / "raw" / "duie_train.json"
    env = {**os.environ, **moto_server}
    options = ["--workspace", str(workspace), "--target", "neptune", "--aws.bucket", "kgqa-neptune-slow",
               "--aws.neptune.cluster_id", "kgqa-slow-test", "--aws.neptune.loader_role_name", "kgqa-loader-slow-test",
               "--aws.neptune.poll_seconds", "0.1", "--aws.neptune.iam_auth", "false"]
    created = subprocess.run([*KGQA, "graph", "create", *options], capture_output=True, text=True, env=env, timeout=120)
    assert created.returncode == 0, created.stderr
    with LoaderStandIn(tmp_path / "standin.db", s3, step_seconds=30) as loader:
        started = time.monotonic()
        slow = subprocess.run([*KGQA, "bulkload", str(corpus), *options, "--aws.neptune.loader_url", loader.url,
                               "--aws.wait_timeout_minutes", "0.02"], capture_output=True, text=True, env=env,
                              timeout=120)
        assert slow.returncode == 10, slow.stderr
        assert time.monotonic() - started < 25
        load_id = next(iter(loader.jobs))
        assert f"gave up waiting for the Neptune load {load_id} after 1.2 s" in slow.stderr
        assert "Traceback" not in slow.stderr
    state = json.loads((workspace / "graph" / "neptune.json").read_text())
    assert state["cluster"] == "kgqa-slow-test"
