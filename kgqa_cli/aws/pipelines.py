"""`kgqa pipeline build|upsert|start|show kg|qa|monitor`: the SageMaker Pipelines of
:mod:`kgqa_cli.aws.pipeline_definitions` written to the workspace, created or updated on
SageMaker with their inputs uploaded first, started with parameter values checked against their
declared types, and shown with their newest executions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.aws.pipeline_definitions import definition, layout, qa_inputs, step_names
from kgqa_cli.aws.pipeline_steps import PlanContext, pipeline_name, workspace_input
from kgqa_cli.errors import CloudError, ConfigError, MissingArtifactError

if TYPE_CHECKING:
    from kgqa_cli.aws.jobs import AwsContext
    from kgqa_cli.settings import KgqaConfig


def folder(settings: KgqaConfig, kind: str) -> Path:
    """Where `build` writes the definition and the config the steps read: ``pipelines/<kind>/``."""
    return settings.paths.pipeline_dir(kind)


def build(settings: KgqaConfig, kind: str) -> dict[str, Any]:
    """Write ``pipelines/<kind>/definition.json`` and the config its steps read; no AWS call."""
    from kgqa_cli.aws.source import source_archive
    from kgqa_cli.io import write_text_atomic

    _, digest = source_archive()
    context = PlanContext(settings)
    code_url = context.url(f"code/{digest[:16]}/sourcedir.tar.gz")
    document = definition(settings, kind, code_url)
    target = folder(settings, kind)
    sections = settings.model_dump(mode="json", exclude={"workspace"})  # the Neptune steps read aws.*
    (target / "config").mkdir(parents=True, exist_ok=True)
    write_text_atomic(target / "config" / "kgqa.json", json.dumps(sections, ensure_ascii=False, indent=1) + "\n")
    if kind == "qa":
        templates = Path(settings.qa.questions.templates)
        if not templates.is_file():
            raise MissingArtifactError(f"{templates}: the question templates are missing")
        write_text_atomic(target / "config" / "questions.yaml", templates.read_text(encoding="utf-8"))
    write_text_atomic(target / "definition.json", json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    return {"pipeline": pipeline_name(settings.aws, kind), "definition": str(target / "definition.json"),
            "steps": step_names(document), "layout": layout(document),
            "parameters": {p["Name"]: p.get("DefaultValue") for p in document["Parameters"]}, "source": code_url}


def _uploads(settings: KgqaConfig, kind: str) -> list[str]:
    """The workspace paths a pipeline reads that `upsert` puts on S3 first."""
    workspace = settings.paths
    if kind == "kg":
        paths = [workspace_input(settings, settings.preprocess.input, "the raw corpus"),
                 workspace_input(settings, settings.kg.extract.input, "the text to extract from")]
    elif kind == "qa":
        paths = list(qa_inputs(settings).values())
    else:
        if not workspace.baseline_dir.is_dir():
            raise MissingArtifactError(f"{workspace.baseline_dir}: no monitoring baseline",
                                       hint="run `kgqa monitor baseline` first")
        # Ground truth keeps coming (`kgqa label`, then `kgqa sync up groundtruth`): what is here now goes up.
        paths = [workspace.relative(p) for p in (workspace.groundtruth_dir, workspace.baseline_dir,
                                                 workspace.registry_dir / "qa") if p.is_dir()]
    return [workspace.relative(workspace.pipeline_dir(kind)), *dict.fromkeys(paths)]


def upsert(settings: KgqaConfig, kind: str) -> dict[str, Any]:
    """Build, upload the source, config and inputs, then create the pipeline or update it."""
    from kgqa_cli.aws.jobs import AwsContext

    built = build(settings, kind)
    context = AwsContext(settings)
    if context.upload_source() != built["source"]:
        raise CloudError("the uploaded source differs from the one the definition names (code changed meanwhile?)")
    uploaded = context.upload_inputs(_uploads(settings, kind))
    document = Path(built["definition"]).read_text(encoding="utf-8")
    name = built["pipeline"]
    sagemaker = context.sagemaker
    from kgqa_cli.aws.s3 import paginated

    exists = any(p["PipelineName"] == name for p in context.call(
        "list pipelines", paginated, client=sagemaker, operation="list_pipelines", result_key="PipelineSummaries",
        PipelineNamePrefix=name))
    common = {"PipelineName": name, "PipelineDefinition": document, "RoleArn": settings.aws.role_arn,
              "PipelineDescription": f"kgqa {kind} pipeline"}
    if exists:
        arn = context.call("update the pipeline", sagemaker.update_pipeline, **common)["PipelineArn"]
    else:
        arn = context.call("create the pipeline", sagemaker.create_pipeline, **common,
                           PipelineDisplayName=name, Tags=context.tags(f"pipeline-{kind}"))["PipelineArn"]
    return {**built, "arn": arn, "action": "updated" if exists else "created", "inputs_uploaded": uploaded}


def start(settings: KgqaConfig, kind: str, parameters: dict[str, str]) -> dict[str, Any]:
    """Start an execution, with parameter values overriding the defaults."""
    from kgqa_cli.aws.jobs import AwsContext

    context = AwsContext(settings, need_role=False)
    name = pipeline_name(settings.aws, kind)
    check_parameters(name, _remote_definition(context, name)["Parameters"], parameters)
    started = context.call("start the pipeline", context.sagemaker.start_pipeline_execution, PipelineName=name,
                           PipelineParameters=[{"Name": k, "Value": str(v)} for k, v in parameters.items()])
    return {"pipeline": name, "execution": started["PipelineExecutionArn"], "parameters": parameters}


_INTEGER = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
APPROVAL_STATUSES = ("Approved", "PendingManualApproval", "Rejected")
# The gates compare a score from 0 to 1 with these: a value outside can only pass or fail everything.
FRACTION_PARAMETERS = ("MinF1", "MinIntentAccuracy", "MinSlotF1")


def _parameter_problem(name: str, kind: str, value: str) -> str | None:
    """Why ``value`` does not fit parameter ``name`` of type ``kind``; None when it does."""
    if kind == "Integer" and not _INTEGER.match(value):
        return "not a whole number"
    if kind == "Float":
        if not _FLOAT.match(value):
            return "not a number"
        if name in FRACTION_PARAMETERS and not 0.0 <= float(value) <= 1.0:
            return "outside 0 to 1"
    if kind == "Boolean" and value.lower() not in ("true", "false"):
        return "neither true nor false"
    if name == "ModelApprovalStatus" and value not in APPROVAL_STATUSES:
        return f"not one of {', '.join(APPROVAL_STATUSES)}"
    if name in ("StartOffset", "EndOffset"):
        from kgqa_cli.monitoring.monitor import parse_offset

        try:
            parse_offset(value)
        except ConfigError:
            return "not an ISO-8601 duration such as -P8D or -PT1H"
    return None


def check_parameters(pipeline: str, declared: list[dict[str, Any]], values: dict[str, str]) -> None:
    """Refuse (:class:`ConfigError`) a value for a parameter the pipeline does not declare, or one
    its declared type (Integer, Float, String, Boolean) cannot hold: the service would start the
    execution and fail it at the step that reads the value."""
    types = {p["Name"]: p.get("Type", "String") for p in declared}
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise ConfigError(f"pipeline {pipeline} has no parameter {', '.join(unknown)}; it has {', '.join(sorted(types))}")
    for name, value in values.items():
        problem = _parameter_problem(name, types[name], str(value))
        if problem is not None:
            raise ConfigError(f"--param {name}={value!r}: {name} is a {types[name]} parameter of pipeline {pipeline}, "
                              f"and {value!r} is {problem}")


def _remote_definition(context: AwsContext, name: str) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    try:
        described = context.sagemaker.describe_pipeline(PipelineName=name)
    except ClientError as exc:
        from kgqa_cli.aws import plan

        kind = name.rsplit("-", 1)[-1]
        if plan.active() is not None:  # a plan reads nothing: the pipeline as this config would define it
            plan.assume(f"the pipeline {name} as `kgqa pipeline upsert {kind}` defines it from this config")
            return definition(context.settings, kind, context.url("code/<source-hash>/sourcedir.tar.gz"))
        raise MissingArtifactError(f"no SageMaker pipeline named {name}",
                                   hint=f"create it with `kgqa pipeline upsert {kind}`") from exc
    return json.loads(described["PipelineDefinition"])


def show(settings: KgqaConfig, kind: str, limit: int = 10) -> dict[str, Any]:
    """The pipeline's parameters, steps and newest executions with their step statuses (where
    the service lists them)."""
    from botocore.exceptions import ClientError

    from kgqa_cli.aws.jobs import AwsContext

    context = AwsContext(settings, need_role=False)
    name = pipeline_name(settings.aws, kind)
    document = _remote_definition(context, name)
    from kgqa_cli.aws.s3 import paginated

    executions = context.call("list executions", paginated, client=context.sagemaker,
                              operation="list_pipeline_executions", result_key="PipelineExecutionSummaries",
                              limit=limit, PipelineName=name, SortBy="CreationTime", SortOrder="Descending")
    rows = []
    for execution in executions:
        row = {"arn": execution["PipelineExecutionArn"], "status": execution.get("PipelineExecutionStatus"),
               "started": str(execution.get("StartTime", "")), "steps": None}
        try:
            steps = paginated(context.sagemaker, "list_pipeline_execution_steps", "PipelineExecutionSteps",
                              PipelineExecutionArn=row["arn"])
            row["steps"] = [{"name": s["StepName"], "status": s.get("StepStatus"),
                             "reason": s.get("FailureReason")} for s in steps]
        except ClientError as exc:  # not every endpoint lists steps (moto does not)
            row["steps_error"] = exc.response.get("Error", {}).get("Code", str(exc))
        rows.append(row)
    return {"pipeline": name, "steps": step_names(document), "layout": layout(document),
            "parameters": {p["Name"]: p.get("DefaultValue") for p in document["Parameters"]}, "executions": rows}
