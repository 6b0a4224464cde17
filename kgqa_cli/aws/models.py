"""SageMaker models and Batch Transform (boto3): `kgqa extract --target sagemaker`, and the
models the endpoint of :mod:`kgqa_cli.aws.endpoint` serves.

Both start from a package of the SageMaker model registry. A model archive from a kgqa
training job already holds ``code/`` (the serving entry, the pinned requirements and kgqa
itself), so SageMaker's PyTorch serving container runs it as it is; the SageMaker model says
which handler to use in ``KGQA_MODEL_KIND``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.errors import CloudError, InputDataError, MissingArtifactError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

    from kgqa_cli.aws.jobs import AwsContext, AwsPlan, OnLog, OnStatus
    from kgqa_cli.aws.pipeline_steps import Expression
    from kgqa_cli.settings import KgqaConfig

SERVING_ENVIRONMENT = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                       "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "PYTHONUNBUFFERED": "1"}


def short_hash(*parts: Any) -> str:
    """Ten hex digits of the parts' hash: names that change when what they name changes."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:10]


def approved_package(context: AwsContext, kind: str, model: str | None) -> tuple[dict[str, Any], str]:
    """The package to run (named, else the newest Approved) and its model data URL."""
    from kgqa_cli.aws.processing import package_model_url
    from kgqa_cli.aws.registry import SageMakerRegistry

    registry = SageMakerRegistry(context.aws, context.sagemaker)
    if model is None:
        approved = [row for row in registry.versions(kind) if row["status"] == "Approved"]
        if not approved:
            raise MissingArtifactError(
                f"no Approved {kind} package in the SageMaker model package group {registry.group(kind)}",
                hint=f"approve one with `kgqa registry approve {kind}/vN --target sagemaker`")
        model = approved[-1]["name"]
    row, url = package_model_url(registry, kind, model)
    if row["status"] != "Approved":
        raise MissingArtifactError(f"{row['name']} is {row['status']} in the SageMaker registry, not Approved",
                                   hint=f"approve it with `kgqa registry approve {row['name']} --target sagemaker`")
    return row, url


def not_found(exc: ClientError) -> bool:
    """Whether a SageMaker ClientError says the thing does not exist (SageMaker answers
    ValidationException "Could not find ..." for models and endpoints)."""
    error = exc.response.get("Error", {})
    return error.get("Code") in ("ResourceNotFound", "ResourceNotFoundException", "NotFound") or (
        error.get("Code") == "ValidationException" and "Could not find" in error.get("Message", ""))


def ensure_model(context: AwsContext, name: str, image: str, model_data_url: str, environment: dict[str, str],
                 package: str) -> str:
    """Create the SageMaker model ``name`` unless it exists (names carry their content's hash)."""
    from botocore.exceptions import ClientError

    try:
        context.sagemaker.describe_model(ModelName=name)
        return name
    except ClientError as exc:
        if not not_found(exc):  # refused, throttled: say so rather than try to create it
            raise CloudError(f"SageMaker refused to describe the model {name}: {exc}") from exc
    context.call("create the model", context.sagemaker.create_model, ModelName=name,
                 ExecutionRoleArn=context.aws.role_arn,
                 PrimaryContainer={"Image": image, "ModelDataUrl": model_data_url, "Environment": environment},
                 Tags=[*context.tags("model"), {"Key": "kgqa:package", "Value": package[-256:]}])
    return name


# --- Batch Transform -------------------------------------------------------------------------

def transform_request(context: AwsPlan, name: str, model_name: str | Expression, input_url: str | Expression,
                      output_url: str | Expression) -> dict[str, Any]:
    """The ``create_transform_job`` request: JSON lines split by line, sharded across instances."""
    transform = context.aws.transform
    return {
        "TransformJobName": name, "ModelName": model_name,
        "MaxConcurrentTransforms": transform.max_concurrent_transforms, "MaxPayloadInMB": transform.max_payload_mb,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_url}},
            "ContentType": "application/jsonlines", "SplitType": "Line", "CompressionType": "None",
        },
        "TransformOutput": {"S3OutputPath": output_url, "Accept": "application/jsonlines", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": transform.instance_type, "InstanceCount": transform.instance_count},
        "DataProcessing": {"JoinSource": "None"},
        "Tags": context.tags("extract"),
    }


def shard_lines(texts: list[str], shards: int) -> list[bytes]:
    """The texts as JSON lines in ``shards`` contiguous parts (order kept across parts)."""
    size = max(1, -(-len(texts) // shards))
    return ["".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts[i:i + size]).encode()
            for i in range(0, len(texts), size)]


def extract_on_sagemaker(settings: KgqaConfig, input_path: Path | None, model: str | None, *, wait: bool = False,
                         on_status: OnStatus = None, on_log: OnLog = None) -> dict[str, Any]:
    """Extract triples from a text or JSON-lines file with a Batch Transform job; with ``wait``,
    the outputs are read back into the extraction output format."""
    from kgqa_cli.aws.jobs import AwsContext, job_name
    from kgqa_cli.extraction.extract import read_inputs

    source = Path(input_path or settings.kg.extract.input)
    texts, skipped = read_inputs(source)
    if not texts:
        raise InputDataError(f"{source}: no text to extract from")
    context = AwsContext(settings)
    row, model_url = approved_package(context, "kg", model)
    extract = settings.kg.extract
    environment = {**SERVING_ENVIRONMENT, "KGQA_MODEL_KIND": "kg", "KGQA_MODEL_VERSION": row["name"],
                   "KGQA_BATCH_SIZE": str(extract.batch_size), "KGQA_MAX_CHARS": str(extract.max_chars),
                   "KGQA_SUBJECT_THRESHOLD": str(extract.subject_threshold),
                   "KGQA_OBJECT_THRESHOLD": str(extract.object_threshold),
                   "KGQA_BFLOAT16": str(extract.bfloat16).lower(), "KGQA_WORKERS": str(extract.workers)}
    transform = settings.aws.transform
    image = context.image("pytorch-inference", transform.instance_type, transform.image)
    model_name = ensure_model(context, f"{settings.aws.package_group_prefix}-kg-v{row['version']}-"
                              f"{short_hash(image, model_url, environment)}", image, model_url, environment, row["arn"])
    name = job_name("extract")
    shards = shard_lines(texts, transform.instance_count)
    for number, data in enumerate(shards):
        context.put_bytes(f"jobs/{name}/input/part-{number:05d}.jsonl", data)
    request = transform_request(context, name, model_name, context.url(f"jobs/{name}/input/"),
                                context.url(f"jobs/{name}/output"))
    context.call("create the transform job", context.sagemaker.create_transform_job, **request)
    result = {"job_name": name, "image": image, "model": model_name, "model_version": row["name"],
              "sentences": len(texts), "skipped_lines": len(skipped), "parts": len(shards),
              "input": request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"],
              "output": request["TransformOutput"]["S3OutputPath"], "status": "InProgress"}
    if wait:
        context.follow("transform", name, on_status, on_log)
        target = Path(extract.output or settings.paths.triples_file)
        result.update(read_transform_output(context, name, target))
        result["status"] = "Completed"
    return result


def read_transform_output(context: AwsContext, name: str, target: Path) -> dict[str, Any]:
    """Join the outputs of a finished transform job (``part-N.jsonl.out``, one per input part)
    back, in order, into the extraction output file."""
    from kgqa_cli.io import write_text_atomic

    lines, errors, triples = [], 0, 0
    parts = sorted(context.bucket.remote_checksums(f"jobs/{name}/input"))
    if not parts:
        raise MissingArtifactError(f"{context.url(f'jobs/{name}/input/')}: no input parts of transform job {name}")
    for part in parts:
        url = context.url(f"jobs/{name}/output/{part.rsplit('/', 1)[-1]}.out")
        body = context.get_bytes(url, missing=f"transform job {name} completed but its output is not at {url}"
                                 ).decode("utf-8")
        for line_number, line in enumerate(body.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise CloudError(f"{url}:{line_number}: not a JSON line ({exc})") from exc
            if record.get("text") is None:
                errors += 1
                continue
            triples += len(record.get("spo_list", []))
            lines.append(json.dumps(record, ensure_ascii=False))
    write_text_atomic(target, "".join(line + "\n" for line in lines))
    return {"output_file": str(target), "extracted": len(lines), "triples": triples, "unreadable": errors}
