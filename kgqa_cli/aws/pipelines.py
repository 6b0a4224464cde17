"""The SageMaker Pipelines of the original system, as definition JSON (`kgqa pipeline
build|upsert|start|show kg|qa|monitor`).

The definition is written here rather than with the SDK v3's ``sagemaker.mlops.workflow``: its
steps are the very requests the `--target sagemaker` stages send (one code path for a stage run
by hand and the same stage in a pipeline), `build` needs no AWS and no region check, the JSON is
the same byte for byte for the same config and code (the SDK puts a timestamp into its code
prefix), and the import costs nothing (the SDK's workflow package takes ~3 s and ~250 MB). The
format is the one the SDK writes: ``Version 2020-12-01``, ``Parameters``, ``Steps`` with
``Get`` / ``Std:JsonGet`` / ``Std:Join`` expressions; tests/test_pipelines_sdk.py builds the same
pipelines with the SDK v3 (``sagemaker.mlops.workflow``) and holds the two equal, field by field.

- **kg**: Preprocess → TrainKg → EvaluateKg (property file) → CheckF1 (f1 ≥ MinF1) → if:
  RegisterKg, CreateKgModel → Extract (Batch Transform) → RetrieveOrCreateNeptuneDB →
  NeptuneBulkload; else: AlertKg (SNS) + FailKg.
- **qa**: Questions → TrainQa → EvaluateQa → CheckQaGates (intent accuracy and slot F1) → if:
  CreateQaModel, RegisterQa (pending manual approval by default); else: AlertQa + FailQa.
- **monitor**: Monitor (one Processing step), started by the EventBridge Scheduler schedule of
  `kgqa monitor schedule --target sagemaker`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from kgqa_cli.aws.jobs import AwsPlan
from kgqa_cli.errors import CloudError, ConfigError, MissingArtifactError

VERSION = "2020-12-01"
KINDS = ("kg", "qa", "monitor")


class PlanContext(AwsPlan):
    """A plan of the pipeline definition, without calling AWS: bucket and role must be set; the
    region comes from the config or the environment, as boto3 would take it."""

    def __init__(self, settings: Any) -> None:
        aws = settings.aws
        if not aws.bucket:
            raise ConfigError("aws.bucket is not set", hint="set aws.bucket in the config, or pass --aws.bucket NAME")
        if not aws.role_arn:
            raise ConfigError("aws.role_arn is not set", hint="the role the pipeline's steps run as")
        super().__init__(settings, aws.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                         or "us-east-1")


def pipeline_name(aws: Any, kind: str) -> str:
    """``kgqa-kg``, ``kgqa-qa``, ``kgqa-monitor`` (prefix ``aws.package_group_prefix``)."""
    return f"{aws.package_group_prefix}-{kind}"


def folder(settings: Any, kind: str) -> Path:
    """Where `build` writes the definition and the config the steps read: ``pipelines/<kind>/``."""
    return settings.paths.root / "pipelines" / kind


def _get(path: str) -> dict:
    return {"Get": path}


def _output(step: str, name: str) -> dict:
    return _get(f"Steps.{step}.ProcessingOutputConfig.Outputs['{name}'].S3Output.S3Uri")


def _workspace_input(settings: Any, path: Path, what: str) -> str:
    try:
        return Path(path).resolve().relative_to(settings.paths.root.resolve()).as_posix()
    except ValueError:
        raise ConfigError(f"{path}: the pipeline reads {what} from the workspace's S3 copy, and this path is "
                          f"outside the workspace {settings.paths.root}",
                          hint=f"copy it under {settings.paths.raw_dir} and point the config there") from None


def _processing_step(name: str, context: PlanContext, stage: Any, resources: Any, code: str, config: str,
                     property_file: str | None = None, depends_on: list[str] | None = None) -> dict:
    from kgqa_cli.aws.processing import processing_request

    step = {"Name": name, "Type": "Processing",
            "Arguments": processing_request(context, stage, resources, code, config,
                                            job=_get("Execution.PipelineExecutionId"))}
    if property_file:
        step["PropertyFiles"] = [{"PropertyFileName": "Evaluation", "OutputName": "evaluation",
                                  "FilePath": property_file}]
    if depends_on:
        step["DependsOn"] = depends_on
    return step


def _training_step(name: str, settings: Any, context: PlanContext, kind: str, code: str, channel: dict) -> dict:
    from kgqa_cli.aws.training import job_request

    request = job_request(settings, kind, "pipeline", code, context.region)
    request.pop("TrainingJobName")
    request.pop("Tags")
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = channel
    return {"Name": name, "Type": "Training", "Arguments": request}


def _json_get(step: str, path: str) -> dict:
    return {"Std:JsonGet": {"PropertyFile": _get(f"Steps.{step}.PropertyFiles.Evaluation"), "Path": path}}


def _model_container(settings: Any, context: PlanContext, kind: str, train_step: str) -> dict:
    from kgqa_cli.aws.models import SERVING_ENVIRONMENT

    where = settings.aws.transform if kind == "kg" else settings.aws.endpoint
    environment = {**SERVING_ENVIRONMENT, "KGQA_MODEL_KIND": kind}
    if kind == "qa":
        # A training archive carries no graph: this model understands (intent, slots, ranked
        # intents) and the caller queries the graph; `kgqa deploy` adds the graph for answers.
        environment["KGQA_ANSWER"] = "understand"
    return {"Image": context.image("pytorch-inference", where.instance_type, where.image),
            "ModelDataUrl": _get(f"Steps.{train_step}.ModelArtifacts.S3ModelArtifacts"),
            "Environment": environment}


def _register_step(settings: Any, context: PlanContext, kind: str, train_step: str, evaluate_step: str) -> dict:
    from kgqa_cli.aws.registry import SageMakerRegistry

    group = SageMakerRegistry.group_name(settings.aws, kind)
    container = _model_container(settings, context, kind, train_step)
    # The SDK's ModelBuilder.register() gives a script-mode package's container its region.
    container["Environment"]["SAGEMAKER_REGION"] = context.region
    return {"Name": f"Register{kind.title()}", "Type": "RegisterModel", "Arguments": {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": _get("Parameters.ModelApprovalStatus"),
        "InferenceSpecification": {
            "Containers": [container],
            "SupportedContentTypes": ["application/json", "text/plain", "application/jsonlines"],
            "SupportedResponseMIMETypes": ["application/json", "application/jsonlines"],
        },
        # Empty Bias and Explainability, and SkipModelValidation at its default: the request as
        # the SageMaker SDK's ModelBuilder.register() writes it (tests/test_pipelines_sdk.py).
        "ModelMetrics": {"ModelQuality": {"Statistics": {
            "ContentType": "application/json",
            "S3Uri": {"Std:Join": {"On": "/", "Values": [_output(evaluate_step, "evaluation"), "evaluation.json"]}},
        }}, "Bias": {}, "Explainability": {}},
        "CustomerMetadataProperties": {"kgqa_pipeline": pipeline_name(settings.aws, kind)},
        "SkipModelValidation": "None",
    }}


def _alert_and_fail(settings: Any, context: PlanContext, kind: str, evaluate_step: str, code: str, config: str,
                    message: dict) -> list[dict]:
    from kgqa_cli.aws.processing import ROOT, ProcessingStage

    steps = []
    if settings.aws.sns_topic_arn:
        stage = ProcessingStage(f"alert-{kind}", ["alert", "--topic", settings.aws.sns_topic_arn, "--subject",
                                                  f"kgqa: the {kind} model failed its quality gate",
                                                  "--report", "evaluation.json"],
                                inputs={"report": _output(evaluate_step, "evaluation")},
                                local_paths={"report": f"{ROOT}/input/report"})
        steps.append(_processing_step(f"Alert{kind.title()}", context, stage, settings.aws.evaluate, code, config))
    steps.append({"Name": f"Fail{kind.title()}", "Type": "Fail", "Arguments": {"ErrorMessage": message},
                  **({"DependsOn": [f"Alert{kind.title()}"]} if settings.aws.sns_topic_arn else {})})
    return steps


def definition(settings: Any, kind: str, code_url: str) -> dict:
    """The pipeline definition of ``kind`` (kg, qa or monitor) as a dict (no AWS call)."""
    from kgqa_cli.aws.models import transform_request
    from kgqa_cli.aws.processing import WORKSPACE, ProcessingStage, evaluate_stage, monitor_stage

    if kind not in KINDS:
        raise ConfigError(f"pipeline {kind!r}: kg, qa or monitor")
    context = PlanContext(settings)
    aws = settings.aws
    config_url = context.url(f"pipelines/{kind}/config/")
    approve = settings.kg.evaluate.approve_on_pass if kind == "kg" else settings.qa.gates.approve_on_pass
    approval = {"Name": "ModelApprovalStatus", "Type": "String",
                "DefaultValue": "Approved" if approve else "PendingManualApproval"}
    if kind == "monitor":
        stage = monitor_stage(settings, None, None)
        for number, argument in enumerate(stage.arguments):
            for option, parameter in (("--start-offset=", "StartOffset"), ("--end-offset=", "EndOffset")):
                if argument.startswith(option):
                    stage.arguments[number] = {"Std:Join": {"On": "", "Values": [option, _get(f"Parameters.{parameter}")]}}
        parameters = [{"Name": "StartOffset", "Type": "String", "DefaultValue": settings.monitor.start_offset},
                      {"Name": "EndOffset", "Type": "String", "DefaultValue": settings.monitor.end_offset}]
        steps = [_processing_step("Monitor", context, stage, aws.monitor, code_url, config_url)]
    elif kind == "kg":
        raw = _workspace_input(settings, settings.preprocess.input, "the raw corpus")
        raw_url = context.url(raw) + ("/" if Path(settings.preprocess.input).is_dir() else "")
        extract_input = _workspace_input(settings, settings.kg.extract.input, "the text to extract from")
        parameters = [
            {"Name": "RawData", "Type": "String", "DefaultValue": raw_url},
            {"Name": "ExtractInput", "Type": "String", "DefaultValue": context.url(extract_input)},
            {"Name": "MinF1", "Type": "Float", "DefaultValue": settings.kg.evaluate.min_f1},
            approval,
        ]
        preprocess = ProcessingStage("preprocess", ["preprocess", "data/raw/input"],
                                     inputs={"raw": _get("Parameters.RawData")}, outputs={"corpus": "data/corpus"},
                                     local_paths={"raw": f"{WORKSPACE}/data/raw/input"})
        evaluate = evaluate_stage(settings, "kg", _get("Steps.TrainKg.ModelArtifacts.S3ModelArtifacts"))
        evaluate.inputs["data"] = _output("Preprocess", "corpus")
        evaluate.local_paths["data"] = f"{WORKSPACE}/data/corpus"
        # One output folder per execution: the graph load reads this run's triples only.
        transform = transform_request(context, "pipeline", "model", "input", {"Std:Join": {"On": "/", "Values": [
            context.url("extract/transform"), _get("Execution.PipelineExecutionId")]}})
        for key in ("TransformJobName", "Tags"):
            transform.pop(key)
        transform["ModelName"] = _get("Steps.CreateKgModel.ModelName")
        transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] = _get("Parameters.ExtractInput")
        transform["TransformInput"]["ContentType"] = "text/plain"  # plain lines; JSON lines are read too
        neptune_create = ProcessingStage("neptune-create", ["neptune-create"], outputs={"graph": "graph"})
        neptune_load = ProcessingStage(
            "neptune-load", ["neptune-load"],
            inputs={"transform": _get("Steps.Extract.TransformOutput.S3OutputPath"),
                    "neptune": _output("RetrieveOrCreateNeptuneDB", "graph")},
            local_paths={"transform": f"{WORKSPACE}/extract/transform", "neptune": f"{WORKSPACE}/graph"})
        load_step = _processing_step("NeptuneBulkload", context, neptune_load, aws.evaluate, code_url, config_url)
        if aws.neptune.job_subnet_ids:
            # The loader answers inside the cluster's VPC only. Network isolation stays off, said
            # outright as the SageMaker SDK's NetworkConfig says it: the job calls the loader.
            load_step["Arguments"]["NetworkConfig"] = {"EnableNetworkIsolation": False, "VpcConfig": {
                "Subnets": aws.neptune.job_subnet_ids, "SecurityGroupIds": aws.neptune.security_group_ids}}
        if_steps = [
            _register_step(settings, context, "kg", "TrainKg", "EvaluateKg"),
            {"Name": "CreateKgModel", "Type": "Model", "Arguments": {
                "ExecutionRoleArn": aws.role_arn, "PrimaryContainer": _model_container(settings, context, "kg", "TrainKg")}},
            {"Name": "Extract", "Type": "Transform", "Arguments": transform},
            # The original's order: Transform -> RetrieveOrCreateNeptuneDB -> NeptuneBulkload.
            {**_processing_step("RetrieveOrCreateNeptuneDB", context, neptune_create, aws.evaluate, code_url,
                                config_url), "DependsOn": ["Extract"]},
            load_step,
        ]
        steps = [
            _processing_step("Preprocess", context, preprocess, aws.preprocess, code_url, config_url),
            _training_step("TrainKg", settings, context, "kg", code_url, _output("Preprocess", "corpus")),
            _processing_step("EvaluateKg", context, evaluate, aws.evaluate, code_url, config_url, "evaluation.json"),
            {"Name": "CheckF1", "Type": "Condition", "Arguments": {
                "Conditions": [{"Type": "GreaterThanOrEqualTo", "LeftValue": _json_get("EvaluateKg", "f1"),
                                "RightValue": _get("Parameters.MinF1")}],
                "IfSteps": if_steps,
                "ElseSteps": _alert_and_fail(settings, context, "kg", "EvaluateKg", code_url, config_url, {
                    "Std:Join": {"On": " ", "Values": ["kg F1 below the gate MinF1 =", _get("Parameters.MinF1")]}}),
            }},
        ]
    else:
        gates = settings.qa.gates
        parameters = [
            {"Name": "MinIntentAccuracy", "Type": "Float", "DefaultValue": gates.min_intent_accuracy},
            {"Name": "MinSlotF1", "Type": "Float", "DefaultValue": gates.min_slot_f1},
            approval,
        ]
        inputs: dict[str, Any] = {"corpus": "data/corpus"}
        if (settings.paths.graph_dir / "kgqa.db").exists() and settings.graph.path is None:
            inputs["graph"] = "graph"
        if settings.paths.feedback_file.exists():
            inputs["feedback"] = "data/feedback"
        questions = ProcessingStage("questions", ["questions"], inputs=inputs, outputs={"questions": "data/questions"})
        evaluate = evaluate_stage(settings, "qa", _get("Steps.TrainQa.ModelArtifacts.S3ModelArtifacts"))
        evaluate.inputs["data"] = _output("Questions", "questions")
        evaluate.local_paths["data"] = f"{WORKSPACE}/data/questions"
        steps = [
            _processing_step("Questions", context, questions, aws.preprocess, code_url, config_url),
            _training_step("TrainQa", settings, context, "qa", code_url, _output("Questions", "questions")),
            _processing_step("EvaluateQa", context, evaluate, aws.evaluate, code_url, config_url, "evaluation.json"),
            {"Name": "CheckQaGates", "Type": "Condition", "Arguments": {
                "Conditions": [
                    {"Type": "GreaterThanOrEqualTo", "LeftValue": _json_get("EvaluateQa", "intent_accuracy"),
                     "RightValue": _get("Parameters.MinIntentAccuracy")},
                    {"Type": "GreaterThanOrEqualTo", "LeftValue": _json_get("EvaluateQa", "slot_f1"),
                     "RightValue": _get("Parameters.MinSlotF1")},
                ],
                "IfSteps": [
                    {"Name": "CreateQaModel", "Type": "Model", "Arguments": {
                        "ExecutionRoleArn": aws.role_arn,
                        "PrimaryContainer": _model_container(settings, context, "qa", "TrainQa")}},
                    _register_step(settings, context, "qa", "TrainQa", "EvaluateQa"),
                ],
                "ElseSteps": _alert_and_fail(settings, context, "qa", "EvaluateQa", code_url, config_url, {
                    "Std:Join": {"On": " ", "Values": ["qa gates failed: MinIntentAccuracy =",
                                                       _get("Parameters.MinIntentAccuracy"), "MinSlotF1 =",
                                                       _get("Parameters.MinSlotF1")]}}),
            }},
        ]
    # MlflowConfig null: the SDK v3 writes the key on every pipeline, null when MLflow is not used.
    return {"Version": VERSION, "Metadata": {}, "Parameters": parameters,
            "PipelineExperimentConfig": {"ExperimentName": {"Get": "Execution.PipelineName"},
                                         "TrialName": {"Get": "Execution.PipelineExecutionId"}},
            "MlflowConfig": None, "Steps": steps}


def build(settings: Any, kind: str) -> dict:
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


def step_names(document: dict) -> list[str]:
    """Every step's name, the condition's branches included, in order."""
    names = []
    for step in document["Steps"]:
        names.append(step["Name"])
        if step["Type"] == "Condition":
            names += [s["Name"] for s in step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]]
    return names


def layout(document: dict) -> str:
    """The steps in one line: ``A → B → Check ? [if steps] : [else steps]``."""
    parts = []
    for step in document["Steps"]:
        if step["Type"] == "Condition":
            arguments = step["Arguments"]
            parts.append(f"{step['Name']} ? [{', '.join(s['Name'] for s in arguments['IfSteps'])}] : "
                         f"[{', '.join(s['Name'] for s in arguments['ElseSteps'])}]")
        else:
            parts.append(step["Name"])
    return " → ".join(parts)


def _uploads(settings: Any, kind: str) -> list[str]:
    """The workspace paths a pipeline reads that `upsert` puts on S3 first."""
    if kind == "kg":
        paths = [_workspace_input(settings, settings.preprocess.input, "the raw corpus"),
                 _workspace_input(settings, settings.kg.extract.input, "the text to extract from")]
    elif kind == "qa":
        paths = ["data/corpus"]
        if (settings.paths.graph_dir / "kgqa.db").exists() and settings.graph.path is None:
            paths.append("graph")
        if settings.paths.feedback_file.exists():
            paths.append("data/feedback")
    else:
        if not (settings.paths.monitoring_dir / "baseline").is_dir():
            raise MissingArtifactError(f"{settings.paths.monitoring_dir / 'baseline'}: no monitoring baseline",
                                       hint="run `kgqa monitor baseline` first")
        # Ground truth keeps coming (`kgqa label`, then `kgqa sync up groundtruth`): what is here now goes up.
        paths = [p for p in ("groundtruth", "monitoring/baseline", "registry/qa") if (settings.paths.root / p).is_dir()]
    return [f"pipelines/{kind}", *dict.fromkeys(paths)]


def upsert(settings: Any, kind: str) -> dict:
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


def start(settings: Any, kind: str, parameters: dict[str, str]) -> dict:
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


def check_parameters(pipeline: str, declared: list[dict], values: dict[str, str]) -> None:
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


def _remote_definition(context: Any, name: str) -> dict:
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


def show(settings: Any, kind: str, limit: int = 10) -> dict:
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
