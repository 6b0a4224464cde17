"""The public API front: the Lambda handler run locally (the moto server's sagemaker-runtime
answering with the understanding a real question model gave, a gremlite graph in place of
Neptune), and `kgqa deploy --target sagemaker --api` against the moto server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request

import pytest

pytestmark = pytest.mark.slow  # moto-server AWS flows

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]
ROLE = "arn:aws:iam::123456789012:role/kgqa-sagemaker"


def understanding(tiny_qa, questions: list[str]) -> dict:
    """What an endpoint in KGQA_ANSWER=understand mode answers, from the tiny question model."""
    from kgqa_cli.mlops.registry import Registry
    from kgqa_cli.serving.handler import Understander

    model = Registry(tiny_qa.paths.registry_dir).get("qa").path / "model"
    return {"answers": [a.to_json() for a in Understander(model).answer_many(questions)]}


def queue_endpoint_result(moto_server, body: dict) -> None:
    request = urllib.request.Request(f"{moto_server['AWS_ENDPOINT_URL']}/moto-api/static/sagemaker/endpoint-results",
                                     data=json.dumps({"results": [{"Body": json.dumps(body, ensure_ascii=False),
                                                                   "ContentType": "application/json"}]}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def test_the_lambda_handler_answers_from_the_endpoint_and_the_graph(moto_server, tiny_qa, monkeypatch):
    from kgqa_cli.entrypoints import lambda_api

    for key, value in moto_server.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("KGQA_ENDPOINT", "kgqa-qa")
    monkeypatch.setenv("KGQA_GRAPH_PATH", str(tiny_qa.paths.graph_dir / "kgqa.db"))
    monkeypatch.setattr(lambda_api, "_answerer", None)
    monkeypatch.setattr(lambda_api, "_runtime", None)
    questions = ["三度诱惑的导演是谁", "许晋亨的妻子是谁"]
    queue_endpoint_result(moto_server, understanding(tiny_qa, questions))
    event = {"version": "2.0", "routeKey": "POST /ask", "headers": {"content-type": "application/json"},
             "isBase64Encoded": True,
             "body": base64.b64encode(json.dumps({"questions": questions}, ensure_ascii=False).encode()).decode()}
    reply = lambda_api.handler(event, None)
    assert reply["statusCode"] == 200, reply
    answers = json.loads(reply["body"])["answers"]
    assert [a["answers"] for a in answers] == [["何藩"], ["李嘉欣"]]
    assert answers[0]["query"] and answers[0]["entity"]["name"] == "三度诱惑"
    # A bad request is the caller's error, said as the endpoint says it.
    bad = lambda_api.handler({"body": "{not json", "headers": {"Content-Type": "application/json"}}, None)
    assert bad["statusCode"] == 400 and "malformed JSON" in json.loads(bad["body"])["error"]
    # An endpoint that fails is a 502 with one line, never a traceback to the caller.
    monkeypatch.setenv("KGQA_ENDPOINT", "")
    broken = lambda_api.handler({"body": json.dumps({"question": "三度诱惑的导演是谁"}),
                                 "headers": {"content-type": "application/json"}}, None)
    error = json.loads(broken["body"])["error"]
    assert broken["statusCode"] == 502 and error and "\n" not in error and "Traceback" not in error


def test_deploy_api_creates_function_route_and_throttling(moto_server, tiny_qa, tmp_path, monkeypatch):
    import boto3
    from qa_fixtures import copy_workspace

    common = {"endpoint_url": moto_server["AWS_ENDPOINT_URL"], "region_name": "us-east-1",
              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    s3, sagemaker, lam, gateway, iam = (boto3.client(name, **common) for name in
                                        ("s3", "sagemaker", "lambda", "apigatewayv2", "iam"))
    s3.create_bucket(Bucket="kgqa-api-test")
    workspace = copy_workspace(tiny_qa, tmp_path).paths.root
    from kgqa_cli.aws.registry import SageMakerRegistry
    from kgqa_cli.aws.source import pack
    from kgqa_cli.settings import load_settings

    folder = workspace / "registry" / "qa" / "v1" / "model"
    s3.put_object(Bucket="kgqa-api-test", Key="m/model.tar.gz",
                  Body=pack([(p.relative_to(folder).as_posix(), p.read_bytes()) for p in sorted(folder.rglob("*"))
                             if p.is_file()]))
    registry = SageMakerRegistry(load_settings(None, {"aws.package_group_prefix": "kgqa-api-test"}).aws, sagemaker)
    arn = registry.register("qa", "s3://kgqa-api-test/m/model.tar.gz", "image", {})["arn"]
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    options = ["--workspace", str(workspace), "--aws.bucket", "kgqa-api-test", "--aws.role_arn", ROLE,
               "--aws.package_group_prefix", "kgqa-api-test", "--aws.endpoint.name", "kgqa-api-test",
               "--aws.api.function_name", "kgqa-api-test", "--aws.api.role_name", "kgqa-api-test",
               "--aws.api.api_name", "kgqa-api-test", "--aws.api.burst_limit", "7", "--aws.api.rate_limit", "3",
               "--graph.url", "wss://kgqa.cluster-x.us-east-1.neptune.amazonaws.com:8182/gremlin", "--graph.sigv4",
               "true"]
    env = {**os.environ, **moto_server}
    done = subprocess.run([*KGQA, "deploy", "--target", "sagemaker", "--api", "--json", *options],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    api = result["api"]
    function = lam.get_function(FunctionName="kgqa-api-test")["Configuration"]
    assert function["Handler"] == "kgqa_cli.entrypoints.lambda_api.handler" and function["Runtime"] == "python3.11"
    assert function["Environment"]["Variables"] == {
        "KGQA_ENDPOINT": "kgqa-api-test", "KGQA_GRAPH_URL": "wss://kgqa.cluster-x.us-east-1.neptune.amazonaws.com:8182/gremlin",
        "KGQA_GRAPH_SIGV4": "1"}
    # The endpoint understands; the function queries the graph.
    model = sagemaker.describe_model(ModelName=result["model"])["PrimaryContainer"]
    assert model["Environment"]["KGQA_ANSWER"] == "understand"
    (route,) = [r for r in gateway.get_routes(ApiId=api["api_id"])["Items"] if r["RouteKey"] == "POST /ask"]
    (integration,) = gateway.get_integrations(ApiId=api["api_id"])["Items"]
    assert route["Target"] == f"integrations/{integration['IntegrationId']}"
    assert integration["IntegrationUri"] == function["FunctionArn"] and integration["PayloadFormatVersion"] == "2.0"
    stage = gateway.get_stage(ApiId=api["api_id"], StageName="$default")
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 7
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 3.0
    policy = iam.get_role_policy(RoleName="kgqa-api-test", PolicyName="kgqa")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    assert {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])} \
        == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "sagemaker:InvokeEndpoint",
            "neptune-db:connect", "neptune-db:ReadDataViaQuery"}
    # The zip: kgqa and its light dependencies, no torch; the same code gives the same bytes.
    import io
    import zipfile

    from kgqa_cli.aws.api import deploy_api, function_zip

    code = function_zip()
    names = zipfile.ZipFile(io.BytesIO(code)).namelist()
    assert "kgqa_cli/entrypoints/lambda_api.py" in names and any(n.startswith("gremlin_python/") for n in names)
    assert not any(n.startswith(("torch/", "transformers/", "boto3/")) for n in names)
    assert __import__("hashlib").sha256(code).hexdigest() == api["code_sha256"]
    # Again: everything is in place, nothing changes (the API part; moto has no UpdateEndpoint).
    for key, value in moto_server.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(None, {"workspace": str(workspace), "aws.bucket": "kgqa-api-test",
                                    "aws.endpoint.name": "kgqa-api-test", "aws.api.function_name": "kgqa-api-test",
                                    "aws.api.role_name": "kgqa-api-test", "aws.api.api_name": "kgqa-api-test",
                                    "aws.api.burst_limit": 7, "aws.api.rate_limit": 3,
                                    "graph.url": "wss://kgqa.cluster-x.us-east-1.neptune.amazonaws.com:8182/gremlin",
                                    "graph.sigv4": True})
    assert deploy_api(settings, function_code=code)["changes"] == []
