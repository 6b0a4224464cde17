"""Plan mode: a command runs as it would, but no request leaves the machine.

Inside :func:`planning`, every boto3 session kgqa makes (:func:`kgqa_cli.aws.s3.aws_session`)
answers its calls itself, before signing, so no credentials and no network are needed. Each
request is kept (service, operation, parameters) and answered as a fresh account would: a
read of one named thing finds nothing, a listing is empty, a write succeeds with placeholder
fields. Two reads cannot be answered that way without stopping the command, so the plan
assumes them and says so: the newest Approved package of a model group (deploy, extract),
and the Neptune cluster's endpoint before `kgqa graph create` has run. Waits end at once.

The plan lists the requests in the order they would be sent, the resources they would create,
change or delete, and a cost estimate from :mod:`kgqa_cli.aws.cost`. Names that carry the time
or a random suffix are fixed placeholders, so two plans of the same inputs are the same text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kgqa_cli.aws.config import AwsConfig

_ACTIVE: Planner | None = None
_LOCK = threading.Lock()

# Operation name prefixes of requests that change something, and what they do to it.
EFFECTS = (("Create", "create"), ("Register", "create"), ("Put", "change"), ("Update", "change"),
           ("Add", "change"), ("Attach", "change"), ("Tag", "change"), ("Start", "start"), ("Publish", "change"),
           ("Delete", "delete"), ("Deregister", "delete"), ("Remove", "delete"), ("Stop", "stop"),
           ("Upload", "change"), ("Complete", "change"))
# Reads of one named thing (a listing answers empty, whatever its verb: see listing()).
LOOKUPS = ("Describe", "Get", "Head")
# Reads that are no lookup of a named thing: answered with placeholders, not "not found".
ANSWERED_READS = {("sts", "GetCallerIdentity")}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class Planner:
    """The requests of one plan and the assumptions it made."""

    def __init__(self, aws: AwsConfig | None = None) -> None:
        self.aws = aws  # the config whose aws.hourly_prices the cost lines use
        self.requests: list[dict] = []
        self.assumed: list[str] = []
        self.notes: list[str] = []
        self.costs: list[dict] = []

    # -- answering botocore ----------------------------------------------------------------------

    def keep_parameters(self, params: dict, context: dict, **_: Any) -> None:
        """``before-parameter-build``: the call's own arguments, before serialisation."""
        context["kgqa_plan_params"] = dict(params)

    def answer(self, model: Any, context: dict, **_: Any) -> tuple[Any, dict]:
        """``before-call``: keep the request; answer it without sending it."""
        service = model.service_model.service_name
        params = context.get("kgqa_plan_params", {})
        with _LOCK:
            shown = printable(params)
            for member, shape in (model.input_shape.members.items() if model.input_shape is not None else ()):
                if shape.metadata.get("idempotencyToken") and member in shown:
                    shown[member] = "<a token boto3 makes for each call>"  # random: kept out of the plan
            if isinstance(shown.get("PipelineDefinition"), str):  # the definition as JSON, not a string of it
                with contextlib.suppress(ValueError):
                    shown["PipelineDefinition"] = json.loads(shown["PipelineDefinition"])
            self.requests.append({"service": service, "operation": model.name, "params": shown})
            self.costs.extend(cost_lines(self.aws, service, model.name, params))
        return self._response(service, model, params)

    def _response(self, service: str, model: Any, params: dict) -> tuple[Any, dict]:
        from botocore.awsrequest import AWSResponse

        name = model.name
        special = ASSUMED.get((service, name))
        if special is not None:
            return AWSResponse("planned", 200, {}, None), special(self, params)
        if name.startswith(LOOKUPS) and (service, name) not in ANSWERED_READS and not listing(name):
            code, message = not_found(service, model)
            status = 404 if service == "s3" else 400
            return AWSResponse("planned", status, {}, None), {
                "Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
        parsed = placeholder(model.output_shape, name) if model.output_shape is not None else {}
        parsed["ResponseMetadata"] = {"HTTPStatusCode": 200}
        return AWSResponse("planned", 200, {}, None), parsed

    # -- the result --------------------------------------------------------------------------------

    def resources(self) -> list[dict]:
        """What the requests would create, change, start or delete, in order, once each."""
        seen, rows = set(), []
        for request in self.requests:
            effect = next((e for prefix, e in EFFECTS if request["operation"].startswith(prefix)), None)
            if effect is None:
                continue
            row = {"effect": effect, "service": request["service"], "operation": request["operation"],
                   "name": resource_name(request)}
            key = tuple(row.values())
            if key not in seen:
                seen.add(key)
                rows.append(row)
        return rows

    def report(self) -> dict:
        from kgqa_cli.aws.cost import total

        return {"planned": True, "requests": self.requests, "resources": self.resources(),
                "cost": total(self.costs), "assumed": self.assumed, "notes": self.notes}


def active() -> Planner | None:
    """The plan being made, or None when requests are really sent."""
    return _ACTIVE


@contextlib.contextmanager
def planning(aws: AwsConfig | None = None) -> Iterator[Planner]:
    """Make a plan: boto3 sessions made inside answer every call themselves. ``aws``: the
    config section whose prices the cost estimate uses."""
    global _ACTIVE
    if _ACTIVE is not None:
        raise RuntimeError("a plan is already being made")
    _ACTIVE = Planner(aws)
    try:
        yield _ACTIVE
    finally:
        _ACTIVE = None


def attach(session: Any) -> None:
    """Route a boto3 session's calls to the active plan (nothing outside plan mode)."""
    planner = _ACTIVE
    if planner is None:
        return
    session.events.register("before-parameter-build", planner.keep_parameters)
    session.events.register("before-call", planner.answer)


def stage_of(name: str) -> str:
    """The stage a job or pipeline step name is of (its expected minutes), by its words."""
    import re

    tokens = [token.lower() for token in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+", name)]
    words = " ".join(tokens)
    for needle, stage in (("train", "train"), ("preprocess", "preprocess"), ("evaluat", "evaluate"),
                          ("transform", "transform"), ("extract", "transform"), ("monitor", "monitor"),
                          ("question", "questions"), ("load", "bulkload")):
        if needle in words:
            if stage == "train":
                return "train-qa" if "qa" in tokens else "train-kg"
            return stage
    return "other"


def _job_cost(aws: AwsConfig | None, stage_name: str, arguments: dict) -> list[dict]:
    from kgqa_cli.aws.cost import EXPECTED_MINUTES, job

    resources = (arguments.get("ResourceConfig") or arguments.get("TransformResources")
                 or (arguments.get("ProcessingResources") or {}).get("ClusterConfig") or {})
    if "InstanceType" not in resources:
        return []
    stage = stage_of(stage_name)
    return [job(aws, stage_name, resources["InstanceType"], resources.get("InstanceCount", 1),
                EXPECTED_MINUTES.get(stage, 10))]


def cost_lines(aws: AwsConfig | None, service: str, operation: str, params: dict) -> list[dict]:
    """The cost of what one request starts: a job, an endpoint, a Neptune instance, a pipeline run."""
    from kgqa_cli.aws.cost import hourly

    if service == "sagemaker" and operation in ("CreateTrainingJob", "CreateProcessingJob", "CreateTransformJob"):
        name = next((v for k, v in params.items() if k.endswith("JobName")), operation)
        if operation == "CreateTrainingJob":  # training jobs are named kgqa-<kind>-...
            name = f"train {name.removeprefix('kgqa-')}"
        return _job_cost(aws, name, params)
    if service == "sagemaker" and operation == "CreateEndpointConfig":
        return [hourly(aws, f"endpoint variant {v.get('VariantName')}", v["InstanceType"],
                       v.get("InitialInstanceCount", 1)) for v in params.get("ProductionVariants", [])
                if "InstanceType" in v]
    if service == "neptune" and operation == "CreateDBInstance":
        return [hourly(aws, f"Neptune instance {params.get('DBInstanceIdentifier')}",
                       params.get("DBInstanceClass", ""), 1)]
    if service == "sagemaker" and operation in ("CreatePipeline", "UpdatePipeline"):
        try:
            steps = list(json.loads(params.get("PipelineDefinition") or "{}").get("Steps", []))
        except ValueError:
            return []
        lines = []
        while steps:
            step = steps.pop(0)
            arguments = step.get("Arguments") or {}
            steps.extend(arguments.get("IfSteps", []) + arguments.get("ElseSteps", []))
            lines += _job_cost(aws, f"step {step.get('Name')}", arguments)
        return lines
    return []


def assume(text: str) -> None:
    """Say what the plan took for granted that it could not read."""
    if _ACTIVE is not None and text not in _ACTIVE.assumed:
        _ACTIVE.assumed.append(text)


def note(text: str) -> None:
    """A remark printed with the plan."""
    if _ACTIVE is not None and text not in _ACTIVE.notes:
        _ACTIVE.notes.append(text)


# -- placeholders ---------------------------------------------------------------------------------

def printable(value: Any) -> Any:
    """A request's arguments as stable JSON: bodies become their size and hash."""
    if isinstance(value, dict):
        return {key: printable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": len(value), "sha256": hashlib.sha256(value).hexdigest()}
    if hasattr(value, "read"):  # a file being uploaded
        return {"stream": True, **({"bytes": len(value)} if hasattr(value, "__len__") else {})}
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def placeholder(shape: Any, name: str, depth: int = 0) -> Any:
    """A value of a botocore shape: ``<Member>`` strings, zeros, empty lists."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 4:
            return {}
        # No page tokens: a listing ends on its first (empty) page.
        return {member: placeholder(inner, member, depth + 1) for member, inner in shape.members.items()
                if not getattr(inner, "serialization", {}).get("eventstream")
                and not any(word in member for word in ("Token", "Marker"))}
    if kind == "list":
        return []
    if kind == "map":
        return {}
    if kind == "string":
        return shape.enum[0] if getattr(shape, "enum", None) else f"<{name}>"
    if kind in ("integer", "long"):
        return 0
    if kind in ("float", "double"):
        return 0.0
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return EPOCH
    if kind == "blob":
        if getattr(shape, "serialization", {}).get("streaming") or shape.metadata.get("streaming"):
            import io

            from botocore.response import StreamingBody

            return StreamingBody(io.BytesIO(b""), 0)
        return b""
    return None


def listing(operation: str) -> bool:
    """Whether a Describe/Get reads many things (DescribeAlarms, GetApis): answered empty, not "not found"."""
    return operation.endswith("s") and not operation.endswith(("Status", "Access", "Address", "Progress"))


def not_found(service: str, model: Any) -> tuple[str, str]:
    """The error a service gives for a read of something that does not exist."""
    for shape in getattr(model, "error_shapes", []) or []:
        if any(word in shape.name for word in ("NotFound", "NoSuch")):
            return getattr(shape, "error_code", None) or shape.name, "planned: assumed absent"
    if service == "sagemaker":  # SageMaker answers ValidationException "Could not find ..."
        return "ValidationException", "Could not find it (planned: assumed absent)"
    if service == "s3":
        return "404", "Not Found"
    return "ResourceNotFoundException", "planned: assumed absent"


def resource_name(request: dict) -> str:
    """The name a request acts on: a bucket key, else its first ``...Name``/``...Id``/``...Arn`` field."""
    params = request["params"]
    if request["service"] == "s3" and ("Key" in params or "Prefix" in params):
        return f"s3://{params.get('Bucket')}/{params.get('Key', params.get('Prefix'))}"
    for suffix in ("Name", "Identifier", "Id", "Arn", "ARN", "Key"):
        for key, value in params.items():
            if key.endswith(suffix) and isinstance(value, str):
                return value
    return ""


# -- the reads a plan assumes ----------------------------------------------------------------------

def _approved_packages(planner: Planner, params: dict) -> dict:
    group = params.get("ModelPackageGroupName", "")
    assumption = f"an Approved package in {group}: the newest one the registry holds when this runs"
    if assumption not in planner.assumed:
        planner.assumed.append(assumption)
    return {"ModelPackageSummaryList": [{
        "ModelPackageGroupName": group, "ModelPackageVersion": 0, "ModelApprovalStatus": "Approved",
        "ModelPackageArn": f"<the newest Approved package of {group}>", "CreationTime": EPOCH}],
        "ResponseMetadata": {"HTTPStatusCode": 200}}


def _package(planner: Planner, params: dict) -> dict:
    arn = params.get("ModelPackageName", "")
    return {"ModelPackageArn": arn, "ModelPackageGroupName": "<group>", "ModelPackageVersion": 0,
            "ModelApprovalStatus": "Approved", "CreationTime": EPOCH,
            "InferenceSpecification": {"Containers": [{"Image": "<image>", "ModelDataUrl": f"<model data of {arn}>"}]},
            "CustomerMetadataProperties": {}, "ResponseMetadata": {"HTTPStatusCode": 200}}


def _load_started(planner: Planner, params: dict) -> dict:
    return {"status": "200 OK", "payload": {"loadId": "<the load id Neptune gives>"},
            "ResponseMetadata": {"HTTPStatusCode": 200}}


def _no_notifications(planner: Planner, params: dict) -> dict:
    return {"ResponseMetadata": {"HTTPStatusCode": 200}}  # what S3 answers for a bucket that sends none


ASSUMED = {("sagemaker", "ListModelPackages"): _approved_packages, ("sagemaker", "DescribeModelPackage"): _package,
           ("neptunedata", "StartLoaderJob"): _load_started,
           ("s3", "GetBucketNotificationConfiguration"): _no_notifications}
