"""`kgqa train --target sagemaker`: the container entry point run locally exactly as the
container runs it, and the job submitted to a moto server, checked as AWS would receive it."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile

import pytest
from conftest import film_records, write_lines

pytestmark = pytest.mark.slow  # moto-server AWS flows and real trainings in the container entry points

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]
ROLE = "arn:aws:iam::123456789012:role/kgqa-sagemaker"
TINY_KG = {"model": {"embedding_dim": 32, "hidden_size": 32, "attention_heads": 2, "conv_channels": 64},
           "train": {"epochs": 2, "batch_size": 8, "lr": 0.005, "threads": 1, "device": "cpu"}}


@pytest.fixture
def corpus_workspace(tmp_path):
    """A workspace whose data/corpus holds a preprocessed tiny corpus."""
    path = write_lines(tmp_path / "train.json", film_records(60))
    workspace = tmp_path / "ws"
    done = subprocess.run([*KGQA, "preprocess", str(path), "--workspace", str(workspace)], capture_output=True)
    assert done.returncode == 0, done.stderr
    return workspace


def run_container(channel, tmp_path, kind: str, section: dict) -> tuple[subprocess.CompletedProcess, object]:
    model_dir = tmp_path / f"opt-ml-model-{kind}"
    env = {**os.environ, "SM_CHANNEL_TRAIN": str(channel), "SM_MODEL_DIR": str(model_dir),
           "SM_OUTPUT_DATA_DIR": str(tmp_path / f"output-{kind}"),
           "SM_HPS": json.dumps({"kind": kind, "kgqa_config": json.dumps(section)})}
    done = subprocess.run([sys.executable, "-m", "kgqa_cli.entrypoints.container"], capture_output=True, text=True, env=env,
                          timeout=600)
    return done, model_dir


def test_container_entry_point_trains_kg_as_sagemaker_runs_it(corpus_workspace, tmp_path):
    from kgqa_cli.aws.source import METRIC_DEFINITIONS

    done, model_dir = run_container(corpus_workspace / "data" / "corpus", tmp_path, "kg", TINY_KG)
    assert done.returncode == 0, done.stderr
    assert {p.name for p in model_dir.iterdir()} >= {"model.safetensors", "vocab.json", "config.json", "schema.jsonl"}
    assert not list(model_dir.rglob("*.pt")) and not list(model_dir.rglob("*.pkl"))  # nothing that runs code
    # code/ makes the artefact what SageMaker's PyTorch serving container runs as it is.
    assert (model_dir / "code" / "inference.py").read_text().startswith("from kgqa_cli.serving.inference import")
    assert (model_dir / "code" / "requirements.txt").exists()
    assert (model_dir / "code" / "kgqa_cli" / "serving" / "extract_handler.py").exists()
    # The artefact as Batch Transform runs it: code/inference.py's four functions on two lines.
    probe = ("import sys; sys.path.insert(0, 'code'); import inference; model = inference.model_fn('.');"
             "records = inference.input_fn('《第1号电影》是导演甲1执导的作品\\n第二行'.encode(), 'text/plain');"
             "print(inference.output_fn(inference.predict_fn(records, model), 'application/jsonlines').decode())")
    served = subprocess.run([sys.executable, "-c", probe], cwd=model_dir, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "KGQA_MODEL_KIND": "kg", "PYTHONPATH": str(model_dir / "code")})
    assert served.returncode == 0, served.stderr
    rows = [json.loads(line) for line in served.stdout.splitlines() if line.strip()]
    assert [r["text"] for r in rows] == ["《第1号电影》是导演甲1执导的作品", "第二行"]
    for metric in METRIC_DEFINITIONS["kg"]:  # SageMaker's regexes find the figures in the log
        assert re.findall(metric["Regex"], done.stdout), (metric, done.stdout[-500:])
    assert len(re.findall(METRIC_DEFINITIONS["kg"][1]["Regex"], done.stdout)) == 2  # one per epoch


def test_container_entry_point_trains_qa(tiny_qa, tmp_path):
    from kgqa_cli.aws.source import METRIC_DEFINITIONS

    section = tiny_qa.qa.model_dump(mode="json")
    section["train"]["epochs"] = 2
    done, model_dir = run_container(tiny_qa.paths.questions_dir, tmp_path, "qa", section)
    assert done.returncode == 0, done.stderr
    assert {p.name for p in model_dir.iterdir()} >= {"model.safetensors", "vocab.json", "config.json"}
    for metric in METRIC_DEFINITIONS["qa"]:
        assert re.findall(metric["Regex"], done.stdout), (metric, done.stdout[-500:])
    # The raw artefact as the pipeline's qa model serves it: no graph, so it understands.
    probe = ("import json, sys; sys.path.insert(0, 'code'); import inference; model = inference.model_fn('.');"
             "data = inference.input_fn(json.dumps({'question': '三度诱惑的导演是谁'}), 'application/json');"
             "print(inference.output_fn(inference.predict_fn(data, model), 'application/json').decode())")
    served = subprocess.run([sys.executable, "-c", probe], cwd=model_dir, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "KGQA_MODEL_KIND": "qa", "KGQA_ANSWER": "understand"})
    assert served.returncode == 0, served.stderr
    answer = json.loads(served.stdout)
    assert {"intent", "confidence", "intents", "slots", "model_version"} <= set(answer) and "answers" not in answer


def test_train_job_as_aws_receives_it(moto_server, corpus_workspace, tmp_path, monkeypatch):
    import boto3

    from kgqa_cli.aws.jobs import AwsContext
    from kgqa_cli.aws.training import download_model
    from kgqa_cli.settings import load_settings

    clients = {"endpoint_url": moto_server["AWS_ENDPOINT_URL"], "region_name": "us-east-1",
               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    s3, sagemaker = boto3.client("s3", **clients), boto3.client("sagemaker", **clients)
    s3.create_bucket(Bucket="kgqa-train-test")
    args = ["train", "kg", "--target", "sagemaker", "--json", "--workspace", str(corpus_workspace),
            "--aws.bucket", "kgqa-train-test", "--aws.role_arn", ROLE, "--aws.training.instance_type", "ml.c5.2xlarge",
            "--kg.train.epochs", "7"]
    env = {**os.environ, **moto_server}
    done = subprocess.run([*KGQA, *args], capture_output=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    submitted = json.loads(done.stdout)
    job = sagemaker.describe_training_job(TrainingJobName=submitted["job_name"])
    spec = job["AlgorithmSpecification"]
    assert spec["TrainingImage"] == "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5.1-cpu-py311"
    assert job["RoleArn"] == ROLE
    assert job["ResourceConfig"]["InstanceType"] == "ml.c5.2xlarge" and job["ResourceConfig"]["InstanceCount"] == 1
    hyper = job["HyperParameters"]
    assert hyper["kind"] == "kg" and hyper["sagemaker_program"] == "kgqa_train.py"
    assert json.loads(hyper["kgqa_config"])["train"]["epochs"] == 7  # the config section, overrides included
    assert hyper["sagemaker_submit_directory"] == submitted["source"]
    channel = job["InputDataConfig"][0]
    assert channel["ChannelName"] == "train"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == "s3://kgqa-train-test/kgqa/data/corpus/"
    assert job["OutputDataConfig"]["S3OutputPath"] == "s3://kgqa-train-test/kgqa/jobs/kg/"
    # moto keeps no MetricDefinitions (it answers a placeholder): checked on the request we send.
    from kgqa_cli.aws.training import job_request

    request = job_request(load_settings(None, {"workspace": str(corpus_workspace), "aws.bucket": "kgqa-train-test",
                                              "aws.role_arn": ROLE}), "kg", "job", "s3://x/code.tar.gz", "us-east-1")
    assert [m["Name"] for m in request["AlgorithmSpecification"]["MetricDefinitions"]] == ["train:loss", "dev:f1"]
    # One process: the container runs the entry point as it is, without torchrun.
    assert not any(key.startswith(("sagemaker_torch", "sagemaker_mpi")) for key in request["HyperParameters"])
    parallel = job_request(load_settings(None, {"aws.bucket": "b", "aws.role_arn": ROLE, "aws.training.instance_count": 2}),
                           "qa", "job", "s3://x/code.tar.gz", "us-east-1")
    assert parallel["ResourceConfig"]["InstanceCount"] == 2  # data-parallel: one rank per instance
    # The PyTorch container starts the entry point under torchrun; its processes per host stay its default.
    assert parallel["HyperParameters"]["sagemaker_torch_distributed_enabled"] == "true"
    assert "sagemaker_mpi_num_of_processes_per_host" not in parallel["HyperParameters"]
    several = job_request(load_settings(None, {"aws.bucket": "b", "aws.role_arn": ROLE,
                                               "aws.training.processes_per_host": 4}),
                          "kg", "job", "s3://x/code.tar.gz", "us-east-1")
    assert several["ResourceConfig"]["InstanceCount"] == 1
    assert several["HyperParameters"]["sagemaker_torch_distributed_enabled"] == "true"
    assert several["HyperParameters"]["sagemaker_mpi_num_of_processes_per_host"] == "4"
    assert all(isinstance(value, str) for value in several["HyperParameters"].values())
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="kgqa-train-test")["Contents"])
    assert {"kgqa/data/corpus/train.jsonl", "kgqa/data/corpus/dev.jsonl", "kgqa/data/corpus/schema.jsonl"} <= set(keys)
    code_key = submitted["source"].split("/", 3)[3]
    assert code_key in keys
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket="kgqa-train-test", Key=code_key)["Body"].read())) as tar:
        names = tar.getnames()
    assert {"kgqa_train.py", "requirements.txt", "kgqa_cli/entrypoints/container.py"} <= set(names)
    # A second submission uploads no input again (checksums) and reuses the packed source.
    again = json.loads(subprocess.run([*KGQA, *args], capture_output=True, timeout=120, env=env).stdout)
    assert again["inputs_uploaded"] == 0 and again["source"] == submitted["source"]
    # --wait: moto completes the job at once but writes no model, which is said in one line.
    waited = subprocess.run([*KGQA, *args, "--wait"], capture_output=True, timeout=120, env=env)
    assert waited.returncode == 10 and b"completed but its model is not at" in waited.stderr
    # Reading a model back, as --wait does after a real job: the artefact unpacked, nothing else.
    artefact = job["ModelArtifacts"]["S3ModelArtifacts"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b'{"hidden_size": 32}'
        info = tarfile.TarInfo("config.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    s3.put_object(Bucket="kgqa-train-test", Key=artefact.split("/", 3)[3], Body=buffer.getvalue())
    for key, value in moto_server.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(None, {"workspace": str(corpus_workspace), "aws.bucket": "kgqa-train-test"})
    context = AwsContext(settings, need_role=False)
    finished = context.follow("training", submitted["job_name"], poll_seconds=0)
    result = download_model(context, finished, corpus_workspace / "models" / "kg" / "sagemaker")
    assert result["status"] == "Completed"
    unpacked = corpus_workspace / "models/kg/sagemaker" / submitted["job_name"]
    assert json.loads((unpacked / "config.json").read_text()) == {"hidden_size": 32}
    assert [p.name for p in unpacked.iterdir()] == ["config.json"]  # the artefact, nothing else


def test_sagemaker_target_needs_a_role_and_a_bucket(tmp_path):
    workspace = ["--workspace", str(tmp_path / "ws")]
    no_bucket = subprocess.run([*KGQA, "train", "--target", "sagemaker", *workspace], capture_output=True)
    assert no_bucket.returncode == 2 and b"aws.bucket is not set" in no_bucket.stderr
    resume = subprocess.run([*KGQA, "train", "--target", "sagemaker", "--resume", *workspace], capture_output=True)
    assert resume.returncode == 2 and b"a SageMaker job starts afresh" in resume.stderr
    wait = subprocess.run([*KGQA, "train", "--wait", *workspace], capture_output=True)
    assert wait.returncode == 2 and b"--wait applies to --target sagemaker" in wait.stderr
    init = subprocess.run([*KGQA, "train", "kg", "--target", "sagemaker", "--kg.train.init", "latest", *workspace],
                          capture_output=True)
    # --init travels as a channel now; with nothing pretrained yet, the stage that makes one is named.
    assert init.returncode == 4 and b"run `kgqa pretrain FILE...` first" in init.stderr
    taught = subprocess.run([*KGQA, "train", "kg", "--target", "sagemaker", "--kg.train.distill.teacher", "v1",
                             *workspace], capture_output=True)
    assert taught.returncode == 2 and b"kg.train.distill.teacher: a training job cannot be taught" in taught.stderr


def test_sagemaker_registry_mirrors_list_show_approve_reject(moto_server):
    import boto3

    from kgqa_cli.aws.registry import SageMakerRegistry
    from kgqa_cli.settings import load_settings

    sagemaker = boto3.client("sagemaker", endpoint_url=moto_server["AWS_ENDPOINT_URL"], region_name="us-east-1",
                             aws_access_key_id="testing", aws_secret_access_key="testing")
    settings = load_settings(None, {"aws.package_group_prefix": "kgqa-registry-test"})
    registry = SageMakerRegistry(settings.aws, sagemaker)
    for job in ("job-1", "job-2"):
        registry.register("qa", f"s3://bucket/kgqa/jobs/qa/{job}/output/model.tar.gz",
                          "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.5.1-cpu-py311",
                          {"kgqa_training_job": job})
    env = {**os.environ, **moto_server}
    common = ["--target", "sagemaker", "--aws.package_group_prefix", "kgqa-registry-test"]

    def registry_cli(*args):
        return subprocess.run([*KGQA, "registry", *args, *common], capture_output=True, timeout=120, env=env)

    listed = json.loads(registry_cli("list", "qa", "--json").stdout)
    assert [(row["name"], row["status"]) for row in listed] == [("qa/v1", "PendingManualApproval"),
                                                                 ("qa/v2", "PendingManualApproval")]
    approved = registry_cli("approve", "qa/v2", "--reason", "checked")
    assert approved.returncode == 0 and b"PendingManualApproval -> Approved" in approved.stdout
    assert registry_cli("reject", "qa/v1").returncode == 0
    package = sagemaker.describe_model_package(ModelPackageName=listed[1]["arn"])
    assert package["ModelApprovalStatus"] == "Approved" and package["ApprovalDescription"] == "checked"
    shown = json.loads(registry_cli("show", "qa/v2", "--json").stdout)
    assert shown["ModelPackageGroupName"] == "kgqa-registry-test-qa"
    assert shown["InferenceSpecification"]["Containers"][0]["ModelDataUrl"].endswith("job-2/output/model.tar.gz")
    assert registry_cli("approve", "qa/v9").returncode == 4


def test_a_pretrained_encoder_reaches_the_training_job_as_its_channel(moto_server, corpus_workspace, tmp_path):
    import boto3

    clients = {"endpoint_url": moto_server["AWS_ENDPOINT_URL"], "region_name": "us-east-1",
               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    s3, sagemaker = boto3.client("s3", **clients), boto3.client("sagemaker", **clients)
    s3.create_bucket(Bucket="kgqa-encoder-test")
    env = {**os.environ, **moto_server}
    base = ["train", "kg", "--target", "sagemaker", "--json", "--workspace", str(corpus_workspace),
            "--aws.bucket", "kgqa-encoder-test", "--aws.role_arn", ROLE, "--kg.model.encoder", "pretrained"]
    done = subprocess.run([*KGQA, *base, "--kg.model.pretrained", "s3://kgqa-encoder-test/encoders/tiny-bert"],
                          capture_output=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    job = sagemaker.describe_training_job(TrainingJobName=json.loads(done.stdout)["job_name"])
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    assert channels == {"train": "s3://kgqa-encoder-test/kgqa/data/corpus/",
                        "pretrained": "s3://kgqa-encoder-test/encoders/tiny-bert/"}
    # A Hugging Face id needs no channel (the job downloads it); a local folder is refused.
    hub = subprocess.run([*KGQA, *base, "--kg.model.pretrained", "bert-base-chinese"], capture_output=True,
                         timeout=120, env=env)
    assert hub.returncode == 0, hub.stderr
    job = sagemaker.describe_training_job(TrainingJobName=json.loads(hub.stdout)["job_name"])
    assert [c["ChannelName"] for c in job["InputDataConfig"]] == ["train"]
    assert json.loads(job["HyperParameters"]["kgqa_config"])["model"]["pretrained"] == "bert-base-chinese"
    folder = tmp_path / "encoder"
    folder.mkdir()
    local = subprocess.run([*KGQA, *base, "--kg.model.pretrained", str(folder)], capture_output=True, timeout=120,
                           env=env)
    assert local.returncode == 2 and b"a local folder is not seen by a training job" in local.stderr


def test_init_reaches_the_job_as_a_channel_and_the_container_starts_from_it(moto_server, corpus_workspace, tmp_path,
                                                                           monkeypatch):
    """`kgqa train kg --init` on the SageMaker target: the registered pretrain/vN is uploaded and
    becomes the job's `init` channel; the container puts it in its own registry and starts there."""
    import boto3

    sizes = ["--kg.model.embedding_dim", "32", "--kg.model.hidden_size", "32", "--kg.model.attention_heads", "2",
             "--kg.model.conv_channels", "64"]
    texts = write_lines(tmp_path / "texts.jsonl", [{"text": f"《星河{n}》是由王伟{n}执导的电影"} for n in range(100)])
    pretrained = subprocess.run([*KGQA, "pretrain", str(texts), "--workspace", str(corpus_workspace), *sizes,
                                 "--kg.pretrain.epochs", "1", "--kg.pretrain.threads", "1"],
                                capture_output=True, timeout=300)
    assert pretrained.returncode == 0, pretrained.stderr
    clients = {"endpoint_url": moto_server["AWS_ENDPOINT_URL"], "region_name": "us-east-1",
               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    s3, sagemaker = boto3.client("s3", **clients), boto3.client("sagemaker", **clients)
    s3.create_bucket(Bucket="kgqa-init-test")
    done = subprocess.run([*KGQA, "train", "kg", "--target", "sagemaker", "--init", "latest", "--json", *sizes,
                           "--workspace", str(corpus_workspace), "--aws.bucket", "kgqa-init-test", "--aws.role_arn",
                           ROLE], capture_output=True, timeout=120, env={**os.environ, **moto_server})
    assert done.returncode == 0, done.stderr
    job = sagemaker.describe_training_job(TrainingJobName=json.loads(done.stdout)["job_name"])
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    assert channels["init"] == "s3://kgqa-init-test/kgqa/registry/pretrain/v1/"
    assert json.loads(job["HyperParameters"]["kgqa_config"])["train"]["init"] == "pretrain/v1"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="kgqa-init-test")["Contents"]}
    assert {"kgqa/registry/pretrain/v1/package.json", "kgqa/registry/pretrain/v1/model/encoder.safetensors"} <= keys
    # The container, as SageMaker runs it with both channels copied in.
    section = {**TINY_KG, "train": {**TINY_KG["train"], "init": "pretrain/v1"}}
    monkeypatch.setenv("SM_CHANNEL_INIT", str(corpus_workspace / "registry" / "pretrain" / "v1"))
    trained, model_dir = run_container(corpus_workspace / "data" / "corpus", tmp_path, "kg", section)
    assert trained.returncode == 0, trained.stderr
    assert "initialised from pretrain/v1" in trained.stdout + trained.stderr
    assert (model_dir / "model.safetensors").is_file()


def test_the_container_takes_only_a_version_name_as_init(corpus_workspace, tmp_path, monkeypatch):
    # The job's hyperparameters name where the init channel goes: a path that climbs is refused.
    channel = tmp_path / "channel"
    channel.mkdir()
    (channel / "package.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("SM_CHANNEL_INIT", str(channel))
    for name in ("../../escaped", "pretrain/../../escaped", "/tmp/escaped"):
        section = {**TINY_KG, "train": {**TINY_KG["train"], "init": name}}
        done, _ = run_container(corpus_workspace / "data" / "corpus", tmp_path, "kg", section)
        assert done.returncode == 2 and "is not a version name" in done.stderr, (name, done.stderr)
    assert not list(tmp_path.rglob("escaped")) and not os.path.exists("/tmp/escaped")
