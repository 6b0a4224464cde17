"""Retraining triggers (`kgqa triggers install|show|remove [code|data|schedule]`), as in the
original system: boto3 ``codebuild``, ``events``, ``cloudtrail``, ``scheduler``, ``iam``, ``s3``.

- **code**: a CodeBuild project runs :func:`buildspec` (``make test``, then ``kgqa pipeline
  upsert`` and ``start`` for kg and qa); an EventBridge rule on pushes to the branch of the
  CodeCommit repository starts it (any other git host that can start CodeBuild runs the same
  buildspec with its own webhook).
- **data**: a CloudTrail trail with a data-event selector on the training-data prefix, and an
  EventBridge rule on PutObject, CompleteMultipartUpload and CopyObject under that prefix,
  targeting the kg pipeline; or, with S3 -> EventBridge notifications enabled on the bucket, a
  rule on "Object Created" with no trail.
- **schedule**: EventBridge Scheduler schedules start both pipelines.

Each piece is read first and made or brought in line only when it differs, so a second install
changes nothing. The roles the targets assume are made here with least privilege.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from kgqa_cli.aws.s3 import paginated
from kgqa_cli.errors import ConfigError

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig

KINDS = ("code", "data", "schedule")


def buildspec(settings: KgqaConfig) -> str:
    """The CodeBuild buildspec of the code trigger (also in the repository as aws/buildspec.yml)."""
    return """version: 0.2
# Written by `kgqa triggers install code` (kgqa_cli/aws/triggers.py); aws/buildspec.yml is the same.
# KGQA_ARGS holds the overrides of the install (bucket, role, prefix), e.g. --aws.bucket my-kgqa.
phases:
  install:
    commands:
      - make install-aws
  build:
    commands:
      - make test
      - .venv/bin/kgqa pipeline upsert kg $KGQA_ARGS
      - .venv/bin/kgqa pipeline start kg $KGQA_ARGS
      - .venv/bin/kgqa pipeline upsert qa $KGQA_ARGS
      - .venv/bin/kgqa pipeline start qa $KGQA_ARGS
"""


NOT_FOUND = ("ResourceNotFoundException",)
RULES = {"code": "kgqa-retrain-on-push", "data": "kgqa-retrain-on-data"}
SCHEDULES = {"kg": "kgqa-retrain-kg", "qa": "kgqa-retrain-qa"}


class Triggers:
    """The triggers of one kgqa installation."""

    def __init__(self, settings: KgqaConfig) -> None:
        from kgqa_cli.aws.jobs import AwsContext

        self.settings = settings
        self.aws = settings.aws
        self.config = settings.aws.triggers
        self.context = AwsContext(settings)
        self.account = self.context.client("sts").get_caller_identity()["Account"]
        self.region = self.context.region

    def client(self, name: str) -> Any:
        return self.context.client(name)

    def call(self, what: str, function: Any, **kwargs: Any) -> Any:
        return self.context.call(what, function, **kwargs)

    def pipeline_arn(self, kind: str) -> str:
        from kgqa_cli.aws.pipelines import pipeline_name

        return f"arn:aws:sagemaker:{self.region}:{self.account}:pipeline/{pipeline_name(self.aws, kind)}"

    def role_name(self, use: str) -> str:
        return f"{self.config.role_prefix}-{use}"

    # -- roles -------------------------------------------------------------------------------------

    def ensure_role(self, use: str, service: str, statements: list[dict], changes: list[str]) -> str:
        """A role ``<prefix>-<use>`` trusted by ``service`` with exactly ``statements``; its ARN."""
        from kgqa_cli.aws.iam import ensure_role

        return ensure_role(self.context, self.role_name(use), service, statements, changes,
                           f"kgqa retraining trigger: {use}", "triggers")

    # -- EventBridge rules -------------------------------------------------------------------------

    def ensure_rule(self, name: str, pattern: dict, target: dict, changes: list[str]) -> str:
        events = self.client("events")
        rule = self.call("read a rule", events.describe_rule, missing=NOT_FOUND, Name=name)
        if rule is None or json.loads(rule.get("EventPattern") or "{}") != pattern or rule.get("State") != "ENABLED":
            self.call("put a rule", events.put_rule, Name=name, EventPattern=json.dumps(pattern), State="ENABLED",
                      Description="kgqa retraining trigger", Tags=self.context.tags("triggers"))
            changes.append(f"rule {name}")
        targets = self.call("list a rule's targets", paginated, client=events, operation="list_targets_by_rule",
                            result_key="Targets", Rule=name)
        if [t for t in targets if t.get("Id") == target["Id"]] != [target] or len(targets) != 1:
            stale = [t["Id"] for t in targets if t["Id"] != target["Id"]]
            if stale:
                self.call("remove old targets", events.remove_targets, Rule=name, Ids=stale)
            self.call("put a rule's target", events.put_targets, Rule=name, Targets=[target])
            changes.append(f"target of {name}")
        return name

    # -- the three triggers ------------------------------------------------------------------------

    def install_code(self) -> dict:
        config = self.config
        changes: list[str] = []
        if not config.source_location:
            raise ConfigError("aws.triggers.source_location is not set", hint="the clone URL CodeBuild reads")
        if config.source_type == "CODECOMMIT" and not config.repository_arn:
            raise ConfigError("aws.triggers.repository_arn is not set", hint="the CodeCommit repository's ARN")
        codebuild_role = self.ensure_role("codebuild", "codebuild.amazonaws.com", self._codebuild_statements(),
                                          changes)
        project_arn = f"arn:aws:codebuild:{self.region}:{self.account}:project/{config.project_name}"
        arguments = f"--aws.bucket {self.aws.bucket} --aws.prefix {self.aws.prefix} --aws.role_arn {self.aws.role_arn}"
        project = {
            "name": config.project_name, "description": "kgqa: test, then upsert and start the pipelines",
            "source": {"type": config.source_type, "location": config.source_location,
                       "buildspec": buildspec(self.settings)},
            "sourceVersion": f"refs/heads/{config.branch}",
            "artifacts": {"type": "NO_ARTIFACTS"},
            "environment": {"type": "LINUX_CONTAINER", "image": config.build_image, "computeType": config.compute_type,
                            "environmentVariables": [{"name": "KGQA_ARGS", "value": arguments, "type": "PLAINTEXT"}]},
            "serviceRole": codebuild_role,
        }
        codebuild = self.client("codebuild")
        found = self.call("read the project", codebuild.batch_get_projects, names=[config.project_name])["projects"]
        if not found:
            self.call("create the project", codebuild.create_project, **project,
                      tags=[{"key": t["Key"], "value": t["Value"]} for t in self.context.tags("triggers")])
            changes.append(f"project {config.project_name}")
        elif _project_differs(found[0], project):
            self.call("update the project", codebuild.update_project, **project)
            changes.append(f"project {config.project_name}")
        if config.source_type == "CODECOMMIT":
            events_role = self.ensure_role("push", "events.amazonaws.com", [
                {"Effect": "Allow", "Action": "codebuild:StartBuild", "Resource": project_arn}], changes)
            pattern = {"source": ["aws.codecommit"], "detail-type": ["CodeCommit Repository State Change"],
                       "resources": [config.repository_arn],
                       "detail": {"referenceType": ["branch"], "referenceName": [config.branch]}}
            self.ensure_rule(RULES["code"], pattern,
                             {"Id": "codebuild", "Arn": project_arn, "RoleArn": events_role}, changes)
        return {"trigger": "code", "project": config.project_name, "changes": changes}

    def _codebuild_statements(self) -> list[dict]:
        from kgqa_cli.aws.pipelines import pipeline_name

        prefix = f"{self.aws.prefix}/" if self.aws.prefix else ""
        pipelines = [f"arn:aws:sagemaker:{self.region}:{self.account}:pipeline/{pipeline_name(self.aws, k)}"
                     for k in ("kg", "qa")]
        return [
            {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"arn:aws:logs:{self.region}:{self.account}:log-group:/aws/codebuild/{self.config.project_name}*"},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": f"arn:aws:s3:::{self.aws.bucket}/{prefix}*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{self.aws.bucket}"},
            {"Effect": "Allow", "Action": ["sagemaker:CreatePipeline", "sagemaker:UpdatePipeline",
                                           "sagemaker:DescribePipeline", "sagemaker:StartPipelineExecution",
                                           "sagemaker:AddTags"], "Resource": pipelines},
            {"Effect": "Allow", "Action": "sagemaker:ListPipelines", "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": self.aws.role_arn,
             "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        ]

    def install_data(self, s3_events: bool | None = None) -> dict:
        config = self.config
        changes: list[str] = []
        notifications = config.s3_event_notifications if s3_events is None else s3_events
        prefix = "/".join(p for p in (self.aws.prefix, config.data_prefix.strip("/")) if p) + "/"
        target_role = self.ensure_role("data", "events.amazonaws.com", [
            {"Effect": "Allow", "Action": "sagemaker:StartPipelineExecution", "Resource": self.pipeline_arn("kg")}],
            changes)
        if notifications:
            s3 = self.client("s3")
            current = self.call("read the bucket's notifications", s3.get_bucket_notification_configuration,
                                Bucket=self.aws.bucket)
            current.pop("ResponseMetadata", None)
            if "EventBridgeConfiguration" not in current:
                self.call("send the bucket's events to EventBridge", s3.put_bucket_notification_configuration,
                          Bucket=self.aws.bucket, NotificationConfiguration={**current, "EventBridgeConfiguration": {}})
                changes.append(f"EventBridge notifications of {self.aws.bucket}")
            pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"],
                       "detail": {"bucket": {"name": [self.aws.bucket]}, "object": {"key": [{"prefix": prefix}]}}}
        else:
            if not config.trail_bucket:
                raise ConfigError("aws.triggers.trail_bucket is not set",
                                  hint="the bucket CloudTrail writes to, or use --s3-events")
            self._ensure_trail(prefix, changes)
            pattern = {"source": ["aws.s3"], "detail-type": ["AWS API Call via CloudTrail"],
                       "detail": {"eventSource": ["s3.amazonaws.com"],
                                  "eventName": ["PutObject", "CompleteMultipartUpload", "CopyObject"],
                                  "requestParameters": {"bucketName": [self.aws.bucket],
                                                        "key": [{"prefix": prefix}]}}}
        target = {"Id": "kg-pipeline", "Arn": self.pipeline_arn("kg"), "RoleArn": target_role,
                  "SageMakerPipelineParameters": {"PipelineParameterList": [
                      {"Name": "RawData", "Value": f"s3://{self.aws.bucket}/{prefix}"}]}}
        self.ensure_rule(RULES["data"], pattern, target, changes)
        return {"trigger": "data", "watching": f"s3://{self.aws.bucket}/{prefix}",
                "via": "S3 notifications" if notifications else f"trail {config.trail_name}", "changes": changes}

    def _ensure_trail(self, prefix: str, changes: list[str]) -> None:
        cloudtrail = self.client("cloudtrail")
        name = self.config.trail_name
        if self.call("read the trail", cloudtrail.get_trail, missing=("TrailNotFoundException",), Name=name) is None:
            self.call("create the trail", cloudtrail.create_trail, Name=name, S3BucketName=self.config.trail_bucket,
                      IsMultiRegionTrail=False, TagsList=self.context.tags("triggers"))
            changes.append(f"trail {name}")
        selectors = [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": False, "DataResources": [
            {"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{self.aws.bucket}/{prefix}"]}]}]
        current = cloudtrail.get_event_selectors(TrailName=name).get("EventSelectors", [])
        if current != selectors:
            self.call("select the trail's data events", cloudtrail.put_event_selectors, TrailName=name,
                      EventSelectors=selectors)
            changes.append(f"data events of {name}")
        if not cloudtrail.get_trail_status(Name=name).get("IsLogging"):
            self.call("start the trail", cloudtrail.start_logging, Name=name)
            changes.append(f"logging of {name}")

    def install_schedule(self) -> dict:
        changes: list[str] = []
        role = self.ensure_role("scheduler", "scheduler.amazonaws.com", [
            {"Effect": "Allow", "Action": "sagemaker:StartPipelineExecution",
             "Resource": [self.pipeline_arn("kg"), self.pipeline_arn("qa")]}], changes)
        scheduler = self.client("scheduler")
        for kind, name in SCHEDULES.items():
            request: dict[str, Any] = {"Name": name, "ScheduleExpression": self.config.schedule_expression,
                       "FlexibleTimeWindow": {"Mode": "OFF"}, "State": "ENABLED",
                       "Target": {"Arn": self.pipeline_arn(kind), "RoleArn": role,
                                  "SageMakerPipelineParameters": {"PipelineParameterList": []}}}
            current = self.call("read a schedule", scheduler.get_schedule, missing=NOT_FOUND, Name=name)
            if current is None:
                self.call("create a schedule", scheduler.create_schedule, **request)
                changes.append(f"schedule {name}")
            elif (current.get("ScheduleExpression"), current.get("Target", {}).get("Arn"),
                  current.get("Target", {}).get("RoleArn")) != (request["ScheduleExpression"],
                                                                 request["Target"]["Arn"], role):
                self.call("update a schedule", scheduler.update_schedule, **request)
                changes.append(f"schedule {name}")
        return {"trigger": "schedule", "expression": self.config.schedule_expression, "changes": changes}

    # -- show and remove ---------------------------------------------------------------------------

    def show(self) -> list[dict]:
        rows = []
        events = self.client("events")
        for kind, rule in RULES.items():
            described = self.call("read a rule", events.describe_rule, missing=NOT_FOUND, Name=rule)
            if described is None:
                rows.append({"trigger": kind, "installed": False, "rule": rule})
                continue
            targets = self.call("list a rule's targets", paginated, client=events, operation="list_targets_by_rule",
                                result_key="Targets", Rule=rule)
            rows.append({"trigger": kind, "installed": True, "rule": rule, "state": described.get("State"),
                         "targets": [t["Arn"] for t in targets]})
        scheduler = self.client("scheduler")
        found = [self.call("read a schedule", scheduler.get_schedule, missing=NOT_FOUND, Name=name)
                 for name in SCHEDULES.values()]
        schedules = [schedule["ScheduleExpression"] for schedule in found if schedule]
        rows.append({"trigger": "schedule", "installed": bool(schedules), "expressions": schedules})
        return rows

    def remove(self, kind: str) -> dict:
        removed = []
        if kind in RULES:
            events, rule = self.client("events"), RULES[kind]
            listed = self.call("list a rule's targets", paginated, missing=NOT_FOUND, client=events,
                               operation="list_targets_by_rule", result_key="Targets", Rule=rule)
            if listed is not None:
                ids = [t["Id"] for t in listed]
                if ids:
                    self.call("remove a rule's targets", events.remove_targets, Rule=rule, Ids=ids)
                self.call("delete a rule", events.delete_rule, Name=rule)
                removed.append(f"rule {rule}")
        if kind == "code":
            self.call("delete the project", self.client("codebuild").delete_project, name=self.config.project_name)
            removed.append(f"project {self.config.project_name}")
        if kind == "data" and not self.config.s3_event_notifications and self.call(
                "delete the trail", self.client("cloudtrail").delete_trail, missing=("TrailNotFoundException",),
                Name=self.config.trail_name) is not None:
            removed.append(f"trail {self.config.trail_name}")
        if kind == "schedule":
            for name in SCHEDULES.values():
                if self.call("delete a schedule", self.client("scheduler").delete_schedule, missing=NOT_FOUND,
                             Name=name) is not None:
                    removed.append(f"schedule {name}")
        return {"trigger": kind, "removed": removed}


def _project_differs(found: dict, wanted: dict) -> bool:
    source, environment = found.get("source", {}), found.get("environment", {})
    variables = {v["name"]: v.get("value") for v in environment.get("environmentVariables", [])}
    return (source.get("type"), source.get("location"), source.get("buildspec"), found.get("serviceRole"),
            environment.get("image"), environment.get("computeType"), variables) != (
        wanted["source"]["type"], wanted["source"]["location"], wanted["source"]["buildspec"], wanted["serviceRole"],
        wanted["environment"]["image"], wanted["environment"]["computeType"],
        {v["name"]: v["value"] for v in wanted["environment"]["environmentVariables"]})
