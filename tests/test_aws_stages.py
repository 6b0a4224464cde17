"""`--target sagemaker` beyond training: Processing jobs (preprocess, evaluate, monitor run),
Batch Transform (extract), the endpoint (deploy), the pipelines and the monitor schedule.

Against the session's moto server, each command runs end to end and the test reads back what
AWS received. Where moto runs nothing (jobs complete at once without output), our side of the
contract is run for real: the Processing entry point on a local root laid out as the container's,
the extraction handler's four functions, and the read-back of outputs put where a job writes them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from conftest import film_records, write_lines

pytestmark = pytest.mark.slow  # moto-server AWS flows, container entry points, torchrun

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]
ROLE = "arn:aws:iam::123456789012:role/kgqa-sagemaker"
TOPIC = "arn:aws:sns:us-east-1:123456789012:kgqa-alerts"
TINY_KG = {"model": {"embedding_dim": 32, "hidden_size": 32, "attention_heads": 2, "conv_channels": 64},
           "train": {"epochs": 2, "batch_size": 8, "lr": 0.005, "threads": 1, "device": "cpu"}}


def tiny_kg_overrides() -> list[str]:
    flat = []
    for section, values in TINY_KG.items():
        for key, value in values.items():
            flat += [f"--kg.{section}.{key}", str(value)]
    return flat


def pack_folder(folder: Path) -> bytes:
    from kgqa_cli.aws.source import pack

    return pack([(p.relative_to(folder).as_posix(), p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()])


@pytest.fixture(scope="module")
def kg_workspace(tmp_path_factory):
    """A workspace with the raw corpus inside it, preprocessed, and a tiny trained extractor."""
    root = tmp_path_factory.mktemp("kg-ws")
    workspace = root / "ws"
    raw = write_lines(workspace / "data" / "raw" / "films" / "train.json", film_records(80))
    for args in (["preprocess", str(raw)], ["train", "kg", *tiny_kg_overrides()]):
        done = subprocess.run([*KGQA, *args, "--workspace", str(workspace)], capture_output=True, timeout=600)
        assert done.returncode == 0, done.stderr
    return workspace


@pytest.fixture
def aws(moto_server, tmp_path, request):
    """boto3 clients on the moto server, a fresh bucket, and the CLI arguments that use them
    (the package group prefix and endpoint name are the test's own)."""
    import boto3

    name = request.node.name.replace("_", "-")[:40].strip("-").lower()
    clients = {"endpoint_url": moto_server["AWS_ENDPOINT_URL"], "region_name": "us-east-1",
               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

    class Aws:
        env = {**os.environ, **moto_server}
        bucket = f"kgqa-{name}"[:60]
        prefix = name[:30]
        s3 = boto3.client("s3", **clients)
        sagemaker = boto3.client("sagemaker", **clients)
        scheduler = boto3.client("scheduler", **clients)
        args = ["--aws.bucket", bucket, "--aws.role_arn", ROLE, "--aws.package_group_prefix", name[:30],
                "--aws.endpoint.name", f"ep-{name}"[:60]]

        def run(self, *args: str, workspace: Path, timeout: int = 300) -> subprocess.CompletedProcess:
            return subprocess.run([*KGQA, *args, "--workspace", str(workspace), *self.args], capture_output=True,
                                  timeout=timeout, env=self.env)

        def object_keys(self) -> set[str]:
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
            return {item["Key"] for page in pages for item in page.get("Contents", [])}

        def register(self, kind: str, folder: Path, status: str | None = None) -> str:
            """Put a model archive in the bucket and register it as the next package of the group."""
            key = f"{kind}-models/{len(self.object_keys())}/model.tar.gz"
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=pack_folder(folder))
            from kgqa_cli.aws.registry import SageMakerRegistry
            from kgqa_cli.settings import load_settings

            settings = load_settings(None, {"aws.package_group_prefix": name[:30]})
            registry = SageMakerRegistry(settings.aws, self.sagemaker)
            arn = registry.register(kind, f"s3://{self.bucket}/{key}", "image", {"test": name})["arn"]
            if status:
                self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)
            return f"s3://{self.bucket}/{key}"

    Aws.s3.create_bucket(Bucket=Aws.bucket)
    return Aws()


def boto3_client(aws, service: str):
    """A boto3 client of ``service`` on the moto server the ``aws`` fixture uses."""
    import boto3

    return boto3.client(service, endpoint_url=aws.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def use_moto(monkeypatch, moto_server) -> None:
    for key, value in moto_server.items():
        monkeypatch.setenv(key, value)


def settings_for(workspace: Path, aws, **overrides):
    from kgqa_cli.settings import load_settings

    return load_settings(None, {"workspace": str(workspace), "aws.bucket": aws.bucket, "aws.role_arn": ROLE,
                                "aws.package_group_prefix": aws.prefix, **overrides})


# --- our side of the contract, run locally ----------------------------------------------------

def run_entry(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kgqa_cli.entrypoints.processing", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=600)


def test_processing_entry_preprocesses_and_evaluates_as_the_job_runs_it(kg_workspace, tmp_path):
    root = tmp_path / "opt-ml-processing"
    config = root / "input" / "config" / "kgqa.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"kg": TINY_KG}), encoding="utf-8")
    write_lines(root / "workspace" / "data" / "raw" / "input" / "train.json", film_records(50))
    done = run_entry(root, "preprocess", "data/raw/input")
    assert done.returncode == 0, done.stderr
    assert {"train.jsonl", "dev.jsonl", "test.jsonl", "schema.jsonl"} <= {
        p.name for p in (root / "workspace" / "data" / "corpus").iterdir()}
    # The model input: the archive a training job writes, evaluated on the test split.
    model = root / "input" / "model" / "model.tar.gz"
    model.parent.mkdir(parents=True)
    model.write_bytes(pack_folder(kg_workspace / "registry" / "kg" / "v1" / "model"))
    done = run_entry(root, "evaluate", "kg")
    assert done.returncode == 0, done.stderr
    report = json.loads((root / "workspace" / "evaluation" / "kg" / "evaluation.json").read_text())
    assert {"precision", "recall", "f1", "per_predicate", "passed"} <= set(report)
    # A failed gate is a result the pipeline's condition acts on: the job still completes.
    from conftest import spo

    unseen = [{"text": f"乙{i}拍过一部片子叫{i}号", "spo_list": [spo(f"{i}号", "导演", f"乙{i}")]} for i in range(10)]
    write_lines(root / "workspace" / "data" / "corpus" / "test.jsonl", unseen)
    done = run_entry(root, "evaluate", "kg")
    assert done.returncode == 0, done.stderr
    report = json.loads((root / "workspace" / "evaluation" / "kg" / "evaluation.json").read_text())
    assert report["passed"] is False and "failed the gate" in done.stdout


def test_extraction_handler_four_functions(kg_workspace):
    from kgqa_cli.serving import extract_handler
    from kgqa_cli.serving.handler import BadRequest

    model = extract_handler.model_fn(str(kg_workspace / "registry" / "kg" / "v1" / "model"))
    body = "《第3号电影》是导演甲3执导的作品\n\n{\"text\": \"《第4号电影》是导演甲4执导的作品\"}\n{broken\n".encode()
    records = extract_handler.input_fn(body, "text/plain; charset=utf-8")
    assert [("text" in r) for r in records] == [True, True, False] and "line 4" in records[2]["error"]
    lines = extract_handler.output_fn(extract_handler.predict_fn(records, model), "application/jsonlines")
    rows = [json.loads(line) for line in lines.decode().splitlines()]
    assert len(rows) == 3 and rows[1]["text"].startswith("《第4号电影》") and rows[2]["text"] is None
    assert [sorted(r) for r in rows] == [["model_version", "spo_list", "text"]] * 2 + [["error", "model_version", "text"]]
    assert all(isinstance(r["spo_list"], list) for r in rows[:2])
    with pytest.raises(BadRequest) as refused:
        extract_handler.input_fn(b"x", "image/png")
    assert refused.value.status == 415
    # The serving container imports code/inference.py, which picks the handler by KGQA_MODEL_KIND.
    # The serving toolkit passes its context as one more argument where a function has room for
    # it: the entry's functions take exactly the contract's arguments.
    probe = ("from inspect import signature; from kgqa_cli.serving import inference, extract_handler;"
             "print(inference._chosen is extract_handler, [len(signature(f).parameters) for f in "
             "(inference.model_fn, inference.input_fn, inference.predict_fn, inference.output_fn)])")
    for kind, expected in (("kg", "True [1, 2, 2, 2]"), ("qa", "False [1, 2, 2, 2]")):
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              env={**os.environ, "KGQA_MODEL_KIND": kind})
        assert done.stdout.strip() == expected, done.stderr


def test_data_parallel_training_on_two_ranks(kg_workspace, tmp_path):
    """The container under torchrun, as SageMaker's launcher starts it with
    sagemaker_torch_distributed_enabled: two ranks on loopback in one group, each in a workspace
    of its own; rank 0 alone writes the model, and the other rank's workspace gets none."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SM_CHANNEL_TRAIN": str(kg_workspace / "data" / "corpus"),
           "SM_MODEL_DIR": str(tmp_path / "model"), "SM_OUTPUT_DATA_DIR": str(tmp_path / "out"),
           "SM_HPS": json.dumps({"kind": "kg", "kgqa_config": json.dumps(TINY_KG)})}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
                           "--master_addr", "127.0.0.1", "--master_port", str(port),
                           "-m", "kgqa_cli.entrypoints.container"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "distributed: rank 0 of 2 (gloo" in done.stdout and "distributed: rank 1 of 2 (gloo" in done.stdout
    assert "rank 1 done; rank 0 writes the model" in done.stdout
    assert (tmp_path / "model" / "model.safetensors").exists() and (tmp_path / "model" / "code").is_dir()
    assert (tmp_path / "out" / "workspace" / "models" / "kg" / "model" / "model.safetensors").exists()
    assert not (tmp_path / "out" / "workspace-rank1" / "models").exists()


# --- against the moto server --------------------------------------------------------------------

def test_preprocess_processing_job_as_aws_receives_it(aws, kg_workspace, tmp_path):
    import shutil

    workspace = tmp_path / "ws"
    shutil.copytree(kg_workspace / "data" / "raw", workspace / "data" / "raw")
    done = aws.run("preprocess", str(workspace / "data" / "raw" / "films"), "--target", "sagemaker", "--json",
                   "--aws.preprocess.instance_type", "ml.c5.xlarge", workspace=workspace)
    assert done.returncode == 0, done.stderr
    submitted = json.loads(done.stdout)
    job = aws.sagemaker.describe_processing_job(ProcessingJobName=submitted["job_name"])
    assert job["RoleArn"] == ROLE
    app = job["AppSpecification"]
    assert app["ImageUri"] == "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5.1-cpu-py311"
    assert app["ContainerEntrypoint"][:2] == ["/bin/bash", "-c"] and "kgqa_cli.entrypoints.processing" in app["ContainerEntrypoint"][2]
    assert app["ContainerArguments"] == ["--region", "us-east-1", "preprocess", "data/raw/films"]
    inputs = {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}
    assert inputs["raw"]["S3Uri"] == f"s3://{aws.bucket}/kgqa/data/raw/films/"
    assert inputs["raw"]["LocalPath"] == "/opt/ml/processing/workspace/data/raw/films"
    assert inputs["code"]["LocalPath"] == "/opt/ml/processing/input/code"
    assert inputs["config"]["S3Uri"].endswith(f"/jobs/{submitted['job_name']}/config/")
    outputs = {o["OutputName"]: o["S3Output"] for o in job["ProcessingOutputConfig"]["Outputs"]}
    assert outputs["corpus"] == {"S3Uri": f"s3://{aws.bucket}/kgqa/data/corpus",
                                 "LocalPath": "/opt/ml/processing/workspace/data/corpus", "S3UploadMode": "EndOfJob"}
    # moto keeps no ProcessingResources: checked on the request our code builds for these settings.
    from kgqa_cli.aws.pipeline_steps import PlanContext
    from kgqa_cli.aws.processing import preprocess_stage, processing_request

    settings = settings_for(workspace, aws, **{"aws.preprocess.instance_type": "ml.c5.xlarge",
                                               "preprocess.input": str(workspace / "data" / "raw" / "films")})
    request = processing_request(PlanContext(settings), preprocess_stage(settings), settings.aws.preprocess, "c", "k")
    cluster = request["ProcessingResources"]["ClusterConfig"]
    assert cluster["InstanceType"] == "ml.c5.xlarge" and cluster["InstanceCount"] == 1
    keys = aws.object_keys()
    assert "kgqa/data/raw/films/train.json" in keys
    config = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=f"kgqa/jobs/{submitted['job_name']}/config/kgqa.json")["Body"].read())
    assert "workspace" not in config and config["preprocess"]["seed"] == 13  # the container has its own
    assert config["aws"]["bucket"] == aws.bucket and not any("secret" in key.lower() or "access_key" in key.lower()
                                                           for key in json.dumps(config).split('"'))
    # --wait: moto completes the job without writing its output, which must not pass for one.
    waited = aws.run("preprocess", str(workspace / "data" / "raw" / "films"), "--target", "sagemaker", "--wait",
                     workspace=workspace)
    assert waited.returncode == 10 and b"completed but wrote nothing to" in waited.stderr
    outside = aws.run("preprocess", str(tmp_path / "elsewhere.json"), "--target", "sagemaker", workspace=workspace)
    assert outside.returncode == 2 and b"outside the workspace" in outside.stderr


def test_evaluate_processing_job_gates_the_package(aws, kg_workspace, tmp_path, moto_server, monkeypatch):
    import shutil

    from kgqa_cli.aws.processing import finish_evaluation

    workspace = tmp_path / "ws"
    shutil.copytree(kg_workspace / "data", workspace / "data")
    model_url = aws.register("kg", kg_workspace / "registry" / "kg" / "v1" / "model")
    done = aws.run("evaluate", "kg", "--target", "sagemaker", "--json", workspace=workspace)
    assert done.returncode == 0, done.stderr
    submitted = json.loads(done.stdout)
    job = aws.sagemaker.describe_processing_job(ProcessingJobName=submitted["job_name"])
    inputs = {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}
    assert inputs["model"]["S3Uri"] == model_url and inputs["model"]["LocalPath"] == "/opt/ml/processing/input/model"
    assert inputs["data"]["S3Uri"] == f"s3://{aws.bucket}/kgqa/data/corpus/"
    output = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    assert output["S3Uri"] == f"s3://{aws.bucket}/kgqa/evaluation/kg/{submitted['job_name']}"
    # The job's report, where the job writes it; read back, it gates the package as locally.
    use_moto(monkeypatch, moto_server)
    settings = settings_for(workspace, aws)
    for passed, expected in ((True, "Approved"), (False, "Rejected")):
        aws.s3.put_object(Bucket=aws.bucket, Key=f"kgqa/evaluation/kg/{submitted['job_name']}/evaluation.json",
                          Body=json.dumps({"model_version": "kg/v1", "precision": 0.9, "recall": 0.8, "f1": 0.85,
                                           "passed": passed}))
        result = finish_evaluation(settings, "kg", submitted["job_name"], "kg/v1")
        assert result["passed"] is passed and result["status_after"] == expected
        package = aws.sagemaker.describe_model_package(ModelPackageName=submitted["model_package"])
        assert package["ModelApprovalStatus"] == expected
    assert (workspace / "evaluation" / "kg" / submitted["job_name"] / "evaluation.json").exists()
    local_only = aws.run("evaluate", "kg", "--target", "sagemaker", "--data", "x.json", workspace=workspace)
    assert local_only.returncode == 2


def test_extract_batch_transform_as_aws_receives_it(aws, kg_workspace, tmp_path, moto_server, monkeypatch):
    from kgqa_cli.aws.jobs import AwsContext
    from kgqa_cli.aws.models import read_transform_output

    workspace = tmp_path / "ws"
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(f"《第{i}号电影》是导演甲{i}执导的作品\n" for i in range(5)) + "\n", encoding="utf-8")
    unapproved = aws.run("extract", str(texts), "--target", "sagemaker", workspace=workspace)
    assert unapproved.returncode == 4  # no package at all yet
    model_url = aws.register("kg", kg_workspace / "registry" / "kg" / "v1" / "model", "Approved")
    done = aws.run("extract", str(texts), "--target", "sagemaker", "--json", "--aws.transform.instance_count", "2",
                   "--kg.extract.subject_threshold", "0.4", workspace=workspace)
    assert done.returncode == 0, done.stderr
    submitted = json.loads(done.stdout)
    job = aws.sagemaker.describe_transform_job(TransformJobName=submitted["job_name"])
    assert job["TransformInput"]["SplitType"] == "Line" and job["BatchStrategy"] == "MultiRecord"
    assert job["TransformInput"]["ContentType"] == "application/jsonlines"
    assert job["TransformResources"]["InstanceCount"] == 2
    assert job["TransformOutput"]["S3OutputPath"] == f"s3://{aws.bucket}/kgqa/jobs/{submitted['job_name']}/output"
    parts = sorted(k for k in aws.object_keys() if k.startswith(f"kgqa/jobs/{submitted['job_name']}/input/"))
    assert len(parts) == 2  # one per instance: Batch Transform shards by file
    model = aws.sagemaker.describe_model(ModelName=submitted["model"])
    container = model["PrimaryContainer"]
    assert container["ModelDataUrl"] == model_url
    assert container["Image"] == "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.5.1-cpu-py311"
    assert container["Environment"]["KGQA_MODEL_KIND"] == "kg"
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["KGQA_SUBJECT_THRESHOLD"] == "0.4"
    # The outputs as Batch Transform writes them (<part>.out, one line per input line), read back in order.
    for key in parts:
        lines = aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read().decode().splitlines()
        out = [json.dumps({"text": json.loads(line)["text"], "spo_list": [], "model_version": "kg/v1"},
                          ensure_ascii=False) for line in lines]
        aws.s3.put_object(Bucket=aws.bucket, Key=key.replace("/input/", "/output/") + ".out",
                          Body="\n".join(out).encode())
    use_moto(monkeypatch, moto_server)
    context = AwsContext(settings_for(workspace, aws))
    result = read_transform_output(context, submitted["job_name"], workspace / "extract" / "triples.jsonl")
    assert result["extracted"] == 5
    rows = [json.loads(line) for line in (workspace / "extract" / "triples.jsonl").read_text().splitlines()]
    assert [r["text"] for r in rows] == [f"《第{i}号电影》是导演甲{i}执导的作品" for i in range(5)]
    waited = aws.run("extract", str(texts), "--target", "sagemaker", "--wait", workspace=workspace)
    assert waited.returncode == 10 and b"completed but its output is not at" in waited.stderr


def test_deploy_endpoint_with_data_capture(aws, tiny_qa, tmp_path):
    from kgqa_cli.settings import KgqaConfig

    workspace = tiny_qa.paths.root
    model_folder = workspace / "registry" / "qa" / "v1" / "model"
    aws.register("qa", model_folder)
    packages = aws.sagemaker.list_model_packages(ModelPackageGroupName=f"{aws.prefix}-qa")["ModelPackageSummaryList"]
    assert [p["ModelApprovalStatus"] for p in packages] == ["PendingManualApproval"]
    refused = aws.run("deploy", "--target", "sagemaker", workspace=workspace)
    assert refused.returncode == 4 and b"approve one" in refused.stderr
    aws.register("qa", model_folder, "Approved")
    done = aws.run("deploy", "--target", "sagemaker", "--wait", "--json", "--aws.endpoint.capture_percentage", "40",
                   "--aws.sns_topic_arn", TOPIC, "--aws.endpoint.autoscaling.max_instances", "3",
                   "--aws.endpoint.autoscaling.questions_per_second", "200", workspace=workspace)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["action"] == "created" and result["status"] == "InService" and result["model_version"].endswith("/v2")
    endpoint_name = result["endpoint"]
    # The variant scales on invocations per instance, its target 200 questions/s x 60 x 0.5 ...
    variant = f"endpoint/{endpoint_name}/variant/AllTraffic"
    scaling = boto3_client(aws, "application-autoscaling")
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[variant])["ScalableTargets"]
    assert [(t["ScalableDimension"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        ("sagemaker:variant:DesiredInstanceCount", 1, 3)]
    (policy,) = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=variant)["ScalingPolicies"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PolicyType"] == "TargetTrackingScaling" and tracking["TargetValue"] == 6000.0
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert result["autoscaling"]["target_invocations_per_minute"] == 6000.0
    # ... and two alarms tell the alerts topic of 5xx answers and slow answers.
    cloudwatch = boto3_client(aws, "cloudwatch")
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=result["alarms"])["MetricAlarms"]}
    assert sorted(alarms) == sorted([f"{endpoint_name}-AllTraffic-5xx-rate", f"{endpoint_name}-AllTraffic-model-latency-p99"])
    latency = alarms[f"{endpoint_name}-AllTraffic-model-latency-p99"]
    assert latency["MetricName"] == "ModelLatency" and latency["ExtendedStatistic"] == "p99"
    assert latency["Threshold"] == 500_000 and latency["AlarmActions"] == [TOPIC]
    assert {d["Name"]: d["Value"] for d in latency["Dimensions"]} == {"EndpointName": endpoint_name,
                                                                      "VariantName": "AllTraffic"}
    errors = alarms[f"{endpoint_name}-AllTraffic-5xx-rate"]
    assert errors["AlarmActions"] == [TOPIC] and errors["Threshold"] == 1.0
    assert [m["Id"] for m in errors["Metrics"]] == ["errors", "invocations", "rate"]
    assert errors["Metrics"][0]["MetricStat"]["Metric"]["MetricName"] == "Invocation5XXErrors"
    config = aws.sagemaker.describe_endpoint_config(EndpointConfigName=result["endpoint_config"])
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 40
    assert capture["DestinationS3Uri"] == f"s3://{aws.bucket}/kgqa/datacapture"
    assert {o["CaptureMode"] for o in capture["CaptureOptions"]} == {"Input", "Output"}
    assert config["ProductionVariants"][0]["ModelName"] == result["model"]
    model = aws.sagemaker.describe_model(ModelName=result["model"])["PrimaryContainer"]
    assert model["Environment"]["KGQA_MODEL_KIND"] == "qa" and model["ModelDataUrl"] == result["model_data"]
    archive = aws.s3.get_object(Bucket=aws.bucket, Key=result["model_data"].split("/", 3)[3])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = set(tar.getnames())
        carried = json.loads(tar.extractfile("kgqa.json").read())
    assert {"model.safetensors", "code/inference.py", "code/requirements.txt", "code/kgqa_cli/serving/handler.py",
            "workspace/graph/kgqa.db", "kgqa.json"} <= names
    settings = KgqaConfig.model_validate(carried)  # the config the endpoint reads validates
    assert settings.serve.capture.enabled is False and settings.graph.path is None
    # The archive as the serving container runs it: unpacked, KGQA_CONFIG set, code/inference.py's
    # functions answering from the graph inside it.
    unpacked = tmp_path / "opt-ml-model"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(unpacked, filter="data")
    probe = ("import json, sys; sys.path.insert(0, 'code'); import inference;"
             "model = inference.model_fn('.');"
             "data = inference.input_fn(json.dumps({'question': sys.argv[1]}).encode(), 'application/json');"
             "print(inference.output_fn(inference.predict_fn(data, model), 'application/json').decode())")
    question, expected = "三度诱惑的导演是谁", "何藩"
    served = subprocess.run([sys.executable, "-c", probe, question], cwd=unpacked, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "KGQA_CONFIG": str(unpacked / "kgqa.json"),
                                              "KGQA_MODEL_KIND": "qa", "PYTHONPATH": str(unpacked / "code")})
    assert served.returncode == 0, served.stderr
    assert expected in json.loads(served.stdout)["answers"]
    assert aws.sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointStatus"] == "InService"
    # A second deploy updates the endpoint in place (moto has no UpdateEndpoint: it says so) and
    # never deletes it; the same archive is not uploaded twice.
    again = aws.run("deploy", "--target", "sagemaker", workspace=workspace)
    assert again.returncode == 10 and b"refused to update the endpoint" in again.stderr
    assert aws.sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointStatus"] == "InService"
    local_options = aws.run("deploy", "--target", "sagemaker", "--port", "9000", workspace=workspace)
    assert local_options.returncode == 2
    deleted = aws.run("deploy", "--target", "sagemaker", "--delete", "--json", workspace=workspace)
    assert deleted.returncode == 0, deleted.stderr
    gone = json.loads(deleted.stdout)
    assert gone["models"] == [result["model"]] and len(gone["endpoint_configs"]) == 2
    assert not aws.sagemaker.list_endpoints(NameContains=endpoint_name)["Endpoints"]
    # The failed update left scaling as it was; the delete takes scaling and alarms with the endpoint.
    assert gone["autoscaling_removed"] is True and sorted(gone["alarms"]) == sorted(result["alarms"])
    assert not scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[variant])["ScalableTargets"]
    assert not cloudwatch.describe_alarms(AlarmNames=result["alarms"])["MetricAlarms"]
    assert aws.run("deploy", "--target", "sagemaker", "--delete", workspace=workspace).returncode == 4


def test_monitor_run_and_schedule(aws, tiny_qa, tmp_path):
    from qa_fixtures import copy_workspace

    workspace = copy_workspace(tiny_qa, tmp_path).paths.root
    no_capture = aws.run("monitor", "run", "--target", "sagemaker", workspace=workspace)
    assert no_capture.returncode == 4 and b"no captured traffic" in no_capture.stderr
    endpoint = aws.args[aws.args.index("--aws.endpoint.name") + 1]
    aws.s3.put_object(Bucket=aws.bucket, Key=f"kgqa/datacapture/{endpoint}/AllTraffic/2026/11/29/10/a.jsonl", Body=b"{}")
    for folder in ("groundtruth/2026/11/29/10", "monitoring/baseline/qa-v1"):
        write_lines(workspace / folder / "x.jsonl" if "ground" in folder else workspace / folder / "constraints.json",
                    [{"stub": True}])
    done = aws.run("monitor", "run", "--target", "sagemaker", "--json", "--start-offset", "-P2D",
                   workspace=workspace)
    assert done.returncode == 0, done.stderr
    job = aws.sagemaker.describe_processing_job(ProcessingJobName=json.loads(done.stdout)["job_name"])
    inputs = {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}
    assert inputs["capture"]["S3Uri"] == f"s3://{aws.bucket}/kgqa/datacapture/{endpoint}/"
    assert inputs["capture"]["LocalPath"] == f"/opt/ml/processing/workspace/datacapture/{endpoint}"
    assert {"groundtruth", "baseline", "models"} <= set(inputs)
    assert job["AppSpecification"]["ContainerArguments"][2:] == [
        "monitor", "--start-offset=-P2D", "--end-offset=-P1D", f"--endpoint={endpoint}", "--variant=AllTraffic"]
    # The schedule: EventBridge Scheduler starts the one-step monitor pipeline.
    no_role = aws.run("monitor", "schedule", "--target", "sagemaker", workspace=workspace)
    assert no_role.returncode == 2 and b"aws.schedule.role_arn" in no_role.stderr
    schedule_args = ["--aws.schedule.role_arn", ROLE, "--aws.schedule.name", f"s-{aws.prefix}"[:60],
                     "--aws.schedule.expression", "rate(6 hours)"]
    created = aws.run("monitor", "schedule", "--target", "sagemaker", "--json", *schedule_args, workspace=workspace)
    assert created.returncode == 0, created.stderr
    result = json.loads(created.stdout)
    assert result["action"] == "created"
    schedule = aws.scheduler.get_schedule(Name=f"s-{aws.prefix}"[:60])
    assert schedule["ScheduleExpression"] == "rate(6 hours)"
    assert schedule["Target"]["Arn"] == result["pipeline"] and schedule["Target"]["RoleArn"] == ROLE
    parameters = {p["Name"]: p["Value"] for p in schedule["Target"]["SageMakerPipelineParameters"]["PipelineParameterList"]}
    assert set(parameters) == {"StartOffset", "EndOffset"}
    pipeline = json.loads(aws.sagemaker.describe_pipeline(PipelineName=f"{aws.prefix}-monitor")["PipelineDefinition"])
    assert [s["Type"] for s in pipeline["Steps"]] == ["Processing"]
    again = aws.run("monitor", "schedule", "--target", "sagemaker", "--json", *schedule_args, workspace=workspace)
    assert json.loads(again.stdout)["action"] == "updated"
    removed = aws.run("monitor", "schedule", "--target", "sagemaker", "--delete", *schedule_args, workspace=workspace)
    assert removed.returncode == 0, removed.stderr
    assert aws.run("monitor", "schedule", "--delete", *schedule_args, workspace=workspace).returncode == 4


# --- the pipelines ------------------------------------------------------------------------------

def _output_of(step: str, name: str) -> dict:
    return {"Get": f"Steps.{step}.ProcessingOutputConfig.Outputs['{name}'].S3Output.S3Uri"}


def _steps(document: dict) -> dict[str, dict]:
    found = {}
    for step in document["Steps"]:
        found[step["Name"]] = step
        if step["Type"] == "Condition":
            for branch in ("IfSteps", "ElseSteps"):
                found.update({s["Name"]: {**s, "branch": branch} for s in step["Arguments"][branch]})
    return found


def test_pipeline_definitions_are_built_offline(kg_workspace, tmp_path):
    """`build` needs no AWS: no endpoint, no credentials in the environment."""
    import shutil

    workspace = tmp_path / "ws"
    shutil.copytree(kg_workspace / "data", workspace / "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    common = ["--workspace", str(workspace), "--aws.bucket", "offline-bucket", "--aws.role_arn", ROLE,
              "--aws.sns_topic_arn", TOPIC, "--preprocess.input", str(workspace / "data" / "raw" / "films"),
              "--kg.extract.input", str(workspace / "data" / "raw" / "films" / "train.json"),
              "--kg.evaluate.min_f1", "0.55", "--aws.region", "eu-west-1"]
    for kind in ("kg", "qa"):
        done = subprocess.run([*KGQA, "pipeline", "build", kind, "--json", *common], capture_output=True, env=env)
        assert done.returncode == 0, done.stderr
    first = (workspace / "pipelines" / "kg" / "definition.json").read_bytes()
    subprocess.run([*KGQA, "pipeline", "build", "kg", *common], capture_output=True, env=env, check=True)
    assert (workspace / "pipelines" / "kg" / "definition.json").read_bytes() == first  # reproducible
    kg = json.loads(first)
    assert kg["Version"] == "2020-12-01"
    parameters = {p["Name"]: p for p in kg["Parameters"]}
    assert parameters["MinF1"] == {"Name": "MinF1", "Type": "Float", "DefaultValue": 0.55}
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == "Approved"  # kg.evaluate.approve_on_pass
    assert parameters["RawData"]["DefaultValue"] == "s3://offline-bucket/kgqa/data/raw/films/"
    steps = _steps(kg)
    assert [s["Name"] for s in kg["Steps"]] == ["Preprocess", "TrainKg", "EvaluateKg", "CheckF1"]
    assert {n: s["Type"] for n, s in steps.items()} == {
        "Preprocess": "Processing", "TrainKg": "Training", "EvaluateKg": "Processing", "CheckF1": "Condition",
        "RegisterKg": "RegisterModel", "CreateKgModel": "Model", "Extract": "Transform",
        "RetrieveOrCreateNeptuneDB": "Processing", "NeptuneBulkload": "Processing", "AlertKg": "Processing",
        "FailKg": "Fail"}
    corpus = {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['corpus'].S3Output.S3Uri"}
    train = steps["TrainKg"]["Arguments"]
    assert train["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == corpus
    assert train["AlgorithmSpecification"]["TrainingImage"].startswith("763104351884.dkr.ecr.eu-west-1.")
    assert [m["Name"] for m in train["AlgorithmSpecification"]["MetricDefinitions"]] == ["train:loss", "dev:f1"]
    evaluate = steps["EvaluateKg"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluate["Arguments"]["ProcessingInputs"]}
    assert inputs["model"] == {"Get": "Steps.TrainKg.ModelArtifacts.S3ModelArtifacts"} and inputs["data"] == corpus
    assert evaluate["PropertyFiles"] == [{"PropertyFileName": "Evaluation", "OutputName": "evaluation",
                                          "FilePath": "evaluation.json"}]
    output = evaluate["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert {"Get": "Execution.PipelineExecutionId"} in output["Std:Join"]["Values"]  # one folder per execution
    condition = steps["CheckF1"]["Arguments"]["Conditions"]
    assert condition == [{"Type": "GreaterThanOrEqualTo",
                          "LeftValue": {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.EvaluateKg.PropertyFiles.Evaluation"},
                                                        "Path": "f1"}},
                          "RightValue": {"Get": "Parameters.MinF1"}}]
    assert {n for n, s in steps.items() if s.get("branch") == "IfSteps"} == {
        "RegisterKg", "CreateKgModel", "Extract", "RetrieveOrCreateNeptuneDB", "NeptuneBulkload"}
    assert {n for n, s in steps.items() if s.get("branch") == "ElseSteps"} == {"AlertKg", "FailKg"}
    assert steps["Extract"]["Arguments"]["ModelName"] == {"Get": "Steps.CreateKgModel.ModelName"}
    # The original's order: Transform -> RetrieveOrCreateNeptuneDB -> NeptuneBulkload.
    assert steps["RetrieveOrCreateNeptuneDB"]["DependsOn"] == ["Extract"]
    assert steps["RetrieveOrCreateNeptuneDB"]["Arguments"]["AppSpecification"]["ContainerArguments"][-1] == "neptune-create"
    graph_inputs = [i["S3Input"]["S3Uri"] for i in steps["NeptuneBulkload"]["Arguments"]["ProcessingInputs"]]
    assert {"Get": "Steps.Extract.TransformOutput.S3OutputPath"} in graph_inputs
    assert _output_of("RetrieveOrCreateNeptuneDB", "graph") in graph_inputs
    register = steps["RegisterKg"]["Arguments"]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert register["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == {
        "Get": "Steps.TrainKg.ModelArtifacts.S3ModelArtifacts"}
    assert steps["FailKg"]["DependsOn"] == ["AlertKg"]
    assert TOPIC in steps["AlertKg"]["Arguments"]["AppSpecification"]["ContainerArguments"]

    transform_output = steps["Extract"]["Arguments"]["TransformOutput"]["S3OutputPath"]
    assert {"Get": "Execution.PipelineExecutionId"} in transform_output["Std:Join"]["Values"]

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    for step in steps.values():  # SageMaker takes 256 characters at most per entrypoint or argument item
        app = step["Arguments"].get("AppSpecification", {}) if step["Type"] == "Processing" else {}
        for item in app.get("ContainerEntrypoint", []) + app.get("ContainerArguments", []):
            assert all(len(text) <= 256 for text in strings(item)), (step["Name"], item)

    qa = json.loads((workspace / "pipelines" / "qa" / "definition.json").read_text())
    steps = _steps(qa)
    assert [s["Name"] for s in qa["Steps"]] == ["Questions", "TrainQa", "EvaluateQa", "CheckQaGates"]
    conditions = steps["CheckQaGates"]["Arguments"]["Conditions"]
    assert [c["LeftValue"]["Std:JsonGet"]["Path"] for c in conditions] == ["intent_accuracy", "slot_f1"]
    assert [c["RightValue"] for c in conditions] == [{"Get": "Parameters.MinIntentAccuracy"},
                                                     {"Get": "Parameters.MinSlotF1"}]
    defaults = {p["Name"]: p.get("DefaultValue") for p in qa["Parameters"]}
    assert defaults["ModelApprovalStatus"] == "PendingManualApproval"  # qa waits for a person
    assert {n for n, s in steps.items() if s.get("branch") == "IfSteps"} == {"CreateQaModel", "RegisterQa"}
    assert (workspace / "pipelines" / "qa" / "config" / "questions.yaml").exists()
    # The raw training archive has no graph: the pipeline's qa model understands, the caller queries.
    assert steps["CreateQaModel"]["Arguments"]["PrimaryContainer"]["Environment"]["KGQA_ANSWER"] == "understand"

    done = subprocess.run([*KGQA, "pipeline", "build", "monitor", "--json", *common], capture_output=True, env=env)
    assert done.returncode == 0, done.stderr
    monitor = json.loads((workspace / "pipelines" / "monitor" / "definition.json").read_text())
    arguments = monitor["Steps"][0]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert {"Std:Join": {"On": "", "Values": ["--start-offset=", {"Get": "Parameters.StartOffset"}]}} in arguments


def test_pipeline_upsert_start_show(aws, kg_workspace, tmp_path):
    import shutil

    workspace = tmp_path / "ws"
    shutil.copytree(kg_workspace / "data", workspace / "data")
    paths = ["--preprocess.input", str(workspace / "data" / "raw" / "films"),
             "--kg.extract.input", str(workspace / "data" / "raw" / "films" / "train.json")]
    missing = aws.run("pipeline", "start", "kg", *paths, workspace=workspace)
    assert missing.returncode == 4 and b"kgqa pipeline upsert kg" in missing.stderr
    created = aws.run("pipeline", "upsert", "kg", "--json", *paths, workspace=workspace)
    assert created.returncode == 0, created.stderr
    result = json.loads(created.stdout)
    assert result["action"] == "created"
    remote = aws.sagemaker.describe_pipeline(PipelineName=f"{aws.prefix}-kg")
    assert json.loads(remote["PipelineDefinition"]) == json.loads((workspace / "pipelines/kg/definition.json").read_text())
    assert remote["RoleArn"] == ROLE
    keys = aws.object_keys()
    assert {"kgqa/pipelines/kg/definition.json", "kgqa/pipelines/kg/config/kgqa.json",
            "kgqa/data/raw/films/train.json", result["source"].split("/", 3)[3]} <= keys
    updated = aws.run("pipeline", "upsert", "kg", "--json", *paths, "--kg.evaluate.min_f1", "0.7", workspace=workspace)
    assert json.loads(updated.stdout)["action"] == "updated"
    remote = json.loads(aws.sagemaker.describe_pipeline(PipelineName=f"{aws.prefix}-kg")["PipelineDefinition"])
    assert {p["Name"]: p.get("DefaultValue") for p in remote["Parameters"]}["MinF1"] == 0.7
    started = aws.run("pipeline", "start", "kg", "--json", "-p", "MinF1=0.65", *paths, workspace=workspace)
    assert started.returncode == 0, started.stderr
    execution = json.loads(started.stdout)["execution"]
    executions = aws.sagemaker.list_pipeline_executions(PipelineName=f"{aws.prefix}-kg")["PipelineExecutionSummaries"]
    assert [e["PipelineExecutionArn"] for e in executions] == [execution]
    bad = aws.run("pipeline", "start", "kg", "-p", "Nope=1", *paths, workspace=workspace)
    assert bad.returncode == 2 and b"has no parameter Nope" in bad.stderr
    shown = aws.run("pipeline", "show", "kg", "--json", *paths, workspace=workspace)
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert view["executions"][0]["arn"] == execution and "Extract" in view["steps"]
    text = aws.run("pipeline", "show", "kg", *paths, workspace=workspace)
    assert text.returncode == 0 and b"Preprocess" in text.stdout


def test_processing_entry_questions_and_monitor_tasks(kg_workspace, tmp_path):
    import shutil

    root = tmp_path / "opt-ml-processing"
    (root / "input" / "config").mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[1] / "configs" / "questions.yaml",
                root / "input" / "config" / "questions.yaml")
    shutil.copytree(kg_workspace / "data" / "corpus", root / "workspace" / "data" / "corpus")
    done = run_entry(root, "questions")
    assert done.returncode == 0, done.stderr
    assert all((root / "workspace" / "data" / "questions" / f"{split}.jsonl").stat().st_size
               for split in ("train", "dev", "test"))
    # An error of kgqa's own is one line and its exit code, as on the command line.
    done = run_entry(root, "monitor")
    assert done.returncode == 4 and done.stderr.count("\n") == 1 and done.stderr.startswith("kgqa: ")


def test_alerts_reach_the_sns_topic(aws, tiny_qa, tmp_path, moto_server):
    """A failed gate publishes to aws.sns_topic_arn (read back through an SQS subscription), and so
    does the pipelines' alert step (the Processing entry's `alert` task)."""
    import boto3
    from qa_fixtures import copy_workspace

    clients = {"endpoint_url": moto_server["AWS_ENDPOINT_URL"], "region_name": "us-east-1",
               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    sns, sqs = boto3.client("sns", **clients), boto3.client("sqs", **clients)
    topic = sns.create_topic(Name=f"alerts-{aws.prefix}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"q-{aws.prefix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})

    workspace = copy_workspace(tiny_qa, tmp_path).paths.root
    done = subprocess.run([*KGQA, "evaluate", "qa", "--workspace", str(workspace), "--aws.sns_topic_arn", topic,
                           "--qa.gates.min_slot_f1", "1.0", "--qa.gates.min_intent_accuracy", "1.0"],
                          capture_output=True, timeout=300, env=aws.env)
    assert done.returncode == 5, done.stderr
    root = tmp_path / "opt-ml-processing"
    write_lines(root / "input" / "report" / "evaluation.json", [{"model_version": "qa/v9", "slot_f1": 0.5}])
    done = subprocess.run([sys.executable, "-m", "kgqa_cli.entrypoints.processing", "--root", str(root), "--region",
                           "us-east-1", "alert", "--topic", topic, "--subject", "kgqa: gate failed", "--report",
                           "evaluation.json"], capture_output=True, text=True, timeout=120, env=aws.env)
    assert done.returncode == 0, done.stderr
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    bodies = [json.loads(m["Body"]) for m in messages]
    assert {b["kind"] for b in bodies} == {"quality_gate_failed"} and len(bodies) == 2
    assert {b["model_version"] for b in bodies} == {"qa/v1", "qa/v9"}


def test_wait_shows_the_job_log_lines(aws, moto_server, monkeypatch, tmp_path):
    """--wait follows the job's status and prints its CloudWatch log lines as they come."""
    import boto3

    from kgqa_cli.aws.jobs import AwsContext

    clients = {"endpoint_url": moto_server["AWS_ENDPOINT_URL"], "region_name": "us-east-1",
               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    name = f"kgqa-logs-{aws.prefix}"[:63]
    aws.sagemaker.create_processing_job(
        ProcessingJobName=name, RoleArn=ROLE, ProcessingResources={"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}},
        AppSpecification={"ImageUri": "image"}, StoppingCondition={"MaxRuntimeInSeconds": 60})
    logs = boto3.client("logs", **clients)
    group = "/aws/sagemaker/ProcessingJobs"
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=f"{name}/algo-1-1700000000")
    now = int(time.time() * 1000)  # CloudWatch refuses events older than 14 days
    logs.put_log_events(logGroupName=group, logStreamName=f"{name}/algo-1-1700000000",
                        logEvents=[{"timestamp": now + i, "message": f"line {i}"} for i in range(3)])
    use_moto(monkeypatch, moto_server)
    statuses, lines = [], []
    context = AwsContext(settings_for(tmp_path / "ws", aws))
    context.follow("processing", name, lambda s, d: statuses.append(s), lines.append, poll_seconds=0)
    assert statuses == ["Submitted", "Completed"] and lines == ["line 0", "line 1", "line 2"]


def test_without_the_aws_extra_each_command_says_how_to_install_it(kg_workspace, tmp_path):
    """boto3 hidden from the interpreter, as in a base install: one line naming `make install-aws`."""
    runner = ("import sys; sys.modules['boto3'] = None; sys.argv[0] = 'kgqa';"
              "from kgqa_cli.cli.main import main; main()")
    common = ["--workspace", str(kg_workspace), "--aws.bucket", "b", "--aws.role_arn", ROLE]
    commands = [["train", "kg", "--target", "sagemaker"], ["preprocess", str(kg_workspace / "data/raw/films"),
                "--target", "sagemaker"], ["evaluate", "qa", "--target", "sagemaker"],
                ["extract", "--target", "sagemaker", str(kg_workspace / "data/raw/films/train.json")],
                ["deploy", "--target", "sagemaker"], ["monitor", "schedule", "--aws.schedule.role_arn", ROLE],
                ["pipeline", "upsert", "qa"], ["registry", "list", "--target", "sagemaker"], ["sync", "up"]]
    for command in commands:
        done = subprocess.run([sys.executable, "-c", runner, *command, *common], capture_output=True, text=True,
                              timeout=120, cwd=Path(__file__).resolve().parents[1])
        assert done.returncode == 2, (command, done.stderr)
        assert done.stderr.count("\n") == 1 and "make install-aws" in done.stderr, (command, done.stderr)
