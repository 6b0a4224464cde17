"""`kgqa deploy --target sagemaker --api`: the public API in front of the endpoint (boto3
``lambda``, ``apigatewayv2``, ``iam``): the Lambda function of :mod:`kgqa_cli.entrypoints.lambda_api`,
an HTTP API with the route ``POST /ask`` and its throttling, created or updated in place.

The function's zip holds kgqa itself, its light dependencies (gremlinpython, pydantic, PyYAML,
pyahocorasick and theirs), installed for Lambda's platform at the versions of constraints.txt,
and ``configs/questions.yaml`` (the predicate lexicon the answers are read with; the function runs
in the zip's folder, where the default config finds it); boto3 comes with the runtime.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.errors import ConfigError

if TYPE_CHECKING:
    from kgqa_cli.aws.config import ApiConfig
    from kgqa_cli.aws.jobs import AwsContext
    from kgqa_cli.settings import KgqaConfig

ZIP_PACKAGES = ("gremlinpython", "pydantic", "PyYAML", "pyahocorasick")


def _constraints() -> Path | None:
    import kgqa_cli

    candidate = Path(kgqa_cli.__file__).resolve().parents[1] / "constraints.txt"
    return candidate if candidate.exists() else None


def function_zip(runtime: str = "3.11") -> bytes:
    """The function's code: kgqa_cli plus its light dependencies for manylinux x86_64 (deterministic
    member order and times, so the same code gives the same hash)."""
    import kgqa_cli

    with tempfile.TemporaryDirectory(prefix="kgqa-lambda-") as scratch:
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target",
                   scratch, "--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version",
                   runtime, "--only-binary=:all:", *ZIP_PACKAGES]
        constraints = _constraints()
        if constraints:
            command[5:5] = ["-c", str(constraints)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise ConfigError(f"cannot gather the function's dependencies: {done.stderr.strip().splitlines()[-1:]}",
                              hint="pip must reach a package index with manylinux wheels")
        files = [p for p in sorted(Path(scratch).rglob("*")) if p.is_file() and "__pycache__" not in p.parts
                 and p.relative_to(scratch).parts[0] != "bin"]
        package = Path(kgqa_cli.__file__).resolve().parent
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                info = zipfile.ZipInfo(path.relative_to(scratch).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
            for path in sorted(package.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    info = zipfile.ZipInfo(f"kgqa_cli/{path.relative_to(package).as_posix()}",
                                           date_time=(1980, 1, 1, 0, 0, 0))
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
            templates = package.parent / "configs" / "questions.yaml"
            if templates.is_file():
                info = zipfile.ZipInfo("configs/questions.yaml", date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                archive.writestr(info, templates.read_bytes(), zipfile.ZIP_DEFLATED)
        return buffer.getvalue()


def deploy_api(settings: KgqaConfig, function_code: bytes | None = None) -> dict[str, Any]:
    """Create or update the function, the HTTP API, its route, stage and throttling."""
    from kgqa_cli.aws.jobs import AwsContext

    context = AwsContext(settings, need_role=False)
    api = settings.aws.api
    account = context.client("sts").get_caller_identity()["Account"]
    region = context.region
    changes: list[str] = []
    role_arn = _ensure_role(context, settings, account, region, changes)
    environment = _function_environment(settings)
    code = function_code if function_code is not None else function_zip()
    digest = hashlib.sha256(code).hexdigest()
    configuration: dict[str, Any] = {
        "Role": role_arn, "Handler": "kgqa_cli.entrypoints.lambda_api.handler", "Runtime": api.runtime,
        "Timeout": api.timeout_seconds, "MemorySize": api.memory_mb, "Environment": {"Variables": environment}}
    if api.subnet_ids:
        configuration["VpcConfig"] = {"SubnetIds": api.subnet_ids, "SecurityGroupIds": api.security_group_ids}
    function_arn = _ensure_function(context, api, code, digest, configuration, changes)
    gateway = context.client("apigatewayv2")
    api_id = _ensure_http_api(context, gateway, api, changes)
    _ensure_route(context, gateway, api, api_id, function_arn, changes)
    throttling = {"ThrottlingBurstLimit": api.burst_limit, "ThrottlingRateLimit": float(api.rate_limit)}
    _ensure_stage(context, gateway, api_id, throttling, changes)
    _ensure_permission(context, api, f"arn:aws:execute-api:{region}:{account}:{api_id}/*/*/ask", changes)
    url = f"https://{api_id}.execute-api.{region}.amazonaws.com/ask"
    return {"function": api.function_name, "function_arn": function_arn, "api_id": api_id, "url": url,
            "environment": environment, "code_sha256": digest, "throttling": throttling, "changes": changes}


def _function_environment(settings: KgqaConfig) -> dict[str, str]:
    """The function's environment: the endpoint it asks, and the graph server it queries (the
    Neptune cluster of `kgqa graph create --target neptune`, else ``graph.url``)."""
    from kgqa_cli.aws.neptune import read_state, state_or_assumed

    state = read_state(settings) if settings.graph.url else state_or_assumed(settings)
    environment = {"KGQA_ENDPOINT": settings.aws.endpoint.name}
    if state.get("endpoint"):
        environment["KGQA_GRAPH_URL"] = f"wss://{state['endpoint']}:{state.get('port', 8182)}/gremlin"
        environment["KGQA_GRAPH_SIGV4"] = "1" if state.get("iam_auth") else "0"
    elif settings.graph.url:
        environment["KGQA_GRAPH_URL"] = settings.graph.url
        environment["KGQA_GRAPH_SIGV4"] = "1" if settings.graph.sigv4 else "0"
    else:
        raise ConfigError("the API's function needs a graph server: run `kgqa graph create --target neptune` "
                          "(and `kgqa bulkload --target neptune`), or set graph.url")
    return environment


def _ensure_function(context: AwsContext, api: ApiConfig, code: bytes, digest: str, configuration: dict[str, Any],
                     changes: list[str]) -> str:
    """Create the function, or update its code and configuration where they differ; its ARN."""
    lam = context.client("lambda")
    found = context.call("read the function", lam.get_function, missing=("ResourceNotFoundException",),
                         FunctionName=api.function_name)
    current = found["Configuration"] if found else None
    if current is None:
        current = context.call("create the function", lam.create_function, FunctionName=api.function_name,
                               Code={"ZipFile": code}, Description="kgqa: the public question-answering API",
                               Tags={t["Key"]: t["Value"] for t in context.tags("api")}, **configuration)
        changes.append(f"function {api.function_name}")
        return current["FunctionArn"]
    import base64

    if base64.b64decode(current.get("CodeSha256", "")).hex() != digest:
        context.call("update the function's code", lam.update_function_code, FunctionName=api.function_name,
                     ZipFile=code)
        changes.append(f"code of {api.function_name}")
    wanted = {k: v for k, v in configuration.items() if k != "VpcConfig"}
    have = {"Role": current.get("Role"), "Handler": current.get("Handler"), "Runtime": current.get("Runtime"),
            "Timeout": current.get("Timeout"), "MemorySize": current.get("MemorySize"),
            "Environment": {"Variables": (current.get("Environment") or {}).get("Variables", {})}}
    if have != wanted:
        context.call("update the function's configuration", lam.update_function_configuration,
                     FunctionName=api.function_name, **configuration)
        changes.append(f"configuration of {api.function_name}")
    return current["FunctionArn"]


def _ensure_http_api(context: AwsContext, gateway: Any, api: ApiConfig, changes: list[str]) -> str:
    """The HTTP API ``aws.api.api_name``, created unless there; its id."""
    found = [a for a in context.call("list the APIs", gateway.get_apis).get("Items", []) if a["Name"] == api.api_name]
    if found:
        return found[0]["ApiId"]
    api_id = context.call("create the HTTP API", gateway.create_api, Name=api.api_name, ProtocolType="HTTP",
                          Tags={t["Key"]: t["Value"] for t in context.tags("api")})["ApiId"]
    changes.append(f"HTTP API {api.api_name}")
    return api_id


def _ensure_route(context: AwsContext, gateway: Any, api: ApiConfig, api_id: str, function_arn: str,
                  changes: list[str]) -> None:
    """The function's integration and the route ``POST /ask`` to it."""
    integrations = context.call("list the integrations", gateway.get_integrations, ApiId=api_id).get("Items", [])
    integration = next((i for i in integrations if i.get("IntegrationUri") == function_arn), None)
    if integration is None:
        integration = context.call("integrate the function", gateway.create_integration, ApiId=api_id,
                                   IntegrationType="AWS_PROXY", IntegrationUri=function_arn,
                                   PayloadFormatVersion="2.0", TimeoutInMillis=min(30_000, api.timeout_seconds * 1000))
        changes.append("integration")
    routes = context.call("list the routes", gateway.get_routes, ApiId=api_id).get("Items", [])
    target = f"integrations/{integration['IntegrationId']}"
    route = next((r for r in routes if r["RouteKey"] == "POST /ask"), None)
    if route is None:
        context.call("create the route", gateway.create_route, ApiId=api_id, RouteKey="POST /ask", Target=target)
        changes.append("route POST /ask")
    elif route.get("Target") != target:
        context.call("update the route", gateway.update_route, ApiId=api_id, RouteId=route["RouteId"], Target=target)
        changes.append("route POST /ask")


def _ensure_stage(context: AwsContext, gateway: Any, api_id: str, throttling: dict[str, Any],
                  changes: list[str]) -> None:
    """The ``$default`` stage, deployed automatically, with the configured throttling."""
    stages = context.call("list the stages", gateway.get_stages, ApiId=api_id).get("Items", [])
    stage = next((s for s in stages if s["StageName"] == "$default"), None)
    if stage is None:
        context.call("create the stage", gateway.create_stage, ApiId=api_id, StageName="$default", AutoDeploy=True,
                     DefaultRouteSettings=throttling)
        changes.append("stage $default")
    elif {k: stage.get("DefaultRouteSettings", {}).get(k) for k in throttling} != throttling:
        context.call("update the throttling", gateway.update_stage, ApiId=api_id, StageName="$default",
                     DefaultRouteSettings=throttling)
        changes.append("throttling")


def _ensure_permission(context: AwsContext, api: ApiConfig, source_arn: str, changes: list[str]) -> None:
    """The function's permission for the API (``source_arn``) to invoke it."""
    lam = context.client("lambda")
    policy = context.call("read the function's policy", lam.get_policy, missing=("ResourceNotFoundException",),
                          FunctionName=api.function_name)
    statements = json.loads(policy["Policy"]).get("Statement", []) if policy else []
    if not any(s.get("Sid") == "kgqa-http-api" for s in statements):
        context.call("let the API invoke the function", lam.add_permission, FunctionName=api.function_name,
                     StatementId="kgqa-http-api", Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
                     SourceArn=source_arn)
        changes.append("permission to invoke")


def _ensure_role(context: AwsContext, settings: KgqaConfig, account: str, region: str, changes: list[str]) -> str:
    """The function's role: its logs, invoking the endpoint, reading the graph; nothing else."""
    from kgqa_cli.aws.iam import ensure_role

    api = settings.aws.api
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{api.function_name}*"},
        {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint",
         "Resource": f"arn:aws:sagemaker:{region}:{account}:endpoint/{settings.aws.endpoint.name}"},
        {"Effect": "Allow", "Action": ["neptune-db:connect", "neptune-db:ReadDataViaQuery"],
         "Resource": f"arn:aws:neptune-db:{region}:{account}:*/*"},
        *([{"Effect": "Allow", "Action": ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
                                          "ec2:DeleteNetworkInterface"], "Resource": "*"}] if api.subnet_ids else []),
    ]
    return ensure_role(context, api.role_name, "lambda.amazonaws.com", statements, changes,
                       "kgqa: the public API's function", "api")

