"""The endpoint (boto3): `kgqa deploy --target sagemaker [--delete]`.

It serves a package of the SageMaker model registry. The endpoint's archive is the package's
model with the graph and the config added (the question model answers from the graph), so
deploy repacks it once per content; the endpoint config captures a share of the traffic under
the workspace's datacapture/ on S3, and alarms and autoscaling follow the config.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.aws.models import SERVING_ENVIRONMENT, approved_package, ensure_model, not_found, short_hash
from kgqa_cli.errors import CloudError, ConfigError, MissingArtifactError

if TYPE_CHECKING:
    from kgqa_cli.aws.config import EndpointConfig
    from kgqa_cli.aws.jobs import AwsContext, AwsPlan, OnStatus
    from kgqa_cli.settings import KgqaConfig


def endpoint_archive(settings: KgqaConfig, package_archive: bytes) -> bytes:
    """The endpoint's model archive: the package's model, ``code/``, the config and the graph
    (unless the graph is a server, ``graph.url``), deterministic for the same content."""
    from kgqa_cli.aws.source import pack, source_members

    members: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(package_archive), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile():  # data only: no links, devices or absolute paths
                name = member.name.lstrip("./")
                handle = archive.extractfile(member)  # a regular file's member always has its data
                if ".." not in Path(name).parts and handle is not None:
                    members[name] = handle.read()
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


def capture_config(context: AwsPlan) -> dict[str, Any]:
    """DataCaptureConfig: the share and destination of the config; JSON and text kept readable."""
    endpoint, paths = context.aws.endpoint, context.settings.paths
    return {
        "EnableCapture": endpoint.capture_percentage > 0,
        "InitialSamplingPercentage": endpoint.capture_percentage,
        "DestinationS3Uri": context.url(paths.relative(paths.datacapture_dir)),
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"], "CsvContentTypes": ["text/plain"]},
    }


def deploy_on_sagemaker(settings: KgqaConfig, model: str | None, *, wait: bool = False,
                        on_status: OnStatus = None, understand: bool = False) -> dict[str, Any]:
    """Model + EndpointConfig (with data capture) + Endpoint from an Approved qa package; an
    existing endpoint is updated in place to the new config. ``understand``: the endpoint returns
    intent, slots and routes, and a front (the API's function) queries the graph."""
    from kgqa_cli.aws.jobs import AwsContext

    context = AwsContext(settings)
    endpoint = settings.aws.endpoint
    row, package_url = approved_package(context, "qa", model)
    existing = _updatable_endpoint(context, endpoint)
    digest, archive_key = _upload_endpoint_archive(settings, context, package_url)
    image = context.image("pytorch-inference", endpoint.instance_type, endpoint.image)
    environment = {**SERVING_ENVIRONMENT, "KGQA_MODEL_KIND": "qa", "KGQA_CONFIG": "/opt/ml/model/kgqa.json"}
    if understand:
        environment["KGQA_ANSWER"] = "understand"
    # The name carries what the model is: the archive, the image and the environment.
    model_name = ensure_model(context, f"{endpoint.name[:50]}-{short_hash(digest, image, environment)[:12]}", image,
                              context.url(archive_key), environment, row["arn"])
    config_name = _endpoint_config_name(endpoint)
    capture = capture_config(context)
    context.call("create the endpoint config", context.sagemaker.create_endpoint_config,
                 EndpointConfigName=config_name,
                 ProductionVariants=[{"VariantName": endpoint.variant_name, "ModelName": model_name,
                                      "InitialInstanceCount": endpoint.initial_instance_count,
                                      "InstanceType": endpoint.instance_type, "InitialVariantWeight": 1.0}],
                 DataCaptureConfig=capture, Tags=context.tags("deploy"))
    action = _create_or_update_endpoint(context, endpoint, config_name, existing)
    result = {"endpoint": endpoint.name, "action": action, "endpoint_config": config_name, "model": model_name,
              "model_version": row["name"], "model_package": row["arn"], "model_data": context.url(archive_key),
              "image": image, "capture": capture["DestinationS3Uri"] if capture["EnableCapture"] else None,
              "status": (existing or {}).get("EndpointStatus", "Creating") if action == "updated" else "Creating"}
    result.update(_alarms_and_scaling(settings, context, wait, on_status, result["status"]))
    return result


def _updatable_endpoint(context: AwsContext, endpoint: EndpointConfig) -> dict[str, Any] | None:
    """The endpoint's description (None when there is none); one not InService cannot be updated."""
    existing = describe_endpoint(context, endpoint.name)
    if existing is not None and existing["EndpointStatus"] not in ("InService",):
        busy = existing["EndpointStatus"] in ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
        raise CloudError(f"endpoint {endpoint.name} is {existing['EndpointStatus']}: it cannot be updated now",
                         hint="wait until it is InService and deploy again" if busy else
                         "delete it (kgqa deploy --target sagemaker --delete) and deploy again")
    return existing


def _upload_endpoint_archive(settings: KgqaConfig, context: AwsContext, package_url: str) -> tuple[str, str]:
    """The endpoint's archive (:func:`endpoint_archive`) under ``deploy/<endpoint>/<hash>/``,
    uploaded unless there: its content hash and key."""
    from kgqa_cli.aws import plan

    endpoint = settings.aws.endpoint
    if plan.active() is not None:
        # The archive is the package's model repacked with the graph and config: a plan cannot read the package.
        digest = "<archive-hash>"
        archive_key = f"deploy/{endpoint.name}/{digest}/model.tar.gz"
        plan.note(f"downloads the package's model.tar.gz, repacks it with the graph and config and uploads it as "
                  f"{context.url(archive_key)} (unless there)")
        return digest, archive_key
    archive = endpoint_archive(settings, context.get_bytes(package_url))
    digest = hashlib.sha256(archive).hexdigest()[:12]
    archive_key = f"deploy/{endpoint.name}/{digest}/model.tar.gz"
    if archive_key not in context.bucket.remote_checksums(f"deploy/{endpoint.name}/{digest}"):
        context.put_bytes(archive_key, archive)
    return digest, archive_key


def _endpoint_config_name(endpoint: EndpointConfig) -> str:
    """A new endpoint config's name: the endpoint's and the time (a fixed stamp in a plan)."""
    from kgqa_cli.aws.plan import active

    stamp = ("YYYYMMDD-HHMMSS-plan" if active() is not None
             else f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:4]}")
    return f"{endpoint.name[:63 - len(stamp) - 1]}-{stamp}"


def _create_or_update_endpoint(context: AwsContext, endpoint: EndpointConfig, config_name: str,
                               existing: dict[str, Any] | None) -> str:
    """Create the endpoint on the config, or update the existing one to it: ``created`` or ``updated``."""
    from kgqa_cli.aws.scaling import apply_scaling, remove_scaling

    if existing is None:
        context.call("create the endpoint", context.sagemaker.create_endpoint, EndpointName=endpoint.name,
                     EndpointConfigName=config_name, Tags=context.tags("deploy"))
        return "created"
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
    return "updated"


def _alarms_and_scaling(settings: KgqaConfig, context: AwsContext, wait: bool, on_status: OnStatus,
                        status: str) -> dict[str, Any]:
    """The endpoint's alarms (made, or removed when off) and autoscaling, which is registered on
    an InService variant (so it waits then, as ``wait`` does): ``alarms``, ``alarm_topic``,
    ``autoscaling`` and the ``status`` waited for."""
    from kgqa_cli.aws.scaling import apply_alarms, apply_scaling, remove_alarms

    endpoint = settings.aws.endpoint
    done: dict[str, Any] = {"alarms": apply_alarms(context, endpoint) if endpoint.alarms.enabled else []}
    if not endpoint.alarms.enabled:
        remove_alarms(context, endpoint)
    done["alarm_topic"] = settings.aws.sns_topic_arn if endpoint.alarms.enabled else None
    done["autoscaling"] = None
    if wait or endpoint.autoscaling.enabled:
        status = wait_for_endpoint(context, endpoint.name, on_status)
    if endpoint.autoscaling.enabled:
        done["autoscaling"] = apply_scaling(context, endpoint)
    return {**done, "status": status}


def describe_endpoint(context: AwsContext, name: str) -> dict[str, Any] | None:
    """The endpoint's description, or None when there is none of that name."""
    from botocore.exceptions import ClientError

    try:
        return context.sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if not_found(exc):
            return None
        raise CloudError(f"SageMaker refused to describe the endpoint {name}: {exc}") from exc


def wait_for_endpoint(context: AwsContext, name: str, on_status: OnStatus = None, poll_seconds: float = 20.0) -> str:
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


def delete_endpoint(settings: KgqaConfig) -> dict[str, Any]:
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
    removed_configs: list[str] = []
    removed_models: set[str] = set()
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
