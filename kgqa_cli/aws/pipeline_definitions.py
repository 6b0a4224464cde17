"""The SageMaker Pipelines of the original system, as definition JSON (no AWS call).

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

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.aws.pipeline_steps import (
    Expression,
    PlanContext,
    Step,
    alert_and_fail,
    get,
    join,
    json_get,
    model_step,
    output,
    processing_step,
    register_step,
    training_step,
    workspace_input,
)
from kgqa_cli.errors import ConfigError

if TYPE_CHECKING:
    from kgqa_cli.aws.config import JobConfig
    from kgqa_cli.aws.processing import ProcessingStage
    from kgqa_cli.settings import KgqaConfig

VERSION = "2020-12-01"
KINDS = ("kg", "qa", "monitor")
# A pipeline parameter as the definition declares it.
Parameter = dict[str, Any]


class Builder:
    """What every step of one pipeline shares: the settings, the plan of their S3 URLs, and the
    URLs of the source archive and of the config the steps read."""

    def __init__(self, settings: KgqaConfig, kind: str, code_url: str) -> None:
        self.settings = settings
        self.kind = kind
        self.context = PlanContext(settings)
        self.code_url = code_url
        self.config_url = self.context.url(f"{settings.paths.relative(settings.paths.pipeline_dir(kind))}/config/")

    def approval(self) -> Parameter:
        """The ``ModelApprovalStatus`` parameter: Approved when the config approves on a pass."""
        settings = self.settings
        approve = settings.kg.evaluate.approve_on_pass if self.kind == "kg" else settings.qa.gates.approve_on_pass
        return {"Name": "ModelApprovalStatus", "Type": "String",
                "DefaultValue": "Approved" if approve else "PendingManualApproval"}

    def processing(self, name: str, stage: ProcessingStage, resources: JobConfig,
                   property_file: str | None = None) -> Step:
        """A Processing step with this pipeline's source and config."""
        return processing_step(name, self.context, stage, resources, self.code_url, self.config_url, property_file)

    def alert_and_fail(self, evaluate_step: str, message: Expression) -> list[Step]:
        """The steps of a failed gate."""
        return alert_and_fail(self.settings, self.context, self.kind, evaluate_step, self.code_url, self.config_url,
                              message)


def definition(settings: KgqaConfig, kind: str, code_url: str) -> dict[str, Any]:
    """The pipeline definition of ``kind`` (kg, qa or monitor) as a dict (no AWS call)."""
    if kind not in KINDS:
        raise ConfigError(f"pipeline {kind!r}: kg, qa or monitor")
    builder = Builder(settings, kind, code_url)
    parameters, steps = {"kg": _kg_pipeline, "qa": _qa_pipeline, "monitor": _monitor_pipeline}[kind](builder)
    # MlflowConfig null: the SDK v3 writes the key on every pipeline, null when MLflow is not used.
    return {"Version": VERSION, "Metadata": {}, "Parameters": parameters,
            "PipelineExperimentConfig": {"ExperimentName": {"Get": "Execution.PipelineName"},
                                         "TrialName": {"Get": "Execution.PipelineExecutionId"}},
            "MlflowConfig": None, "Steps": steps}


def _monitor_pipeline(builder: Builder) -> tuple[list[Parameter], list[Step]]:
    """One Processing step; the offsets of its window are parameters of the execution."""
    from kgqa_cli.aws.processing import monitor_stage

    settings = builder.settings
    stage = monitor_stage(settings, None, None)
    for number, argument in enumerate(stage.arguments):
        for option, parameter in (("--start-offset=", "StartOffset"), ("--end-offset=", "EndOffset")):
            if isinstance(argument, str) and argument.startswith(option):
                stage.arguments[number] = join("", option, get(f"Parameters.{parameter}"))
    parameters: list[Parameter] = [
        {"Name": "StartOffset", "Type": "String", "DefaultValue": settings.monitor.start_offset},
        {"Name": "EndOffset", "Type": "String", "DefaultValue": settings.monitor.end_offset},
    ]
    return parameters, [builder.processing("Monitor", stage, settings.aws.monitor)]


def _kg_pipeline(builder: Builder) -> tuple[list[Parameter], list[Step]]:
    """Preprocess → TrainKg → EvaluateKg → CheckF1 ? [register, extract, load] : [alert, fail]."""
    from kgqa_cli.aws.processing import ProcessingStage, evaluate_stage, job_path

    settings, context, aws = builder.settings, builder.context, builder.settings.aws
    paths = settings.paths
    raw = workspace_input(settings, settings.preprocess.input, "the raw corpus")
    raw_url = context.url(raw) + ("/" if Path(settings.preprocess.input).is_dir() else "")
    extract_input = workspace_input(settings, settings.kg.extract.input, "the text to extract from")
    parameters: list[Parameter] = [
        {"Name": "RawData", "Type": "String", "DefaultValue": raw_url},
        {"Name": "ExtractInput", "Type": "String", "DefaultValue": context.url(extract_input)},
        {"Name": "MinF1", "Type": "Float", "DefaultValue": settings.kg.evaluate.min_f1},
        builder.approval(),
    ]
    raw_input = paths.raw_dir / "input"
    preprocess = ProcessingStage("preprocess", ["preprocess", paths.relative(raw_input)],
                                 inputs={"raw": get("Parameters.RawData")},
                                 outputs={"corpus": paths.relative(paths.corpus_dir)},
                                 local_paths={"raw": job_path(paths, raw_input)})
    evaluate = evaluate_stage(settings, "kg", get("Steps.TrainKg.ModelArtifacts.S3ModelArtifacts"))
    evaluate.inputs["data"] = output("Preprocess", "corpus")
    evaluate.local_paths["data"] = job_path(paths, paths.corpus_dir)
    steps = [
        builder.processing("Preprocess", preprocess, aws.preprocess),
        training_step("TrainKg", settings, context, "kg", builder.code_url, output("Preprocess", "corpus")),
        builder.processing("EvaluateKg", evaluate, aws.evaluate, "evaluation.json"),
        {"Name": "CheckF1", "Type": "Condition", "Arguments": {
            "Conditions": [{"Type": "GreaterThanOrEqualTo", "LeftValue": json_get("EvaluateKg", "f1"),
                            "RightValue": get("Parameters.MinF1")}],
            "IfSteps": _kg_passed(builder),
            "ElseSteps": builder.alert_and_fail("EvaluateKg", join(" ", "kg F1 below the gate MinF1 =",
                                                                     get("Parameters.MinF1"))),
        }},
    ]
    return parameters, steps


def _kg_passed(builder: Builder) -> list[Step]:
    """What follows a kg model that passed its gate: register it, extract the triples of
    ``ExtractInput`` with it (Batch Transform) and load them into Neptune."""
    from kgqa_cli.aws.processing import ProcessingStage, job_path

    settings, context, aws = builder.settings, builder.context, builder.settings.aws
    paths = settings.paths
    graph = paths.relative(paths.graph_dir)
    neptune_create = ProcessingStage("neptune-create", ["neptune-create"], outputs={"graph": graph})
    neptune_load = ProcessingStage(
        "neptune-load", ["neptune-load"],
        inputs={"transform": get("Steps.Extract.TransformOutput.S3OutputPath"),
                "neptune": output("RetrieveOrCreateNeptuneDB", "graph")},
        local_paths={"transform": job_path(paths, paths.transform_dir),
                     "neptune": job_path(paths, paths.graph_dir)})
    load_step = builder.processing("NeptuneBulkload", neptune_load, aws.evaluate)
    if aws.neptune.job_subnet_ids:
        # The loader answers inside the cluster's VPC only. Network isolation stays off, said
        # outright as the SageMaker SDK's NetworkConfig says it: the job calls the loader.
        load_step["Arguments"]["NetworkConfig"] = {"EnableNetworkIsolation": False, "VpcConfig": {
            "Subnets": aws.neptune.job_subnet_ids, "SecurityGroupIds": aws.neptune.security_group_ids}}
    return [
        register_step(settings, context, "kg", "TrainKg", "EvaluateKg"),
        model_step("CreateKgModel", settings, context, "kg", "TrainKg"),
        {"Name": "Extract", "Type": "Transform", "Arguments": _extract_transform(builder)},
        # The original's order: Transform -> RetrieveOrCreateNeptuneDB -> NeptuneBulkload.
        {**builder.processing("RetrieveOrCreateNeptuneDB", neptune_create, aws.evaluate), "DependsOn": ["Extract"]},
        load_step,
    ]


def _extract_transform(builder: Builder) -> dict[str, Any]:
    """The Extract step's Batch Transform request: the CreateKgModel step's model on the
    ``ExtractInput`` parameter, into one output folder per execution."""
    from kgqa_cli.aws.models import transform_request

    context, paths = builder.context, builder.settings.paths
    # One output folder per execution: the graph load reads this run's triples only.
    transform = transform_request(context, "pipeline", "model", "input", join(
        "/", context.url(paths.relative(paths.transform_dir)), get("Execution.PipelineExecutionId")))
    for key in ("TransformJobName", "Tags"):
        transform.pop(key)
    transform["ModelName"] = get("Steps.CreateKgModel.ModelName")
    transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] = get("Parameters.ExtractInput")
    transform["TransformInput"]["ContentType"] = "text/plain"  # plain lines; JSON lines are read too
    return transform


def qa_inputs(settings: KgqaConfig) -> dict[str, str]:
    """The input channels of the qa pipeline's Questions step and the workspace paths they read:
    the corpus, and the graph and the labelled feedback where there are."""
    paths = settings.paths
    inputs = {"corpus": paths.relative(paths.corpus_dir)}
    if (paths.graph_dir / "kgqa.db").exists() and settings.graph.path is None:
        inputs["graph"] = paths.relative(paths.graph_dir)
    if paths.feedback_file.exists():
        inputs["feedback"] = paths.relative(paths.feedback_dir)
    return inputs


def _qa_pipeline(builder: Builder) -> tuple[list[Parameter], list[Step]]:
    """Questions → TrainQa → EvaluateQa → CheckQaGates ? [model, register] : [alert, fail]."""
    from kgqa_cli.aws.processing import ProcessingStage, evaluate_stage, job_path

    settings, context, aws = builder.settings, builder.context, builder.settings.aws
    paths = settings.paths
    gates = settings.qa.gates
    parameters: list[Parameter] = [
        {"Name": "MinIntentAccuracy", "Type": "Float", "DefaultValue": gates.min_intent_accuracy},
        {"Name": "MinSlotF1", "Type": "Float", "DefaultValue": gates.min_slot_f1},
        builder.approval(),
    ]
    questions = ProcessingStage("questions", ["questions"], inputs=dict(qa_inputs(settings)),
                                outputs={"questions": paths.relative(paths.questions_dir)})
    evaluate = evaluate_stage(settings, "qa", get("Steps.TrainQa.ModelArtifacts.S3ModelArtifacts"))
    evaluate.inputs["data"] = output("Questions", "questions")
    evaluate.local_paths["data"] = job_path(paths, paths.questions_dir)
    steps = [
        builder.processing("Questions", questions, aws.preprocess),
        training_step("TrainQa", settings, context, "qa", builder.code_url, output("Questions", "questions")),
        builder.processing("EvaluateQa", evaluate, aws.evaluate, "evaluation.json"),
        {"Name": "CheckQaGates", "Type": "Condition", "Arguments": {
            "Conditions": [
                {"Type": "GreaterThanOrEqualTo", "LeftValue": json_get("EvaluateQa", "intent_accuracy"),
                 "RightValue": get("Parameters.MinIntentAccuracy")},
                {"Type": "GreaterThanOrEqualTo", "LeftValue": json_get("EvaluateQa", "slot_f1"),
                 "RightValue": get("Parameters.MinSlotF1")},
            ],
            "IfSteps": [
                model_step("CreateQaModel", settings, context, "qa", "TrainQa"),
                register_step(settings, context, "qa", "TrainQa", "EvaluateQa"),
            ],
            "ElseSteps": builder.alert_and_fail("EvaluateQa", join(
                " ", "qa gates failed: MinIntentAccuracy =", get("Parameters.MinIntentAccuracy"), "MinSlotF1 =",
                get("Parameters.MinSlotF1"))),
        }},
    ]
    return parameters, steps


def step_names(document: dict[str, Any]) -> list[str]:
    """Every step's name, the condition's branches included, in order."""
    names = []
    for step in document["Steps"]:
        names.append(step["Name"])
        if step["Type"] == "Condition":
            names += [s["Name"] for s in step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]]
    return names


def layout(document: dict[str, Any]) -> str:
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
