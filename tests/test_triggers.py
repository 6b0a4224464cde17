"""`kgqa triggers install|show|remove` against the moto server: rules, targets, the CodeBuild
project, the trail, the schedules and their roles, as AWS receives them; installs are idempotent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]
ROLE = "arn:aws:iam::123456789012:role/kgqa-sagemaker"
REPOSITORY = "arn:aws:codecommit:us-east-1:123456789012:kgqa"


def clients(moto_server, *services):
    import boto3

    common = {"endpoint_url": moto_server["AWS_ENDPOINT_URL"], "region_name": "us-east-1",
              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return [boto3.client(service, **common) for service in services]


def test_the_committed_buildspec_is_the_one_installed():
    from kgqa_cli.aws.triggers import buildspec

    committed = Path(__file__).resolve().parents[1] / "aws" / "buildspec.yml"
    assert committed.read_text(encoding="utf-8") == buildspec(None)


def test_triggers_install_show_remove(moto_server, tmp_path):
    events, codebuild, cloudtrail, scheduler, iam, s3 = clients(
        moto_server, "events", "codebuild", "cloudtrail", "scheduler", "iam", "s3")
    s3.create_bucket(Bucket="kgqa-triggers")
    s3.create_bucket(Bucket="kgqa-trail-logs")
    options = ["--workspace", str(tmp_path / "ws"), "--aws.bucket", "kgqa-triggers", "--aws.role_arn", ROLE,
               "--aws.triggers.repository_arn", REPOSITORY,
               "--aws.triggers.source_location", "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/kgqa",
               "--aws.triggers.trail_bucket", "kgqa-trail-logs"]

    def kgqa(*args):
        return subprocess.run([*KGQA, "triggers", *args, *options], capture_output=True, text=True, timeout=120,
                              env={**os.environ, **moto_server})

    done = kgqa("install", "--json")
    assert done.returncode == 0, done.stderr
    results = {r["trigger"]: r for r in json.loads(done.stdout)}
    assert set(results) == {"code", "data", "schedule"} and all(r["changes"] for r in results.values())
    # code: a push to main starts the CodeBuild project, which runs the buildspec.
    rule = events.describe_rule(Name="kgqa-retrain-on-push")
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.codecommit"], "detail-type": ["CodeCommit Repository State Change"],
        "resources": [REPOSITORY], "detail": {"referenceType": ["branch"], "referenceName": ["main"]}}
    (target,) = events.list_targets_by_rule(Rule="kgqa-retrain-on-push")["Targets"]
    assert target["Arn"] == "arn:aws:codebuild:us-east-1:123456789012:project/kgqa-retrain"
    (project,) = codebuild.batch_get_projects(names=["kgqa-retrain"])["projects"]
    assert "make test" in project["source"]["buildspec"] and "pipeline upsert kg" in project["source"]["buildspec"]
    variables = {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}
    assert "--aws.bucket kgqa-triggers" in variables["KGQA_ARGS"]
    # data: a trail on the training-data prefix and a rule on its writes, targeting the kg pipeline.
    rule = json.loads(events.describe_rule(Name="kgqa-retrain-on-data")["EventPattern"])
    assert rule["detail"]["eventName"] == ["PutObject", "CompleteMultipartUpload", "CopyObject"]
    assert rule["detail"]["requestParameters"] == {"bucketName": ["kgqa-triggers"],
                                                   "key": [{"prefix": "kgqa/data/raw/"}]}
    (target,) = events.list_targets_by_rule(Rule="kgqa-retrain-on-data")["Targets"]
    assert target["Arn"] == "arn:aws:sagemaker:us-east-1:123456789012:pipeline/kgqa-kg"
    assert target["SageMakerPipelineParameters"]["PipelineParameterList"] == [
        {"Name": "RawData", "Value": "s3://kgqa-triggers/kgqa/data/raw/"}]
    selectors = cloudtrail.get_event_selectors(TrailName="kgqa-data-events")["EventSelectors"]
    assert selectors[0]["DataResources"] == [{"Type": "AWS::S3::Object",
                                              "Values": ["arn:aws:s3:::kgqa-triggers/kgqa/data/raw/"]}]
    assert cloudtrail.get_trail_status(Name="kgqa-data-events")["IsLogging"] is True
    # schedule: both pipelines.
    for kind in ("kg", "qa"):
        assert scheduler.get_schedule(Name=f"kgqa-retrain-{kind}")["Target"]["Arn"].endswith(f":pipeline/kgqa-{kind}")
    # The targets' roles: least privilege.
    policy = iam.get_role_policy(RoleName="kgqa-triggers-data", PolicyName="kgqa")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    assert {a for s in policy["Statement"] for a in [s["Action"]]} == {"sagemaker:StartPipelineExecution"}
    # A second install changes nothing.
    again = kgqa("install", "--json")
    assert again.returncode == 0, again.stderr
    assert [r["changes"] for r in json.loads(again.stdout)] == [[], [], []]
    shown = kgqa("show", "--json")
    assert [r["installed"] for r in json.loads(shown.stdout)] == [True, True, True]
    # The simpler data path: S3 -> EventBridge notifications, no trail needed.
    notified = kgqa("install", "data", "--s3-events", "--json")
    assert notified.returncode == 0, notified.stderr
    # (moto keeps no EventBridgeConfiguration to read back: the rule is what is checked here.)
    assert "EventBridge notifications of kgqa-triggers" in json.loads(notified.stdout)[0]["changes"]
    pattern = json.loads(events.describe_rule(Name="kgqa-retrain-on-data")["EventPattern"])
    assert pattern["detail-type"] == ["Object Created"]
    removed = kgqa("remove", "--json")
    assert removed.returncode == 0, removed.stderr
    assert [r["installed"] for r in json.loads(kgqa("show", "--json").stdout)] == [False, False, False]
