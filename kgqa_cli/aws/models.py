"""SageMaker models, Batch Transform and the endpoint (boto3): `kgqa extract --target sagemaker`
and `kgqa deploy --target sagemaker [--delete]`.

Both start from a package of the SageMaker model registry. A model archive from a kgqa
training job already holds ``code/`` (the serving entry, the pinned requirements and kgqa
itself), so SageMaker's PyTorch serving container runs it as it is; the SageMaker model says
which handler to use in ``KGQA_MODEL_KIND``. The endpoint's archive also carries the graph and
the config (the question model answers from the graph), so deploy repacks it once per content.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

from kgqa_cli.errors import CloudError, ConfigError, InputDataError, MissingArtifactError

SERVING_ENVIRONMENT = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                       "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "PYTHONUNBUFFERED": "1"}


def _short_hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:10]


def approved_package(context: Any, kind: str, model: str | None) -> tuple[dict, str]:
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


def _not_found(exc: Any) -> bool:
    """Whether a SageMaker ClientError says the thing does not exist (SageMaker answers
    ValidationException "Could not find ..." for models and endpoints)."""
    error = exc.response.get("Error", {})
    return error.get("Code") in ("ResourceNotFound", "ResourceNotFoundException", "NotFound") or (
        error.get("Code") == "ValidationException" and "Could not find" in error.get("Message", ""))


def ensure_model(context: Any, name: str, image: str, model_data_url: str, environment: dict, package: str) -> str:
    """Create the SageMaker model ``name`` unless it exists (names carry their content's hash)."""
    from botocore.exceptions import ClientError

    try:
        context.sagemaker.describe_model(ModelName=name)
        return name
    except ClientError as exc:
        if not _not_found(exc):  # refused, throttled: say so rather than try to create it
            raise CloudError(f"SageMaker refused to describe the model {name}: {exc}") from exc
    context.call("create the model", context.sagemaker.create_model, ModelName=name,
                 ExecutionRoleArn=context.aws.role_arn,
                 PrimaryContainer={"Image": image, "ModelDataUrl": model_data_url, "Environment": environment},
                 Tags=[*context.tags("model"), {"Key": "kgqa:package", "Value": package[-256:]}])
    return name


# --- Batch Transform -------------------------------------------------------------------------

def transform_request(context: Any, name: str, model_name: Any, input_url: Any, output_url: Any) -> dict:
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


def extract_on_sagemaker(settings: Any, input_path: Path | None, model: str | None, *, wait: bool = False,
                         on_status: Any = None, on_log: Any = None) -> dict:
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
                              f"{_short_hash(image, model_url, environment)}", image, model_url, environment, row["arn"])
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
        target = Path(extract.output or settings.paths.extract_dir / "triples.jsonl")
        result.update(read_transform_output(context, name, target))
        result["status"] = "Completed"
    return result


def read_transform_output(context: Any, name: str, target: Path) -> dict:
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


# --- Endpoint ---------------------------------------------------------------------------------

def endpoint_archive(settings: Any, package_archive: bytes) -> bytes:
    """The endpoint's model archive: the package's model, ``code/``, the config and the graph
    (unless the graph is a server, ``graph.url``), deterministic for the same content."""
    from kgqa_cli.aws.source import pack, source_members

    members: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(package_archive), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile():  # data only: no links, devices or absolute paths
                name = member.name.lstrip("./")
                if ".." not in Path(name).parts:
                    members[name] = archive.extractfile(member).read()
    for name, data in source_members():
        members.setdefault(f"code/{name}", data)
    sections = settings.model_dump(mode="json", exclude={"aws"})
    sections["workspace"] = "workspace"  # beside kgqa.json, wherever the container unpacks the archive
    sections["serve"]["capture"]["enabled"] = False  # SageMaker captures (DataCaptureConfig), not us
    if settings.graph.url is None:
        from kgqa_cli.graph.graph_file import check_graph_file, graph_file

        graph = graph_file(settings.graph, settings.paths)
        check_graph_file(graph)
        members["workspace/graph/kgqa.db"] = graph.read_bytes()
        sections["graph"]["path"] = None
    members["kgqa.json"] = json.dumps(sections, ensure_ascii=False, indent=1).encode()
    return pack(sorted(members.items()))


def capture_config(context: Any) -> dict:
    """DataCaptureConfig: the share and destination of the config; JSON and text kept readable."""
    endpoint = context.aws.endpoint
    return {
        "EnableCapture": endpoint.capture_percentage > 0,
        "InitialSamplingPercentage": endpoint.capture_percentage,
        "DestinationS3Uri": context.url("datacapture"),
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"], "CsvContentTypes": ["text/plain"]},
    }


def deploy_on_sagemaker(settings: Any, model: str | None, *, wait: bool = False, on_status: Any = None,
                        understand: bool = False) -> dict:
    """Model + EndpointConfig (with data capture) + Endpoint from an Approved qa package; an
    existing endpoint is updated in place to the new config. ``understand``: the endpoint returns
    intent, slots and routes, and a front (the API's function) queries the graph."""
    from kgqa_cli.aws.jobs import AwsContext

    context = AwsContext(settings)
    endpoint = settings.aws.endpoint
    row, package_url = approved_package(context, "qa", model)
    existing = describe_endpoint(context, endpoint.name)
    if existing is not None and existing["EndpointStatus"] not in ("InService",):
        busy = existing["EndpointStatus"] in ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
        raise CloudError(f"endpoint {endpoint.name} is {existing['EndpointStatus']}: it cannot be updated now",
                         hint="wait until it is InService and deploy again" if busy else
                         "delete it (kgqa deploy --target sagemaker --delete) and deploy again")
    from kgqa_cli.aws import plan

    if plan.active() is not None:
        # The archive is the package's model repacked with the graph and config: a plan cannot read the package.
        digest = "<archive-hash>"
        archive_key = f"deploy/{endpoint.name}/{digest}/model.tar.gz"
        plan.note(f"downloads the package's model.tar.gz, repacks it with the graph and config and uploads it as "
                  f"{context.url(archive_key)} (unless there)")
    else:
        archive = endpoint_archive(settings, context.get_bytes(package_url))
        digest = hashlib.sha256(archive).hexdigest()[:12]
        archive_key = f"deploy/{endpoint.name}/{digest}/model.tar.gz"
        if archive_key not in context.bucket.remote_checksums(f"deploy/{endpoint.name}/{digest}"):
            context.put_bytes(archive_key, archive)
    image = context.image("pytorch-inference", endpoint.instance_type, endpoint.image)
    environment = {**SERVING_ENVIRONMENT, "KGQA_MODEL_KIND": "qa", "KGQA_CONFIG": "/opt/ml/model/kgqa.json"}
    if understand:
        environment["KGQA_ANSWER"] = "understand"
    # The name carries what the model is: the archive, the image and the environment.
    model_name = ensure_model(context, f"{endpoint.name[:50]}-{_short_hash(digest, image, environment)[:12]}", image,
                              context.url(archive_key), environment, row["arn"])
    from kgqa_cli.aws.plan import active

    stamp = ("YYYYMMDD-HHMMSS-plan" if active() is not None
             else f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:4]}")
    config_name = f"{endpoint.name[:63 - len(stamp) - 1]}-{stamp}"
    capture = capture_config(context)
    context.call("create the endpoint config", context.sagemaker.create_endpoint_config,
                 EndpointConfigName=config_name,
                 ProductionVariants=[{"VariantName": endpoint.variant_name, "ModelName": model_name,
                                      "InitialInstanceCount": endpoint.initial_instance_count,
                                      "InstanceType": endpoint.instance_type, "InitialVariantWeight": 1.0}],
                 DataCaptureConfig=capture, Tags=context.tags("deploy"))
    from kgqa_cli.aws.scaling import apply_alarms, apply_scaling, remove_alarms, remove_scaling

    if existing is None:
        context.call("create the endpoint", context.sagemaker.create_endpoint, EndpointName=endpoint.name,
                     EndpointConfigName=config_name, Tags=context.tags("deploy"))
        action = "created"
    else:
        # An update that changes the instance type fails while the variant is a scalable target:
        # off scaling for the update, back on once InService, at the instance count scaling chose.
        scaled = remove_scaling(context, endpoint)
        try:
            context.call("update the endpoint", context.sagemaker.update_endpoint, EndpointName=endpoint.name,
                         EndpointConfigName=config_name, RetainAllVariantProperties=scaled)
        except CloudError:
            if scaled:  # the endpoint stays as it was: so does its scaling
                apply_scaling(context, endpoint)
            raise
        action = "updated"
    result = {"endpoint": endpoint.name, "action": action, "endpoint_config": config_name, "model": model_name,
              "model_version": row["name"], "model_package": row["arn"], "model_data": context.url(archive_key),
              "image": image, "capture": capture["DestinationS3Uri"] if capture["EnableCapture"] else None,
              "status": (existing or {}).get("EndpointStatus", "Creating") if action == "updated" else "Creating"}
    result["alarms"] = apply_alarms(context, endpoint) if endpoint.alarms.enabled else []
    if not endpoint.alarms.enabled:
        remove_alarms(context, endpoint)
    result["alarm_topic"] = settings.aws.sns_topic_arn if endpoint.alarms.enabled else None
    result["autoscaling"] = None
    if wait or endpoint.autoscaling.enabled:  # scaling is registered on an InService variant
        result["status"] = wait_for_endpoint(context, endpoint.name, on_status)
    if endpoint.autoscaling.enabled:
        result["autoscaling"] = apply_scaling(context, endpoint)
    return result


def describe_endpoint(context: Any, name: str) -> dict | None:
    """The endpoint's description, or None when there is none of that name."""
    from botocore.exceptions import ClientError

    try:
        return context.sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if _not_found(exc):
            return None
        raise CloudError(f"SageMaker refused to describe the endpoint {name}: {exc}") from exc


def wait_for_endpoint(context: Any, name: str, on_status: Any = None, poll_seconds: float = 20.0) -> str:
    """Wait (boto3's ``endpoint_in_service`` waiter, at most ``aws.wait_timeout_minutes``) until
    the endpoint is InService; a failed endpoint is a :class:`CloudError` with SageMaker's reason."""
    from kgqa_cli.aws.plan import active
    from kgqa_cli.aws.waiting import wait_with_waiter

    if active() is not None:  # a plan does not wait: what follows is planned as if it were InService
        return "InService"
    described = describe_endpoint(context, name)
    if described is None:
        raise CloudError(f"endpoint {name} disappeared while waiting for it")
    if on_status:
        on_status(described["EndpointStatus"], described.get("FailureReason", ""))
    if described["EndpointStatus"] != "InService":
        wait_with_waiter(context.sagemaker, "endpoint_in_service", f"the endpoint {name}",
                         context.aws.wait_timeout_minutes, poll_seconds, failure_is_an_answer=True,
                         hint=f"it goes on in SageMaker; `aws sagemaker describe-endpoint --endpoint-name {name}` shows it",
                         EndpointName=name)
        described = describe_endpoint(context, name)
        if described is None:
            raise CloudError(f"endpoint {name} disappeared while waiting for it")
        if on_status:
            on_status(described["EndpointStatus"], described.get("FailureReason", ""))
    status = described["EndpointStatus"]
    if status != "InService":
        raise CloudError(f"endpoint {name} is {status}: {described.get('FailureReason', 'no reason given')}")
    return status


def delete_endpoint(settings: Any) -> dict:
    """Delete the endpoint, its endpoint configs and the models kgqa made for it."""
    from kgqa_cli.aws.jobs import AwsContext

    context = AwsContext(settings, need_role=False)
    name = settings.aws.endpoint.name
    from kgqa_cli.aws import plan

    described = describe_endpoint(context, name)
    if described is None and plan.active() is not None:
        plan.assume(f"the endpoint {name}: a plan cannot see what it has, so it lists no configs or models to delete")
    elif described is None:
        raise MissingArtifactError(f"no SageMaker endpoint named {name}")
    from kgqa_cli.aws.scaling import remove_alarms, remove_scaling

    scaling_removed = remove_scaling(context, settings.aws.endpoint)
    alarms_removed = remove_alarms(context, settings.aws.endpoint)
    context.call("delete the endpoint", context.sagemaker.delete_endpoint, EndpointName=name)
    from kgqa_cli.aws.s3 import paginated

    configs = context.call("list endpoint configs", paginated, client=context.sagemaker,
                           operation="list_endpoint_configs", result_key="EndpointConfigs", NameContains=name)
    removed_configs, removed_models = [], set()
    for item in configs:
        config_name = item["EndpointConfigName"]
        if not config_name.startswith(f"{name}-"):
            continue
        config = context.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        removed_models.update(v["ModelName"] for v in config["ProductionVariants"] if v["ModelName"].startswith(f"{name}-"))
        context.call("delete an endpoint config", context.sagemaker.delete_endpoint_config, EndpointConfigName=config_name)
        removed_configs.append(config_name)
    for model_name in sorted(removed_models):
        context.call("delete a model", context.sagemaker.delete_model, ModelName=model_name)
    return {"endpoint": name, "deleted": True, "endpoint_configs": removed_configs, "models": sorted(removed_models),
            "autoscaling_removed": scaling_removed, "alarms": alarms_removed}


def check_target_options(host: str, port: int | None, allow_unapproved: bool) -> None:
    """Local serving options mean nothing to a SageMaker endpoint: refuse them."""
    if host != "127.0.0.1" or port is not None or allow_unapproved:
        raise ConfigError("--host, --port and --allow-unapproved apply to the local endpoint; "
                          "a SageMaker endpoint serves an Approved package (set aws.endpoint.*)")
