"""The public API's Lambda function (API Gateway HTTP API -> Lambda -> endpoint -> Neptune).

``handler(event, context)`` takes an HTTP API event (payload format 2.0) whose body is what the
endpoint takes (``{"question": ...}``, ``{"questions": [...]}`` or plain text), asks the
SageMaker endpoint ``KGQA_ENDPOINT`` (``invoke_endpoint``) for the intent, slots and routes of
each question, runs the answer traversals on the graph, and returns the answer JSON of `kgqa
ask --json` (or ``{"answers": [...]}`` for several). An endpoint that already answers (one
deployed with its graph) is passed through.

The graph comes from the environment: ``KGQA_GRAPH_URL`` (Neptune's ``wss://.../gremlin``) with
``KGQA_GRAPH_SIGV4=1`` for IAM authentication, or ``KGQA_GRAPH_PATH`` (an embedded file: tests).
Nothing here imports torch: the function's zip holds kgqa and its light dependencies only.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kgqa_cli.answering.remote import UnderstoodAnswerer
    from kgqa_cli.settings import KgqaConfig

log = logging.getLogger(__name__)
# Made on the first request and kept while the function stays warm.
_answerer: UnderstoodAnswerer | None = None
_runtime: Any = None  # boto3's sagemaker-runtime client


def _settings() -> KgqaConfig:
    from kgqa_cli.settings import KgqaConfig

    graph: dict[str, Any] = {}
    if os.environ.get("KGQA_GRAPH_URL"):
        graph = {"url": os.environ["KGQA_GRAPH_URL"], "sigv4": os.environ.get("KGQA_GRAPH_SIGV4") == "1"}
    elif os.environ.get("KGQA_GRAPH_PATH"):
        graph = {"path": os.environ["KGQA_GRAPH_PATH"]}
    return KgqaConfig.model_validate({"workspace": os.environ.get("KGQA_WORKSPACE", "/tmp/kgqa"), "graph": graph})


def _response(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json; charset=utf-8"},
            "body": json.dumps(body, ensure_ascii=False)}


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Answer the event's question(s); 4xx for a bad request, 502 when the endpoint or the graph fails."""
    global _answerer, _runtime
    from kgqa_cli.serving.handler import BadRequest, input_fn

    try:
        body = event.get("body") or ""
        raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        parsed = input_fn(raw, headers.get("content-type") or "application/json")
    except BadRequest as exc:
        return _response(exc.status, {"error": exc.message})
    try:
        if _runtime is None:
            import boto3

            _runtime = boto3.client("sagemaker-runtime")
        reply = _runtime.invoke_endpoint(EndpointName=os.environ["KGQA_ENDPOINT"], ContentType="application/json",
                                         Accept="application/json",
                                         Body=json.dumps({"questions": parsed.questions}, ensure_ascii=False))
        understood = json.loads(reply["Body"].read())
        items: list[Any] = understood["answers"] if isinstance(understood, dict) and "answers" in understood else [
            understood]
        if len(items) != len(parsed.questions):
            raise ValueError(f"the endpoint answered {len(items)} of {len(parsed.questions)} questions")
        answers = []
        for question, item in zip(parsed.questions, items, strict=True):
            if "routes" not in item:  # an endpoint with its own graph has answered already
                answers.append(item)
                continue
            if _answerer is None:
                from kgqa_cli.answering.remote import UnderstoodAnswerer

                _answerer = UnderstoodAnswerer(_settings())
            answers.append(_answerer.answer_understood(question, item).to_json())
    except Exception as exc:  # the endpoint, the graph: one line for the caller, the details in the log
        log.exception("answering failed")
        one_line = " ".join(str(exc).split())[:300]  # an HTML error page, say, folded into one line
        return _response(502, {"error": f"{exc.__class__.__name__}: {one_line}"})
    return _response(200, {"answers": answers} if parsed.batch else answers[0])
