"""`--plan` on every command that calls AWS: the requests, resources and cost it prints, with no
credentials and nothing to answer (any request sent would fail: the endpoint is a closed port)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from qa_fixtures import copy_workspace

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]
ROLE = "arn:aws:iam::123456789012:role/kgqa"
AWS = ["--aws.bucket", "plan-bucket", "--aws.role_arn", ROLE, "--aws.region", "eu-west-1"]


@pytest.fixture(scope="module")
def planned(tiny_qa, tmp_path_factory):
    """Run a command with --plan --json in a copy of the tiny workspace, without AWS."""
    root = tmp_path_factory.mktemp("plan")
    workspace = copy_workspace(tiny_qa, root).paths.root
    raw = workspace / "data" / "raw" / "films"  # SageMaker jobs read inputs from the workspace's S3 copy
    shutil.copytree(tiny_qa.paths.root.parent / "raw", raw)
    (workspace / "groundtruth" / "2026" / "11" / "29" / "12").mkdir(parents=True)
    (workspace / "groundtruth" / "2026" / "11" / "29" / "12" / "labels.jsonl").write_text(json.dumps({
        "groundTruthData": {"data": "导演", "encoding": "CSV"}, "eventMetadata": {"eventId": "e1"},
        "eventVersion": "0"}) + "\n", encoding="utf-8")
    (workspace / "monitoring" / "baseline").mkdir(parents=True)
    (workspace / "monitoring" / "baseline" / "constraints.json").write_text(json.dumps({
        "version": 0.0, "multiclass_classification_constraints": {}}), encoding="utf-8")
    home = root / "home"
    home.mkdir()
    # No credentials anywhere boto3 looks, no instance metadata, and an endpoint nothing listens on.
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update({"HOME": str(home), "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
                "AWS_CONFIG_FILE": str(home / "none"), "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})

    def run(*args: str) -> subprocess.CompletedProcess:
        args = tuple(arg.replace("{raw}", str(raw)) for arg in args)
        return subprocess.run([*KGQA, *args, "--plan", "--workspace", str(workspace), *AWS, "--preprocess.input",
                               str(raw), "--kg.extract.input", str(raw / "duie_train.json")],
                              capture_output=True, text=True, timeout=300, env=env)

    run.workspace = workspace
    return run


COMMANDS = {
    "train kg": (["train", "kg", "--target", "sagemaker"], ["CreateTrainingJob"]),
    "train qa": (["train", "qa", "--target", "sagemaker"], ["CreateTrainingJob"]),
    "preprocess": (["preprocess", "--target", "sagemaker"], ["CreateProcessingJob"]),
    "evaluate": (["evaluate", "kg", "--target", "sagemaker"], ["CreateProcessingJob"]),
    "extract": (["extract", "--target", "sagemaker"], ["CreateModel", "CreateTransformJob"]),
    "monitor run": (["monitor", "run", "--target", "sagemaker"], ["CreateProcessingJob"]),
    "monitor schedule": (["monitor", "schedule", "--aws.schedule.role_arn", ROLE], ["CreateSchedule"]),
    "deploy": (["deploy", "--target", "sagemaker"], ["CreateEndpointConfig", "CreateEndpoint", "PutMetricAlarm",
                                                     "RegisterScalableTarget", "PutScalingPolicy"]),
    "deploy --api": (["deploy", "--target", "sagemaker", "--api"], ["CreateEndpoint", "CreateFunction", "CreateApi"]),
    "deploy --delete": (["deploy", "--target", "sagemaker", "--delete"], ["DeleteEndpoint"]),
    "graph create": (["graph", "create", "--target", "neptune"], ["CreateDBCluster", "CreateDBInstance",
                                                                  "CreateRole", "AddRoleToDBCluster"]),
    "graph delete": (["graph", "delete", "--target", "neptune", "--yes"], []),
    "bulkload": (["bulkload", "{raw}/duie_train.json", "--target", "neptune"], ["StartLoaderJob"]),
    "pipeline upsert": (["pipeline", "upsert", "kg"], ["CreatePipeline"]),
    "pipeline start": (["pipeline", "start", "qa"], ["StartPipelineExecution"]),
    "triggers install": (["triggers", "install", "schedule", "data", "--s3-events"], ["CreateSchedule", "PutRule",
                                                                                       "PutTargets"]),
    "triggers remove": (["triggers", "remove"], []),
    "registry approve": (["registry", "approve", "qa/v3", "--target", "sagemaker"], ["UpdateModelPackage"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMMANDS))
def test_plan_prints_requests_and_cost_and_sends_nothing(planned, name):
    args, operations = COMMANDS[name]
    done = planned(*args, "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["planned"] is True
    sent = [request["operation"] for request in plan["requests"]]
    assert set(operations) <= set(sent), sent
    assert all(request["service"] and isinstance(request["params"], dict) for request in plan["requests"])
    # Nothing asked of the region: every client was made for the configured one.
    assert not any("region" in note for note in plan["notes"])
    assert {"lines", "usd_once", "usd_per_hour_running", "unknown_prices"} <= set(plan["cost"])


@pytest.mark.slow
def test_pipeline_upsert_plan_shows_the_definition_and_a_cost_line_and_is_stable(planned):
    first = planned("pipeline", "upsert", "kg", "--json")
    assert first.returncode == 0, first.stderr
    plan = json.loads(first.stdout)
    (create,) = [r for r in plan["requests"] if r["operation"] == "CreatePipeline"]
    definition = create["params"]["PipelineDefinition"]
    assert [step["Name"] for step in definition["Steps"]][:2] == ["Preprocess", "TrainKg"]
    assert create["params"]["RoleArn"] == ROLE
    uploads = {r["params"]["Key"] for r in plan["requests"] if r["operation"] == "PutObject"}
    assert "kgqa/pipelines/kg/definition.json" in uploads
    steps = {line["what"]: line for line in plan["cost"]["lines"]}
    assert steps["step TrainKg"]["instance_type"] == "ml.m5.xlarge" and steps["step TrainKg"]["minutes"] == 15
    assert plan["cost"]["usd_once"] > 0
    assert {"effect": "create", "service": "sagemaker", "operation": "CreatePipeline", "name": "kgqa-kg"} in plan["resources"]
    # The same inputs plan the same text: a plan can be diffed between versions.
    again = planned("pipeline", "upsert", "kg", "--json")
    assert again.stdout == first.stdout
    # Without --json: the requests in order, what they would do, and one cost line.
    human = planned("pipeline", "upsert", "kg")
    assert human.returncode == 0, human.stderr
    assert "sagemaker CreatePipeline kgqa-kg" in human.stdout and "create kgqa-kg" in human.stdout
    assert "definition: Preprocess → TrainKg" in human.stdout
    assert "cost: about USD" in human.stdout and "step TrainKg ml.m5.xlarge x1 ~15 min" in human.stdout


@pytest.mark.slow
def test_deploy_plan_costs_the_endpoint_by_the_hour_and_the_plan_leaves_the_workspace_alone(planned):
    before = sorted(p.relative_to(planned.workspace) for p in Path(planned.workspace).rglob("*")
                    if "pipelines" not in p.parts)
    done = planned("deploy", "--target", "sagemaker", "--json", "--aws.endpoint.instance_type", "ml.m5.xlarge",
                   "--aws.endpoint.initial_instance_count", "2", "--aws.endpoint.autoscaling.max_instances", "4")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["cost"]["usd_per_hour_running"] == pytest.approx(0.46)
    (policy,) = [r for r in plan["requests"] if r["operation"] == "PutScalingPolicy"]
    assert policy["params"]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 9990.0
    assert any("Approved package in kgqa-qa" in a for a in plan["assumed"])
    graph = planned("graph", "create", "--target", "neptune")
    assert graph.returncode == 0, graph.stderr
    after = sorted(p.relative_to(planned.workspace) for p in Path(planned.workspace).rglob("*")
                   if "pipelines" not in p.parts)
    assert after == before  # no neptune.json, nothing else


def test_plan_applies_only_where_aws_is_called(planned):
    local = planned("train", "kg")
    assert local.returncode == 2 and "--plan applies to --target sagemaker" in local.stderr
