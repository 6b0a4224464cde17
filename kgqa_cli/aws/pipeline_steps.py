"""The steps of the SageMaker pipelines as definition JSON: Processing, Training, Model,
RegisterModel and Fail steps, and the ``Get`` / ``Std:JsonGet`` expressions that tie one step's
output to the next one's input (:mod:`kgqa_cli.aws.pipeline_definitions` puts them together).

A Processing or Training step's arguments are the very request the `--target sagemaker` stage
sends, less its name and tags: one code path for a stage run by hand and in a pipeline.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.aws.jobs import AwsPlan
from kgqa_cli.errors import ConfigError

if TYPE_CHECKING:
    from kgqa_cli.aws.config import AwsConfig, JobConfig
    from kgqa_cli.aws.processing import ProcessingStage
    from kgqa_cli.settings import KgqaConfig

# A step of the definition, or an expression the service evaluates when the pipeline runs (JSON).
Step = dict[str, Any]
Expression = dict[str, Any]


class PlanContext(AwsPlan):
    """A plan of the pipeline definition, without calling AWS: bucket and role must be set; the
    region comes from the config or the environment, as boto3 would take it."""

    def __init__(self, settings: KgqaConfig) -> None:
        aws = settings.aws
        if not aws.bucket:
            raise ConfigError("aws.bucket is not set", hint="set aws.bucket in the config, or pass --aws.bucket NAME")
        if not aws.role_arn:
            raise ConfigError("aws.role_arn is not set", hint="the role the pipeline's steps run as")
        super().__init__(settings, aws.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                         or "us-east-1")


def pipeline_name(aws: AwsConfig, kind: str) -> str:
    """``kgqa-kg``, ``kgqa-qa``, ``kgqa-monitor`` (prefix ``aws.package_group_prefix``)."""
    return f"{aws.package_group_prefix}-{kind}"


def get(path: str) -> Expression:
    """A property of the execution, a parameter or an earlier step, read when the pipeline runs."""
    return {"Get": path}


def output(step: str, name: str) -> Expression:
    """The S3 URL of a Processing step's output ``name``."""
    return get(f"Steps.{step}.ProcessingOutputConfig.Outputs['{name}'].S3Output.S3Uri")


def json_get(step: str, path: str) -> Expression:
    """A figure of a step's ``Evaluation`` property file."""
    return {"Std:JsonGet": {"PropertyFile": get(f"Steps.{step}.PropertyFiles.Evaluation"), "Path": path}}


def join(on: str, *values: Any) -> Expression:
    """The values (strings and expressions) joined with ``on`` when the pipeline runs."""
    return {"Std:Join": {"On": on, "Values": list(values)}}


def workspace_input(settings: KgqaConfig, path: Path, what: str) -> str:
    """A configured input as a workspace-relative path (the pipeline reads the workspace's S3
    copy); a path outside the workspace is a :class:`ConfigError`."""
    try:
        return Path(path).resolve().relative_to(settings.paths.root.resolve()).as_posix()
    except ValueError:
        raise ConfigError(f"{path}: the pipeline reads {what} from the workspace's S3 copy, and this path is "
                          f"outside the workspace {settings.paths.root}",
                          hint=f"copy it under {settings.paths.raw_dir} and point the config there") from None


def processing_step(name: str, context: PlanContext, stage: ProcessingStage, resources: JobConfig, code: str,
                    config: str, property_file: str | None = None, depends_on: list[str] | None = None) -> Step:
    """A Processing step: the stage's ``create_processing_job`` request, its outputs under the
    execution's id."""
    from kgqa_cli.aws.processing import processing_request

    step: Step = {"Name": name, "Type": "Processing",
            "Arguments": processing_request(context, stage, resources, code, config,
                                            job=get("Execution.PipelineExecutionId"))}
    if property_file:
        step["PropertyFiles"] = [{"PropertyFileName": "Evaluation", "OutputName": "evaluation",
                                  "FilePath": property_file}]
    if depends_on:
        step["DependsOn"] = depends_on
    return step


def training_step(name: str, settings: KgqaConfig, context: PlanContext, kind: str, code: str,
                  channel: Expression) -> Step:
    """A Training step: `kgqa train KIND --target sagemaker`'s request, its ``train`` channel an
    earlier step's output."""
    from kgqa_cli.aws.training import job_request

    request = job_request(settings, kind, "pipeline", code, context.region)
    request.pop("TrainingJobName")
    request.pop("Tags")
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = channel
    return {"Name": name, "Type": "Training", "Arguments": request}


def model_container(settings: KgqaConfig, context: PlanContext, kind: str, train_step: str) -> dict[str, Any]:
    """The serving container of the model a Training step made."""
    from kgqa_cli.aws.models import SERVING_ENVIRONMENT

    where = settings.aws.transform if kind == "kg" else settings.aws.endpoint
    environment = {**SERVING_ENVIRONMENT, "KGQA_MODEL_KIND": kind}
    if kind == "qa":
        # A training archive carries no graph: this model understands (intent, slots, ranked
        # intents) and the caller queries the graph; `kgqa deploy` adds the graph for answers.
        environment["KGQA_ANSWER"] = "understand"
    return {"Image": context.image("pytorch-inference", where.instance_type, where.image),
            "ModelDataUrl": get(f"Steps.{train_step}.ModelArtifacts.S3ModelArtifacts"),
            "Environment": environment}


def model_step(name: str, settings: KgqaConfig, context: PlanContext, kind: str, train_step: str) -> Step:
    """A Model step: the SageMaker model of a Training step's archive."""
    return {"Name": name, "Type": "Model", "Arguments": {
        "ExecutionRoleArn": settings.aws.role_arn,
        "PrimaryContainer": model_container(settings, context, kind, train_step)}}


def register_step(settings: KgqaConfig, context: PlanContext, kind: str, train_step: str, evaluate_step: str) -> Step:
    """A RegisterModel step: the trained model as a package of the kind's group, with its
    evaluation as the model quality figures and the approval status of a parameter."""
    from kgqa_cli.aws.registry import SageMakerRegistry

    group = SageMakerRegistry.group_name(settings.aws, kind)
    container = model_container(settings, context, kind, train_step)
    # The SDK's ModelBuilder.register() gives a script-mode package's container its region.
    container["Environment"]["SAGEMAKER_REGION"] = context.region
    return {"Name": f"Register{kind.title()}", "Type": "RegisterModel", "Arguments": {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": get("Parameters.ModelApprovalStatus"),
        "InferenceSpecification": {
            "Containers": [container],
            "SupportedContentTypes": ["application/json", "text/plain", "application/jsonlines"],
            "SupportedResponseMIMETypes": ["application/json", "application/jsonlines"],
        },
        # Empty Bias and Explainability, and SkipModelValidation at its default: the request as
        # the SageMaker SDK's ModelBuilder.register() writes it (tests/test_pipelines_sdk.py).
        "ModelMetrics": {"ModelQuality": {"Statistics": {
            "ContentType": "application/json",
            "S3Uri": join("/", output(evaluate_step, "evaluation"), "evaluation.json"),
        }}, "Bias": {}, "Explainability": {}},
        "CustomerMetadataProperties": {"kgqa_pipeline": pipeline_name(settings.aws, kind)},
        "SkipModelValidation": "None",
    }}


def alert_and_fail(settings: KgqaConfig, context: PlanContext, kind: str, evaluate_step: str, code: str, config: str,
                   message: Expression) -> list[Step]:
    """The steps of a failed gate: the report to ``aws.sns_topic_arn`` (when set), then Fail."""
    from kgqa_cli.aws.processing import ROOT, ProcessingStage

    steps = []
    if settings.aws.sns_topic_arn:
        stage = ProcessingStage(f"alert-{kind}", ["alert", "--topic", settings.aws.sns_topic_arn, "--subject",
                                                  f"kgqa: the {kind} model failed its quality gate",
                                                  "--report", "evaluation.json"],
                                inputs={"report": output(evaluate_step, "evaluation")},
                                local_paths={"report": f"{ROOT}/input/report"})
        steps.append(processing_step(f"Alert{kind.title()}", context, stage, settings.aws.evaluate, code, config))
    steps.append({"Name": f"Fail{kind.title()}", "Type": "Fail", "Arguments": {"ErrorMessage": message},
                  **({"DependsOn": [f"Alert{kind.title()}"]} if settings.aws.sns_topic_arn else {})})
    return steps
