"""`kgqa preprocess|evaluate|monitor run --target sagemaker`: SageMaker Processing jobs (boto3).

boto3's ``create_processing_job`` rather than the SDK's ``FrameworkProcessor``: we set every field
ourselves, and the same request, less its name, is the Processing step of the pipelines
(:mod:`kgqa_cli.aws.pipelines`), so a job run by hand and a pipeline step run the same thing.

Each job runs SageMaker's PyTorch image (``aws.<stage>.image`` or the DLC of
``aws.framework_version``). Its inputs are workspace prefixes mounted at the same relative paths
under ``/opt/ml/processing/workspace``, so the workspace maps one to one onto S3 and onto the
container; its outputs go back to the same prefixes. The source archive of `kgqa train
--target sagemaker` and the effective config are two more inputs; a short launcher unpacks the
source, installs the pinned requirements and runs :mod:`kgqa_cli.entrypoints.processing`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.errors import CloudError, ConfigError, MissingArtifactError

if TYPE_CHECKING:
    from datetime import datetime

    from kgqa_cli.aws.config import JobConfig
    from kgqa_cli.aws.jobs import AwsContext, AwsPlan, OnLog, OnStatus
    from kgqa_cli.aws.pipeline_steps import Expression
    from kgqa_cli.aws.registry import SageMakerRegistry
    from kgqa_cli.settings import KgqaConfig
    from kgqa_cli.workspace import Workspace

ROOT = "/opt/ml/processing"
WORKSPACE = f"{ROOT}/workspace"
# Unpack the source out of the (read-only for some images) input folder, install the pinned
# requirements (torch comes with the image), then hand over to plain kgqa code. One
# ContainerEntrypoint item may hold 256 characters at most.
LAUNCHER = ("set -e;mkdir -p /tmp/c;tar -xzf /opt/ml/processing/input/code/sourcedir.tar.gz -C /tmp/c;"
            "pip install -q -r /tmp/c/requirements.txt;"
            "PYTHONPATH=/tmp/c exec python -m kgqa_cli.entrypoints.processing \"$@\"")
MAX_ARGUMENT = 256


@dataclass
class ProcessingStage:
    """What one Processing job reads, writes and runs. ``inputs`` and ``outputs`` map a channel
    name to a workspace-relative path (or, for inputs, an ``s3://`` URL or a pipeline property)."""

    stage: str
    arguments: list[Any]  # strings, or in a pipeline also expressions the service evaluates
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    local_paths: dict[str, str] = field(default_factory=dict)  # channel -> container path, when not the workspace's
    upload: list[str] = field(default_factory=list)  # workspace paths synced up before the job
    files: set[str] = field(default_factory=set)  # input channels that are one file, not a folder
    output_local: dict[str, str] = field(default_factory=dict)  # output -> workspace path written in the job


def job_path(paths: Workspace, path: Path) -> str:
    """Where a workspace path is in a Processing job: the same relative path under its workspace."""
    return f"{WORKSPACE}/{paths.relative(path)}"


def _s3_input(name: str, uri: str | Expression, local_path: str) -> dict[str, Any]:
    # S3CompressionType is the service's default, written out as the SageMaker SDK writes it.
    return {"InputName": name, "S3Input": {"S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix",
                                           "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated",
                                           "S3CompressionType": "None"}}


def _output_uri(context: AwsPlan, path: str, job: str | Expression) -> str | Expression:
    """``s3://.../<path>``; a ``{job}`` in the path becomes the job's name (or, in a pipeline, the
    execution's id), so that one run's outputs never mix with another's."""
    if "{job}" not in path:
        return context.url(path)
    before, _, after = context.url(path).partition("{job}")
    if isinstance(job, str):
        return before + job + after
    # No empty last part: the same two values a SageMaker SDK Join of prefix and execution id writes.
    return {"Std:Join": {"On": "", "Values": [before, job, after] if after else [before, job]}}


def processing_request(context: AwsPlan, stage: ProcessingStage, resources: JobConfig, code_url: str | Expression,
                       config_url: str | Expression, job: str | Expression = "") -> dict[str, Any]:
    """The ``create_processing_job`` request of a stage, without ``ProcessingJobName``."""
    inputs = [_s3_input("code", code_url, f"{ROOT}/input/code"), _s3_input("config", config_url, f"{ROOT}/input/config")]
    for name, where in stage.inputs.items():
        if not isinstance(where, str) or where.startswith("s3://"):
            inputs.append(_s3_input(name, where, stage.local_paths[name]))
        elif name in stage.files:  # the object itself, into its folder (the key is the file's whole path)
            inputs.append(_s3_input(name, context.url(where), f"{WORKSPACE}/{where.rpartition('/')[0]}"))
        else:  # a folder: the trailing slash keeps data/raw/demo2 out of data/raw/demo
            inputs.append(_s3_input(name, context.url(where) + "/", f"{WORKSPACE}/{where}"))
    outputs = [{"OutputName": name, "S3Output": {"S3Uri": _output_uri(context, path, job),
                                                 "LocalPath": f"{WORKSPACE}/{stage.output_local.get(name) or path.replace('/{job}', '')}",
                                                 "S3UploadMode": "EndOfJob"}}
               for name, path in stage.outputs.items()]
    request: dict[str, Any] = {
        "RoleArn": context.aws.role_arn,
        "AppSpecification": {
            "ImageUri": context.image("pytorch-training", resources.instance_type, resources.image),
            "ContainerEntrypoint": ["/bin/bash", "-c", LAUNCHER, "kgqa"],
            "ContainerArguments": ["--region", context.region, *stage.arguments],
        },
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {"Outputs": outputs},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": resources.instance_count,
                                                  "InstanceType": resources.instance_type,
                                                  "VolumeSizeInGB": resources.volume_gb}},
        "StoppingCondition": {"MaxRuntimeInSeconds": resources.max_runtime_seconds},
        "Environment": {"PYTHONUNBUFFERED": "1"},
    }
    if not outputs:  # a job that writes nothing has no output config (as the SageMaker SDK writes it)
        del request["ProcessingOutputConfig"]
    return request


def run_processing(settings: KgqaConfig, stage: ProcessingStage, resources: JobConfig, *, wait: bool = False,
                   on_status: OnStatus = None, on_log: OnLog = None,
                   context: AwsContext | None = None) -> dict[str, Any]:
    """Upload the stage's inputs, source and config; create the job; with ``wait``, follow it
    and read its outputs back into the workspace."""
    from kgqa_cli.aws.jobs import AwsContext, job_name

    context = context or AwsContext(settings)
    uploaded = context.upload_inputs(stage.upload) if stage.upload else 0
    name = job_name(stage.stage)
    request = processing_request(context, stage, resources, context.upload_source(), context.upload_config(name),
                                 job=name)
    request = {"ProcessingJobName": name, **request, "Tags": context.tags(stage.stage)}
    context.call("create the processing job", context.sagemaker.create_processing_job, **request)
    outputs = request.get("ProcessingOutputConfig", {}).get("Outputs", [])
    result: dict[str, Any] = {
        "job_name": name, "image": request["AppSpecification"]["ImageUri"], "inputs_uploaded": uploaded,
        "inputs": {i["InputName"]: i["S3Input"]["S3Uri"] for i in request["ProcessingInputs"]},
        "outputs": {o["OutputName"]: o["S3Output"]["S3Uri"] for o in outputs}, "status": "InProgress"}
    if wait:
        job = context.follow("processing", name, on_status, on_log)
        result["status"] = job["ProcessingJobStatus"]
        result["outputs_downloaded"] = read_outputs(context, stage, name, since=job.get("CreationTime"))
    return result


def read_outputs(context: AwsContext, stage: ProcessingStage, name: str, since: datetime | None = None) -> int:
    """Download a finished job's outputs into the workspace. An output the job did not write is
    an error: on a per-job path nothing is there; on a shared one (data/corpus) nothing is newer
    than the job (``since``), so an earlier run's files never pass for this job's."""
    from datetime import timedelta

    outputs = [path.replace("{job}", name) for path in stage.outputs.values()]
    if since is not None:
        since = since - timedelta(seconds=1)  # S3 keeps whole seconds
    for path in outputs:
        listed = context.bucket.listing(path)
        fresh = [item for item in listed.values() if since is None or item.get("LastModified") is None
                 or item["LastModified"] >= since]
        if not fresh:
            raise CloudError(f"processing job {name} completed but wrote nothing to {context.url(path)}"
                             + (" (what is there is older than the job)" if listed else ""),
                             hint=f"its log: CloudWatch group /aws/sagemaker/ProcessingJobs, streams {name}/*")
    return context.download_outputs(outputs)


def preprocess_stage(settings: KgqaConfig) -> ProcessingStage:
    """`kgqa preprocess --target sagemaker`: the raw corpus (a workspace path) in, data/corpus out."""
    root = settings.paths.root.resolve()
    source = Path(settings.preprocess.input).resolve()
    try:
        relative = source.relative_to(root).as_posix()
    except ValueError:
        raise ConfigError(f"{settings.preprocess.input}: a SageMaker job reads the workspace's S3 copy, and this "
                          f"input is outside the workspace {settings.paths.root}",
                          hint=f"copy it under {settings.paths.raw_dir} and pass that path") from None
    if not source.exists():
        raise MissingArtifactError(f"{settings.preprocess.input}: no such file or folder")
    arguments = ["preprocess", relative]
    if settings.preprocess.schema_file is not None:
        raise ConfigError("preprocess.schema_file: a SageMaker preprocess finds the schema inside its input",
                          hint="put the schema file in the input folder and set preprocess.schema_file to null")
    corpus = settings.paths.relative(settings.paths.corpus_dir)
    return ProcessingStage("preprocess", arguments, inputs={"raw": relative}, outputs={"corpus": corpus},
                           upload=[relative], files={"raw"} if source.is_file() else set())


def evaluate_stage(settings: KgqaConfig, kind: str, model_url: str | Expression) -> ProcessingStage:
    """`kgqa evaluate kg|qa --target sagemaker`: a model archive and the test data in,
    evaluation/<kind>/evaluation.json out (the gate is applied by the caller)."""
    paths = settings.paths
    data = paths.relative(paths.corpus_dir if kind == "kg" else paths.questions_dir)
    return ProcessingStage(f"evaluate-{kind}", ["evaluate", kind], inputs={"model": model_url, "data": data},
                           outputs={"evaluation": f"{paths.relative(paths.evaluation_dir(kind))}/{{job}}"},
                           local_paths={"model": f"{ROOT}/input/model"}, upload=[data])


def monitor_stage(settings: KgqaConfig, start_offset: str | None, end_offset: str | None) -> ProcessingStage:
    """`kgqa monitor run --target sagemaker`: the endpoint's capture on S3, the ground truth and
    the baseline in; the run's folder out, under monitoring/sagemaker/<job>/."""
    endpoint, paths = settings.aws.endpoint, settings.paths
    capture = paths.relative(paths.datacapture_dir / endpoint.name)
    # --name=value: an offset such as -P8D would read as an option of its own.
    arguments = ["monitor", f"--start-offset={start_offset or settings.monitor.start_offset}",
                 f"--end-offset={end_offset or settings.monitor.end_offset}",
                 f"--endpoint={endpoint.name}", f"--variant={endpoint.variant_name}"]
    if settings.aws.sns_topic_arn:
        arguments.append(f"--topic={settings.aws.sns_topic_arn}")
    groundtruth, baseline = paths.relative(paths.groundtruth_dir), paths.relative(paths.baseline_dir)
    inputs = {"capture": capture, "groundtruth": groundtruth, "baseline": baseline}
    upload = [groundtruth, baseline]
    if (paths.registry_dir / "qa").is_dir():
        models = paths.relative(paths.registry_dir / "qa")
        inputs["models"] = models  # the vocabulary of the served model, for the drift figures
        upload.append(models)
    return ProcessingStage("monitor", arguments, inputs=inputs,
                           outputs={"runs": f"{paths.relative(paths.sagemaker_monitor_dir)}/{{job}}"},
                           output_local={"runs": paths.relative(paths.monitor_runs_dir)}, upload=upload)


def check_prefix_has_objects(context: AwsContext, relative: str, what: str, hint: str) -> None:
    """A Processing input on an empty prefix fails the job after minutes: say so at once."""
    from kgqa_cli.aws import plan

    if not context.bucket.remote_checksums(relative):
        if plan.active() is not None:  # a plan reads nothing: it takes the input as there
            plan.assume(f"{what} under {context.url(relative)}")
            return
        raise MissingArtifactError(f"{context.url(relative)}: no {what}", hint=hint)


def read_json_output(settings: KgqaConfig, relative: str) -> dict[str, Any]:
    """A JSON file the job wrote, as downloaded into the workspace."""
    path = settings.paths.root / relative
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CloudError(f"{path}: the job's output is missing or unreadable: {exc}") from exc


def package_model_url(registry: SageMakerRegistry, kind: str, model: str | None) -> tuple[dict[str, Any], str]:
    """The package row (``kind/vN``, newest when not named) and its model data URL."""
    if model:
        number = model.rsplit("/", 1)[-1].lstrip("v")
        row = registry.find(f"{kind}/v{number}")
    else:
        rows = registry.versions(kind)
        if not rows:
            raise MissingArtifactError(f"no {kind} model in the SageMaker model package group {registry.group(kind)}",
                                       hint=f"run `kgqa train {kind} --target sagemaker --wait` first")
        row = rows[-1]
    package = registry.show(row["name"])
    return row, package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]


def evaluate_on_sagemaker(settings: KgqaConfig, kind: str, model: str | None, *, wait: bool = False,
                          on_status: OnStatus = None, on_log: OnLog = None) -> dict[str, Any]:
    """Evaluate a package of the SageMaker registry in a Processing job; with ``wait``, read the
    report back and apply the gate to the package as locally (a pass approves it when the
    config says so, a failure rejects it). ``result['passed']`` is False below the gate."""
    from kgqa_cli.aws.jobs import AwsContext
    from kgqa_cli.aws.registry import SageMakerRegistry

    context = AwsContext(settings)
    registry = SageMakerRegistry(settings.aws, context.sagemaker)
    row, model_url = package_model_url(registry, kind, model)
    result = run_processing(settings, evaluate_stage(settings, kind, model_url), settings.aws.evaluate,
                            on_status=on_status, on_log=on_log, context=context)
    result["model_package"] = row["arn"]
    result["model_version"] = row["name"]
    if wait:
        context.follow("processing", result["job_name"], on_status, on_log)
        result.update(finish_evaluation(settings, kind, result["job_name"], row["name"], context))
    return result


def finish_evaluation(settings: KgqaConfig, kind: str, job: str, model_version: str,
                      context: AwsContext | None = None) -> dict[str, Any]:
    """Read a finished evaluation job's report back and gate the package as locally: a pass
    approves it when the config says so, a failure rejects it."""
    from kgqa_cli.aws.jobs import AwsContext
    from kgqa_cli.aws.registry import SageMakerRegistry

    context = context or AwsContext(settings, need_role=False)
    registry = SageMakerRegistry(settings.aws, context.sagemaker)
    row = registry.find(model_version)
    read_outputs(context, evaluate_stage(settings, kind, ""), job)
    report_file = settings.paths.evaluation_dir(kind) / job / "evaluation.json"
    report = read_json_output(settings, settings.paths.relative(report_file))
    passed = bool(report.get("passed"))
    approve = settings.kg.evaluate.approve_on_pass if kind == "kg" else settings.qa.gates.approve_on_pass
    figures = ("precision", "recall", "f1") if kind == "kg" else ("intent_accuracy", "slot_f1", "sentence_accuracy")
    reason = "; ".join(f"{name} {report[name]:.4f}" for name in figures if isinstance(report.get(name), (int, float)))
    status = "Rejected" if not passed else ("Approved" if approve else row["status"])
    if status != row["status"]:
        registry.set_status(row["name"], status, f"{'passed' if passed else 'failed'} the gate: {reason}")
    return {"status": "Completed", "passed": passed, "status_after": status, "evaluation": report,
            "report": str(report_file)}


def monitor_on_sagemaker(settings: KgqaConfig, start_offset: str | None, end_offset: str | None, *,
                         wait: bool = False, on_status: OnStatus = None, on_log: OnLog = None) -> dict[str, Any]:
    """One monitoring run as a Processing job over the endpoint's capture on S3; with ``wait``,
    the run's folder is read back and its summary returned (``violations`` listed)."""
    from kgqa_cli.aws.jobs import AwsContext

    context = AwsContext(settings)
    paths = settings.paths
    capture = paths.relative(paths.datacapture_dir / settings.aws.endpoint.name)
    check_prefix_has_objects(context, capture, "captured traffic",
                             "deploy with capture on (kgqa deploy --target sagemaker) and send questions first")
    for needed, hint in ((paths.groundtruth_dir, "label captured questions with `kgqa label`"),
                         (paths.baseline_dir, "run `kgqa monitor baseline` first")):
        if not any(needed.rglob("*.json*")):
            raise MissingArtifactError(f"{needed}: empty", hint=hint)
    stage = monitor_stage(settings, start_offset, end_offset)
    result = run_processing(settings, stage, settings.aws.monitor, on_status=on_status, on_log=on_log,
                            context=context)
    if wait:
        context.follow("processing", result["job_name"], on_status, on_log)
        result.update(finish_monitor(settings, result["job_name"], context))
    return result


def finish_monitor(settings: KgqaConfig, job: str, context: AwsContext | None = None) -> dict[str, Any]:
    """Read a finished monitor job's run folder back; its summary (``violations`` listed)."""
    from kgqa_cli.aws.jobs import AwsContext

    context = context or AwsContext(settings, need_role=False)
    read_outputs(context, monitor_stage(settings, None, None), job)
    runs = sorted((settings.paths.sagemaker_monitor_dir / job).glob("*/summary.json"))
    if not runs:
        raise CloudError(f"monitor job {job} completed without a run folder",
                         hint="too little ground truth in the window? its log says")
    return {"status": "Completed", "summary": json.loads(runs[-1].read_text(encoding="utf-8"))}
