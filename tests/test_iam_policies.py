"""The IAM policies in aws/ against what kgqa really calls.

Every AWS operation kgqa makes during the test run is recorded (tests/aws_site/sitecustomize.py)
with the identity that makes it: the person or CI running `kgqa` (aws/iam-policy.json), the
SageMaker execution role inside jobs and for the steps a pipeline runs (aws/execution-role-policy.json)
and EventBridge Scheduler's role (aws/scheduler-role-policy.json). This test runs after the rest
of the suite and fails on any operation a policy does not allow; the actions a policy allows
that no test exercised are listed as warnings.
"""

from __future__ import annotations

import fnmatch
import json
import os
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
POLICIES = {"caller": "aws/iam-policy.json", "execution-role": "aws/execution-role-policy.json",
            "scheduler": "aws/scheduler-role-policy.json"}
# botocore signing names that are not the IAM prefix of their actions.
PREFIXES = {"monitoring": "cloudwatch"}
# S3 operations and the actions that authorise them.
S3_ACTIONS = {
    "ListObjectsV2": ["s3:ListBucket"], "ListObjects": ["s3:ListBucket"], "HeadBucket": ["s3:ListBucket"],
    "HeadObject": ["s3:GetObject"], "GetObject": ["s3:GetObject"], "PutObject": ["s3:PutObject"],
    "CreateMultipartUpload": ["s3:PutObject"], "UploadPart": ["s3:PutObject"],
    "CompleteMultipartUpload": ["s3:PutObject"], "AbortMultipartUpload": ["s3:AbortMultipartUpload"],
    "CopyObject": ["s3:GetObject", "s3:PutObject"], "DeleteObject": ["s3:DeleteObject"],
    "DeleteObjects": ["s3:DeleteObject"], "PutBucketNotificationConfiguration": ["s3:PutBucketNotification"],
    "GetBucketNotificationConfiguration": ["s3:GetBucketNotification"],
}
# The action that authorises tags given to a create call, per service.
TAG_ACTIONS = {"sagemaker": "sagemaker:AddTags", "rds": "rds:AddTagsToResource", "iam": "iam:TagRole",
               "lambda": "lambda:TagResource", "events": "events:TagResource", "cloudtrail": "cloudtrail:AddTags",
               "monitoring": "cloudwatch:TagResource", "apigateway": "apigateway:TagResource",
               "codebuild": "codebuild:CreateProject", "scheduler": "scheduler:TagResource"}
# What SageMaker does as the execution role for any job: read the inputs and write the outputs,
# pull the image, write the logs and metrics.
JOB_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "ecr:GetAuthorizationToken", "ecr:BatchGetImage",
               "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "logs:CreateLogGroup",
               "logs:CreateLogStream", "logs:PutLogEvents", "cloudwatch:PutMetricData"]
# Operations that need no permission.
FREE = {("sts", "GetCallerIdentity")}
# What SageMaker does, as the execution role, for each kind of pipeline step.
STEP_ACTIONS = {
    "Training": ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", *JOB_ACTIONS],
    "Processing": ["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", *JOB_ACTIONS],
    "Transform": ["sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob", *JOB_ACTIONS],
    "Model": ["sagemaker:CreateModel"],
    "RegisterModel": ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"],
    "Condition": [], "Fail": [],
}


def actions_of(call: dict) -> list[str]:
    """The IAM actions one recorded operation needs (iam:PassRole for each role it passes)."""
    service, operation = call["signing"], call["operation"]
    if (call["service"], operation) in FREE:
        return []
    if call["service"] == "s3":
        needed = S3_ACTIONS.get(operation)
        if needed is None:
            raise AssertionError(f"S3 operation {operation} has no IAM mapping here: add it to S3_ACTIONS")
    elif service == "apigateway":  # API Gateway's actions are the HTTP verbs on resource paths
        needed = [f"apigateway:{call['method']}"]
    else:
        needed = [f"{PREFIXES.get(service, service)}:{operation}"]
    if call.get("tagged") and service in TAG_ACTIONS:
        needed.append(TAG_ACTIONS[service])
    return needed + ["iam:PassRole"] * bool(call.get("roles"))


def statements(identity: str) -> list[dict]:
    document = json.loads((REPO / POLICIES[identity]).read_text(encoding="utf-8"))
    return [s for s in document["Statement"] if s.get("Effect") == "Allow"]


def listed(statement: dict) -> list[str]:
    value = statement.get("Action", [])
    return [value] if isinstance(value, str) else list(value)


def allowed(action: str, rules: list[dict]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for s in rules for pattern in listed(s))


def scheduler_action(target: str) -> str:
    """The action a schedule's target takes: a universal target names its API, a pipeline ARN is
    StartPipelineExecution."""
    if ":pipeline/" in target:
        return "sagemaker:StartPipelineExecution"
    _, _, api = target.partition("aws-sdk:")
    service, _, operation = api.partition(":")
    return f"{service}:{operation[:1].upper()}{operation[1:]}"


# What the kg pipeline's Neptune steps do as the execution role: `kgqa graph create --target
# neptune` and `kgqa bulkload --target neptune` (the processing entry point's tasks).
NEPTUNE_TASKS = {
    "neptune-create": ["rds:DescribeDBClusters", "rds:DescribeDBInstances", "rds:CreateDBCluster",
                       "rds:CreateDBInstance", "rds:AddRoleToDBCluster", "rds:AddTagsToResource", "iam:GetRole",
                       "iam:CreateRole", "iam:TagRole", "iam:PutRolePolicy", "iam:PassRole"],
    "neptune-load": ["s3:ListBucket", "s3:PutObject", "neptune-db:StartLoaderJob", "neptune-db:GetLoaderJobStatus"],
}


def pipeline_step_calls(tmp_path: Path) -> list[dict]:
    """What SageMaker calls as the execution role to run kgqa's three pipelines' steps."""
    from kgqa_cli.aws.pipeline_definitions import KINDS
    from kgqa_cli.aws.pipelines import build
    from kgqa_cli.settings import load_settings

    raw = tmp_path / "ws" / "data" / "raw" / "demo"
    settings = load_settings(None, {"workspace": str(tmp_path / "ws"), "aws.bucket": "kgqa-iam",
                                    "preprocess.input": str(raw), "kg.extract.input": str(raw / "duie_train.json"),
                                    "aws.role_arn": "arn:aws:iam::123456789012:role/kgqa",
                                    "aws.sns_topic_arn": "arn:aws:sns:us-east-1:123456789012:kgqa-alerts",
                                    "aws.region": "us-east-1"})
    (tmp_path / "ws").mkdir()
    calls = []
    for kind in KINDS:
        document = json.loads(Path(build(settings, kind)["definition"]).read_text(encoding="utf-8"))
        steps = list(document["Steps"])
        while steps:
            step = steps.pop()
            for key in ("IfSteps", "ElseSteps"):
                steps.extend(step.get("Arguments", {}).get(key, []))
            assert step["Type"] in STEP_ACTIONS, f"pipeline {kind}: step type {step['Type']} has no IAM mapping here"
            needed = list(STEP_ACTIONS[step["Type"]])
            arguments = json.dumps(step.get("Arguments", {}))
            if needed and "Tags" in step.get("Arguments", {}):
                needed.append("sagemaker:AddTags")
            if ":role/" in arguments:
                needed.append("iam:PassRole")
            for task, actions in NEPTUNE_TASKS.items():
                if f'"{task}"' in arguments:
                    needed += actions
            if needed:
                calls.append({"actions": needed, "what": f"pipeline {kind}, step {step['Name']} ({step['Type']})"})
    return calls


@pytest.mark.after_suite
def test_every_call_kgqa_made_is_allowed_by_its_identitys_policy(tmp_path):
    log = Path(os.environ["KGQA_AWS_CALL_LOG"])
    recorded = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    if not any(call["identity"] == "caller" for call in recorded):
        pytest.skip("checks what the suite's AWS tests called: run it with them (make test)")
    needs: dict[str, dict[str, set[str]]] = {identity: {} for identity in POLICIES}
    for call in recorded:
        if call["identity"] not in needs:
            continue  # the API function's role is made by kgqa itself, from its own code
        for action in actions_of(call):
            needs[call["identity"]].setdefault(action, set()).add(f"{call['service']}.{call['operation']}")
        if call["operation"] in ("CreateSchedule", "UpdateSchedule") and call.get("target") and not any(
                ":role/kgqa-triggers-" in role for role in call["roles"]):
            # The monitor schedule (the triggers' schedules use a role kgqa makes itself): when it
            # fires, the scheduler's role starts the pipeline it targets.
            needs["scheduler"].setdefault(scheduler_action(call["target"]), set()).add(call["target"])
    for step in pipeline_step_calls(tmp_path):
        for action in step["actions"]:
            needs["execution-role"].setdefault(action, set()).add(step["what"])

    missing, unused = [], {}
    for identity, actions in needs.items():
        rules = statements(identity)
        missing += [f"{POLICIES[identity]}: {action} (for {', '.join(sorted(why)[:3])})"
                    for action, why in sorted(actions.items()) if not allowed(action, rules)]
        granted = sorted({a for s in rules for a in listed(s)})
        unused[identity] = [a for a in granted if not any(fnmatch.fnmatchcase(n.lower(), a.lower()) for n in actions)]
    assert not missing, "actions kgqa calls that its policies do not allow:\n" + "\n".join(missing)
    for identity, actions in unused.items():
        if actions:
            warnings.warn(f"{POLICIES[identity]} allows actions no test exercised: {', '.join(actions)}", stacklevel=1)
    # The check saw real traffic of each kind.
    assert len(needs["caller"]) >= 40 and needs["execution-role"] and needs["scheduler"]
