"""The pipeline definitions of `kgqa pipeline build` against the SageMaker Python SDK v3's.

kgqa writes its definitions by hand (:mod:`kgqa_cli.aws.pipelines`). Here the same three pipelines
(kg, qa, monitor) are built from the same settings with ``sagemaker.mlops.workflow`` (SDK steps,
SDK parameters, SDK ``PropertyFile``/``JsonGet``, SDK conditions) and the two definitions must be
equal step by step: names, types, DependsOn, Arguments, PropertyFiles, conditions, parameters.

Each pipeline is checked on the default config and on the variants that change its requests (a
bulk load in a VPC, an encoder on S3, a workspace with a graph and feedback, qa models in the
registry). Every SDK step comes from the SDK's high-level objects; none is a raw request dict:

- Processing: ``sagemaker.core.processing.Processor(entrypoint=...).run(inputs, outputs, arguments)``.
  The base ``Processor`` rather than ``ScriptProcessor``/``FrameworkProcessor``: kgqa's code is an
  ``s3://`` archive unpacked by a launcher in the entrypoint, and those two upload a local script
  (and put a timestamp into its S3 prefix).
- Training: ``sagemaker.train.ModelTrainer`` without ``source_code``: the source travels as the
  script-mode hyperparameters ``sagemaker_program``/``sagemaker_submit_directory`` of the
  PyTorch image, and ``source_code`` would upload a local folder and replace the entrypoint with
  the SDK's own drivers.
- Model and RegisterModel: ``ModelStep`` over ``sagemaker.serve.ModelBuilder.build()`` and
  ``.register()``.
- Transform: ``sagemaker.core.transformer.Transformer.transform()``.
- Condition and Fail: ``ConditionStep`` with ``ConditionGreaterThanOrEqualTo(JsonGet(...), param)``,
  ``FailStep`` with a ``Join``.

Nothing is normalised: with a region set, ``SAGEMAKER_VALIDATE_ROLE=false``, an explicit output
path for the trainer and no local code, the SDK's definition carries no timestamp and no
generated name (it drops the job, model and package names it generates from the definition), so
the two are compared as they are.

``ModelBuilder.register()`` checks that the session's default bucket exists (and would create
it), so the SDK talks to the session's moto server; nothing else calls AWS.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
from helpers.system import require


def _sdk_installed() -> bool:
    try:  # without importing sagemaker.mlops, which wants a region
        return importlib.util.find_spec("sagemaker.mlops") is not None
    except (ImportError, ValueError):
        return False


@pytest.fixture
def sagemaker_sdk() -> None:
    """The SDK the equivalence tests build with: skipped without it, failed without it in CI."""
    require(_sdk_installed(), "the SageMaker Python SDK v3",
            "it comes with the aws extra: pip install -e '.[aws]'; `make test` installs it")


requires_sdk = pytest.mark.usefixtures("sagemaker_sdk")

ROLE = "arn:aws:iam::123456789012:role/kgqa-sagemaker"
TOPIC = "arn:aws:sns:us-east-1:123456789012:kgqa-alerts"
BUCKET = "kgqa-sdk-equivalence"
CODE = f"s3://{BUCKET}/kgqa/code/0123456789abcdef/sourcedir.tar.gz"


@pytest.fixture
def sdk(moto_server, tmp_path, monkeypatch, request):
    """Settings for a workspace whose inputs exist (plus the test's overrides, when parametrised),
    and an SDK ``PipelineSession`` for them."""
    for key, value in moto_server.items():
        monkeypatch.setenv(key, value)
    # Without this the SDK looks the role up in IAM (sagemaker.core.helper.iam_role_resolver).
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")
    # An empty defaults file in place of any on this machine (/etc/xdg/sagemaker, ~/.config/sagemaker),
    # whose tags, KMS keys or subnets would enter the SDK's requests. Empty, too, because the SDK
    # validates a non-empty one against its JSON schema at every lookup (0.3 s each, ~25 s a pipeline).
    (tmp_path / "sagemaker.yaml").write_text("{}\n")
    monkeypatch.setenv("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", str(tmp_path / "sagemaker.yaml"))
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(tmp_path / "sagemaker.yaml"))
    import boto3
    import sagemaker.core.telemetry.telemetry_logging as telemetry

    # The SDK reports each call to an S3 URL of its own from a background thread; not from a test.
    monkeypatch.setattr(telemetry, "_send_telemetry_request", lambda *args, **kwargs: None)

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    from kgqa_cli.aws.pipeline_steps import PlanContext
    from kgqa_cli.settings import load_settings

    variant = getattr(request, "param", {})
    workspace = tmp_path / "ws"
    raw = workspace / "data" / "raw" / "films"
    raw.mkdir(parents=True)
    (raw / "train.json").write_text('{"text": "三度诱惑"}\n', encoding="utf-8")
    for relative in variant.get("files", []):  # what the pipeline reads only when it is there
        (workspace / relative).parent.mkdir(parents=True, exist_ok=True)
        (workspace / relative).write_text("{}\n")
    settings = load_settings(None, {
        "workspace": str(workspace), "aws.bucket": BUCKET, "aws.role_arn": ROLE, "aws.sns_topic_arn": TOPIC,
        "aws.region": moto_server["AWS_DEFAULT_REGION"], "preprocess.input": str(raw),
        "kg.extract.input": str(raw / "train.json"), "kg.evaluate.min_f1": 0.55, **variant.get("overrides", {})})
    context = PlanContext(settings)
    session = PipelineSession(boto_session=boto3.Session(region_name=context.region), default_bucket=BUCKET)
    return Sdk(settings, context, session)


class Sdk:
    """Builds SDK steps for one settings: images, URLs and resources as kgqa takes them from the config."""

    def __init__(self, settings, context, session) -> None:
        self.settings, self.context, self.session = settings, context, session
        self.aws = settings.aws

    def url(self, relative: str) -> str:
        return self.context.url(relative)

    def processing(self, name, kind, arguments, inputs, outputs, resources, network=None, **step):
        """A ProcessingStep running kgqa's launcher on the PyTorch image: the code archive and
        the pipeline's config are its first two inputs, as in every kgqa Processing job."""
        from sagemaker.core.processing import Processor
        from sagemaker.core.shapes import (
            ProcessingInput,
            ProcessingOutput,
            ProcessingS3Input,
            ProcessingS3Output,
        )
        from sagemaker.mlops.workflow import ProcessingStep

        from kgqa_cli.aws.processing import LAUNCHER, ROOT

        processor = Processor(
            role=ROLE, image_uri=self.context.image("pytorch-training", resources.instance_type, resources.image),
            instance_count=resources.instance_count, instance_type=resources.instance_type,
            entrypoint=["/bin/bash", "-c", LAUNCHER, "kgqa"], volume_size_in_gb=resources.volume_gb,
            max_runtime_in_seconds=resources.max_runtime_seconds, env={"PYTHONUNBUFFERED": "1"},
            network_config=network, sagemaker_session=self.session)
        channels = [("code", CODE, f"{ROOT}/input/code"),
                    ("config", self.url(f"pipelines/{kind}/config/"), f"{ROOT}/input/config"), *inputs]
        step_args = processor.run(
            inputs=[ProcessingInput(input_name=channel, s3_input=ProcessingS3Input(
                s3_uri=uri, local_path=local, s3_data_type="S3Prefix", s3_input_mode="File",
                s3_data_distribution_type="FullyReplicated")) for channel, uri, local in channels],
            outputs=[ProcessingOutput(output_name=channel, s3_output=ProcessingS3Output(
                s3_uri=uri, local_path=local, s3_upload_mode="EndOfJob")) for channel, uri, local in outputs],
            arguments=["--region", self.context.region, *arguments])
        return ProcessingStep(name=name, step_args=step_args, **step)

    def training(self, name, kind, channel):
        """A TrainingStep of kgqa's entry script in script mode (the source is an s3:// archive);
        an encoder given as an s3:// prefix is a second channel, ``pretrained``."""
        from sagemaker.core.training.configs import (
            Compute,
            InputData,
            MetricDefinition,
            OutputDataConfig,
            StoppingCondition,
        )
        from sagemaker.mlops.workflow import TrainingStep
        from sagemaker.train import ModelTrainer

        from kgqa_cli.aws.source import METRIC_DEFINITIONS

        training = self.aws.training
        trainer = ModelTrainer(
            training_image=self.context.image("pytorch-training", training.instance_type, training.image),
            training_input_mode="File", role=ROLE, sagemaker_session=self.session,
            compute=Compute(instance_type=training.instance_type, instance_count=training.instance_count,
                            volume_size_in_gb=training.volume_gb),
            stopping_condition=StoppingCondition(max_runtime_in_seconds=training.max_runtime_seconds),
            hyperparameters={
                "kind": kind,
                "kgqa_config": json.dumps(getattr(self.settings, kind).model_dump(mode="json"), ensure_ascii=False),
                "sagemaker_program": "kgqa_train.py", "sagemaker_submit_directory": CODE,
                "sagemaker_region": self.context.region},
            # An explicit output path: the SDK's default has the job's generated name in it.
            output_data_config=OutputDataConfig(s3_output_path=self.url(f"jobs/{kind}/")),
        ).with_metric_definitions([MetricDefinition(name=m["Name"], regex=m["Regex"])
                                   for m in METRIC_DEFINITIONS[kind]])
        model = getattr(self.settings, kind).model
        channels = [InputData(channel_name="train", data_source=channel)]
        if model.encoder == "pretrained" and model.pretrained.startswith("s3://"):
            channels.append(InputData(channel_name="pretrained", data_source=model.pretrained.rstrip("/") + "/"))
        return TrainingStep(name=name, step_args=trainer.train(input_data_config=channels))

    def _model_builder(self, kind, train):
        from sagemaker.serve.model_builder import ModelBuilder

        from kgqa_cli.aws.models import SERVING_ENVIRONMENT

        where = self.aws.transform if kind == "kg" else self.aws.endpoint
        environment = {**SERVING_ENVIRONMENT, "KGQA_MODEL_KIND": kind}
        if kind == "qa":
            environment["KGQA_ANSWER"] = "understand"
        return ModelBuilder(image_uri=self.context.image("pytorch-inference", where.instance_type, where.image),
                            s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts, role_arn=ROLE,
                            env_vars=environment, sagemaker_session=self.session)

    def create_model(self, name, kind, train):
        from sagemaker.mlops.workflow import ModelStep

        return ModelStep(name=name, step_args=self._model_builder(kind, train).build())

    def register(self, name, kind, train, evaluate, approval):
        from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
        from sagemaker.core.workflow.functions import Join
        from sagemaker.mlops.workflow import ModelStep

        report = evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri
        return ModelStep(name=name, step_args=self._model_builder(kind, train).register(
            model_package_group_name=f"{self.aws.package_group_prefix}-{kind}",
            content_types=["application/json", "text/plain", "application/jsonlines"],
            response_types=["application/json", "application/jsonlines"], approval_status=approval,
            model_metrics=ModelMetrics(model_statistics=MetricsSource(
                content_type="application/json", s3_uri=Join(on="/", values=[report, "evaluation.json"]))),
            customer_metadata_properties={"kgqa_pipeline": f"{self.aws.package_group_prefix}-{kind}"}))

    def alert_and_fail(self, kind, evaluate, message):
        """The else branch: an SNS alert (a Processing step, the topic is set) and a Fail step."""
        from sagemaker.mlops.workflow import FailStep

        from kgqa_cli.aws.processing import ROOT

        report = evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri
        alert = self.processing(
            f"Alert{kind.title()}", kind,
            ["alert", "--topic", TOPIC, "--subject", f"kgqa: the {kind} model failed its quality gate",
             "--report", "evaluation.json"],
            [("report", report, f"{ROOT}/input/report")], [], self.aws.evaluate)
        return [alert, FailStep(name=f"Fail{kind.title()}", error_message=message, depends_on=[alert.name])]

    def pipeline(self, kind, parameters, steps) -> dict:
        from sagemaker.mlops.workflow import Pipeline

        return json.loads(Pipeline(name=f"{self.aws.package_group_prefix}-{kind}", parameters=parameters,
                                   steps=steps, sagemaker_session=self.session).definition())


def evaluation_file():
    from sagemaker.core.workflow.properties import PropertyFile

    return PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")


def approval_parameter(approve: bool):
    from sagemaker.core.workflow.parameters import ParameterString

    return ParameterString(name="ModelApprovalStatus", default_value="Approved" if approve else "PendingManualApproval")


def sdk_kg(sdk: Sdk) -> dict:
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.transformer import Transformer
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.mlops.workflow import ConditionStep, TransformStep

    from kgqa_cli.aws.processing import ROOT, WORKSPACE

    settings, aws = sdk.settings, sdk.aws
    raw = ParameterString(name="RawData", default_value=sdk.url("data/raw/films/"))
    extract_input = ParameterString(name="ExtractInput", default_value=sdk.url("data/raw/films/train.json"))
    min_f1 = ParameterFloat(name="MinF1", default_value=settings.kg.evaluate.min_f1)
    approval = approval_parameter(settings.kg.evaluate.approve_on_pass)
    execution = ExecutionVariables.PIPELINE_EXECUTION_ID

    preprocess = sdk.processing("Preprocess", "kg", ["preprocess", "data/raw/input"],
                                [("raw", raw, f"{WORKSPACE}/data/raw/input")],
                                [("corpus", sdk.url("data/corpus"), f"{WORKSPACE}/data/corpus")], aws.preprocess)
    corpus = preprocess.properties.ProcessingOutputConfig.Outputs["corpus"].S3Output.S3Uri
    train = sdk.training("TrainKg", "kg", corpus)
    report = evaluation_file()
    evaluate = sdk.processing(
        "EvaluateKg", "kg", ["evaluate", "kg"],
        [("model", train.properties.ModelArtifacts.S3ModelArtifacts, f"{ROOT}/input/model"),
         ("data", corpus, f"{WORKSPACE}/data/corpus")],
        # One folder per execution.
        [("evaluation", Join(on="", values=[sdk.url("evaluation/kg/"), execution]), f"{WORKSPACE}/evaluation/kg")],
        aws.evaluate, property_files=[report])
    register = sdk.register("RegisterKg", "kg", train, evaluate, approval)
    model = sdk.create_model("CreateKgModel", "kg", train)
    transform = aws.transform
    transformer = Transformer(
        model_name=model.properties.ModelName, instance_count=transform.instance_count,
        instance_type=transform.instance_type, strategy="MultiRecord", assemble_with="Line",
        output_path=Join(on="/", values=[sdk.url("extract/transform"), execution]), accept="application/jsonlines",
        max_concurrent_transforms=transform.max_concurrent_transforms, max_payload=transform.max_payload_mb,
        sagemaker_session=sdk.session)
    extract = TransformStep(name="Extract", step_args=transformer.transform(
        data=extract_input, data_type="S3Prefix", content_type="text/plain", compression_type="None",
        split_type="Line", join_source="None"))
    create_graph = sdk.processing("RetrieveOrCreateNeptuneDB", "kg", ["neptune-create"], [],
                                  [("graph", sdk.url("graph"), f"{WORKSPACE}/graph")], aws.evaluate,
                                  depends_on=[extract.name])
    load_graph = sdk.processing(
        "NeptuneBulkload", "kg", ["neptune-load"],
        [("transform", extract.properties.TransformOutput.S3OutputPath, f"{WORKSPACE}/extract/transform"),
         ("neptune", create_graph.properties.ProcessingOutputConfig.Outputs["graph"].S3Output.S3Uri,
          f"{WORKSPACE}/graph")], [], aws.evaluate,
        # In the cluster's VPC when its subnets are configured: the loader answers only there.
        network=NetworkConfig(subnets=aws.neptune.job_subnet_ids, security_group_ids=aws.neptune.security_group_ids)
        if aws.neptune.job_subnet_ids else None)
    check = ConditionStep(
        name="CheckF1",
        conditions=[ConditionGreaterThanOrEqualTo(
            left=JsonGet(step_name=evaluate.name, property_file=report, json_path="f1"), right=min_f1)],
        if_steps=[register, model, extract, create_graph, load_graph],
        else_steps=sdk.alert_and_fail("kg", evaluate, Join(on=" ", values=["kg F1 below the gate MinF1 =", min_f1])))
    return sdk.pipeline("kg", [raw, extract_input, min_f1, approval], [preprocess, train, evaluate, check])


def sdk_qa(sdk: Sdk) -> dict:
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat
    from sagemaker.mlops.workflow import ConditionStep

    from kgqa_cli.aws.processing import ROOT, WORKSPACE

    settings, aws = sdk.settings, sdk.aws
    gates = settings.qa.gates
    min_intent = ParameterFloat(name="MinIntentAccuracy", default_value=gates.min_intent_accuracy)
    min_slot = ParameterFloat(name="MinSlotF1", default_value=gates.min_slot_f1)
    approval = approval_parameter(gates.approve_on_pass)
    # The questions come from the corpus, and from the graph and the feedback when the workspace has them.
    inputs = [("corpus", sdk.url("data/corpus") + "/", f"{WORKSPACE}/data/corpus")]
    if (settings.paths.graph_dir / "kgqa.db").exists():
        inputs.append(("graph", sdk.url("graph") + "/", f"{WORKSPACE}/graph"))
    if settings.paths.feedback_file.exists():
        inputs.append(("feedback", sdk.url("data/feedback") + "/", f"{WORKSPACE}/data/feedback"))
    questions = sdk.processing("Questions", "qa", ["questions"], inputs,
                               [("questions", sdk.url("data/questions"), f"{WORKSPACE}/data/questions")],
                               aws.preprocess)
    data = questions.properties.ProcessingOutputConfig.Outputs["questions"].S3Output.S3Uri
    train = sdk.training("TrainQa", "qa", data)
    report = evaluation_file()
    evaluate = sdk.processing(
        "EvaluateQa", "qa", ["evaluate", "qa"],
        [("model", train.properties.ModelArtifacts.S3ModelArtifacts, f"{ROOT}/input/model"),
         ("data", data, f"{WORKSPACE}/data/questions")],
        [("evaluation", Join(on="", values=[sdk.url("evaluation/qa/"), ExecutionVariables.PIPELINE_EXECUTION_ID]),
          f"{WORKSPACE}/evaluation/qa")],
        aws.evaluate, property_files=[report])
    check = ConditionStep(
        name="CheckQaGates",
        conditions=[
            ConditionGreaterThanOrEqualTo(left=JsonGet(step_name=evaluate.name, property_file=report,
                                                       json_path="intent_accuracy"), right=min_intent),
            ConditionGreaterThanOrEqualTo(left=JsonGet(step_name=evaluate.name, property_file=report,
                                                       json_path="slot_f1"), right=min_slot)],
        if_steps=[sdk.create_model("CreateQaModel", "qa", train),
                  sdk.register("RegisterQa", "qa", train, evaluate, approval)],
        else_steps=sdk.alert_and_fail("qa", evaluate, Join(on=" ", values=[
            "qa gates failed: MinIntentAccuracy =", min_intent, "MinSlotF1 =", min_slot])))
    return sdk.pipeline("qa", [min_intent, min_slot, approval], [questions, train, evaluate, check])


def sdk_monitor(sdk: Sdk) -> dict:
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterString

    from kgqa_cli.aws.processing import WORKSPACE

    settings, aws = sdk.settings, sdk.aws
    start = ParameterString(name="StartOffset", default_value=settings.monitor.start_offset)
    end = ParameterString(name="EndOffset", default_value=settings.monitor.end_offset)
    endpoint = aws.endpoint
    monitor = sdk.processing(
        "Monitor", "monitor",
        ["monitor", Join(on="", values=["--start-offset=", start]), Join(on="", values=["--end-offset=", end]),
         f"--endpoint={endpoint.name}", f"--variant={endpoint.variant_name}", f"--topic={TOPIC}"],
        [(channel, sdk.url(path) + "/", f"{WORKSPACE}/{path}") for channel, path in (
            ("capture", f"datacapture/{endpoint.name}"), ("groundtruth", "groundtruth"),
            ("baseline", "monitoring/baseline"),
            # The served model's vocabulary, for the drift figures, when the registry has qa models.
            *([("models", "registry/qa")] if (settings.paths.registry_dir / "qa").is_dir() else []))],
        [("runs", Join(on="", values=[sdk.url("monitoring/sagemaker/"), ExecutionVariables.PIPELINE_EXECUTION_ID]),
          f"{WORKSPACE}/monitoring/runs")],
        aws.monitor)
    return sdk.pipeline("monitor", [start, end], [monitor])


def flat_steps(document: dict) -> dict[str, dict]:
    """Every step by name, the condition's branches included (the condition without them)."""
    found = {}
    for step in document["Steps"]:
        if step["Type"] == "Condition":
            arguments = step["Arguments"]
            found[step["Name"]] = {**step, "Arguments": {
                **{k: v for k, v in arguments.items() if k not in ("IfSteps", "ElseSteps")},
                "IfSteps": [s["Name"] for s in arguments["IfSteps"]],
                "ElseSteps": [s["Name"] for s in arguments["ElseSteps"]]}}
            found.update(flat_steps({"Steps": arguments["IfSteps"] + arguments["ElseSteps"]}))
        else:
            found[step["Name"]] = step
    return found


def assert_equivalent(ours: dict, theirs: dict) -> None:
    """Step by step first, for a message that names the step and the field; then the whole."""
    assert {k: v for k, v in ours.items() if k != "Steps"} == {k: v for k, v in theirs.items() if k != "Steps"}
    assert [s["Name"] for s in ours["Steps"]] == [s["Name"] for s in theirs["Steps"]]
    our_steps, their_steps = flat_steps(ours), flat_steps(theirs)
    assert list(our_steps) == list(their_steps)
    for name, step in our_steps.items():
        other = their_steps[name]
        assert (step["Type"], step.get("DependsOn")) == (other["Type"], other.get("DependsOn")), name
        assert step.get("PropertyFiles") == other.get("PropertyFiles"), name
        for field in sorted(set(step["Arguments"]) | set(other["Arguments"])):
            assert step["Arguments"].get(field) == other["Arguments"].get(field), f"{name}: Arguments.{field}"
        assert step == other, name
    assert ours == theirs


def ours(sdk: Sdk, kind: str) -> dict:
    from kgqa_cli.aws.pipeline_definitions import definition

    # Through JSON, as `kgqa pipeline build` writes it.
    return json.loads(json.dumps(definition(sdk.settings, kind, CODE), ensure_ascii=False))


@requires_sdk
@pytest.mark.parametrize("sdk", [
    {},
    {"overrides": {"aws.neptune.job_subnet_ids": ["subnet-0a1b"], "aws.neptune.security_group_ids": ["sg-0c2d"]}},
    {"overrides": {"kg.model.encoder": "pretrained", "kg.model.pretrained": f"s3://{BUCKET}/encoders/bert"}},
], ids=["default", "neptune-in-a-vpc", "s3-encoder"], indirect=True)
def test_kg_pipeline_equals_the_sdks(sdk):
    theirs = sdk_kg(sdk)
    assert_equivalent(ours(sdk, "kg"), theirs)
    # Each variant did reach the definition.
    channels = [c["ChannelName"] for c in flat_steps(theirs)["TrainKg"]["Arguments"]["InputDataConfig"]]
    assert channels == (["train", "pretrained"] if sdk.settings.kg.model.encoder == "pretrained" else ["train"])
    # The shapes the SDK writes for the gate, spelled out.
    check = flat_steps(theirs)["CheckF1"]["Arguments"]["Conditions"][0]
    assert check["LeftValue"] == {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.EvaluateKg.PropertyFiles.Evaluation"},
                                                  "Path": "f1"}}
    assert check["RightValue"] == {"Get": "Parameters.MinF1"}
    subnets = sdk.aws.neptune.job_subnet_ids
    network = flat_steps(theirs)["NeptuneBulkload"]["Arguments"].get("NetworkConfig")
    assert network == ({"EnableNetworkIsolation": False, "VpcConfig": {"Subnets": subnets,
                                                                       "SecurityGroupIds": ["sg-0c2d"]}}
                       if subnets else None)


@requires_sdk
@pytest.mark.parametrize("sdk", [{}, {"files": ["graph/kgqa.db", "data/feedback/feedback.jsonl"]}],
                         ids=["corpus-only", "graph-and-feedback"], indirect=True)
def test_qa_pipeline_equals_the_sdks(sdk):
    theirs = sdk_qa(sdk)
    assert_equivalent(ours(sdk, "qa"), theirs)
    inputs = [i["InputName"] for i in flat_steps(theirs)["Questions"]["Arguments"]["ProcessingInputs"]]
    assert inputs == ["code", "config", "corpus", *(["graph", "feedback"] if sdk.settings.paths.graph_dir.is_dir() else [])]


@requires_sdk
@pytest.mark.parametrize("sdk", [{}, {"files": ["registry/qa/v1/model.safetensors"]}],
                         ids=["default", "with-qa-models"], indirect=True)
def test_monitor_pipeline_equals_the_sdks(sdk):
    theirs = sdk_monitor(sdk)
    assert_equivalent(ours(sdk, "monitor"), theirs)
    inputs = [i["InputName"] for i in theirs["Steps"][0]["Arguments"]["ProcessingInputs"]]
    assert inputs[-1] == ("models" if sdk.settings.paths.registry_dir.is_dir() else "baseline")


def test_build_does_not_import_the_sdk(tmp_path):
    """`kgqa pipeline build` stays free of the SDK (~3 s and ~250 MB to import); `kgqa --help` is
    held to it by tests/test_cli.py."""
    import os
    import subprocess
    import sys

    raw = tmp_path / "ws" / "data" / "raw" / "films"
    raw.mkdir(parents=True)
    (raw / "train.json").write_text("{}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "kgqa_cli.cli.main", "pipeline", "build", "kg",
                           "--workspace", str(tmp_path / "ws"), "--aws.bucket", BUCKET, "--aws.role_arn", ROLE,
                           "--preprocess.input", str(raw), "--kg.extract.input", str(raw / "train.json")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line]
    assert "kgqa_cli.aws.pipelines" in imported  # -X importtime did list the imports
    assert not [m for m in imported if m == "sagemaker" or m.startswith("sagemaker.")]
