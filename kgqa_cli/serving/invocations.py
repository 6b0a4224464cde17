"""``POST /invocations``: the questions of a request answered, on SageMaker's container contract.

The body is parsed by :func:`~kgqa_cli.serving.handler.input_fn` (the same four functions
SageMaker calls), the questions are answered by the answering thread, and the answer is recorded
by the data capture after it is sent to the writer's queue: capture never slows or fails a request.
"""

# No `from __future__ import annotations` here: FastAPI reads the route's `Request` annotation,
# imported where the route is made, as an object.

from typing import TYPE_CHECKING, Any

from kgqa_cli.serving.endpoint import ERROR_RESPONSES, JSON_TYPE, Endpoint
from kgqa_cli.serving.handler import BadRequest, Limits, accepts_json, input_fn, output_fn
from kgqa_cli.serving.headers import read_caller_headers

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

EXAMPLE = "三度诱惑的导演是谁"


def invocation_body(limits: Limits) -> dict[str, Any]:
    """The request body of ``POST /invocations`` in the OpenAPI document."""
    question = {"type": "string", "minLength": 1, "maxLength": limits.max_question_chars}
    return {
        "required": True,
        "content": {
            JSON_TYPE: {"schema": {"oneOf": [
                {"type": "object", "properties": {"question": question},
                 "required": ["question"], "additionalProperties": False},
                {"type": "object", "properties": {"questions": {
                    "type": "array", "minItems": 1, "maxItems": limits.max_batch, "items": question}},
                 "required": ["questions"], "additionalProperties": False},
            ]}, "example": {"question": EXAMPLE}},
            "text/plain": {"schema": question, "example": EXAMPLE},
        },
    }


async def answer_request(endpoint: Endpoint, request: "Request") -> "Response":
    """The answer to one request, or the JSON error that refuses it."""
    from fastapi.responses import Response

    endpoint.counts["requests"] += 1
    try:
        caller = read_caller_headers(request.headers)
    except BadRequest as exc:
        return endpoint.error(exc.status, exc.message, exc.headers)
    worker = endpoint.worker
    if worker is None or not worker.ready.is_set():
        failed = worker.error if worker is not None else None
        return endpoint.error(503, "the model is still loading" if failed is None else f"loading failed: {failed}",
                              caller.echo)
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    accept = request.headers.get("accept")
    try:
        if not accepts_json(accept):  # refused before any work is done
            raise BadRequest(406, f"cannot answer in {accept!r}: answers are application/json")
        data = input_fn(body, content_type, endpoint.limits)
        prediction = await worker.answer(data, caller.session if endpoint.conversations is not None else None)
        payload = output_fn(prediction, accept)
    except BadRequest as exc:
        return endpoint.error(exc.status, exc.message, caller.echo)
    endpoint.counts["answered"] += 1
    if endpoint.capture is not None:
        endpoint.capture.record(request_body=body, request_type=content_type, response_body=payload,
                                response_type=JSON_TYPE, inference_id=caller.inference_id)
    if caller.inference_id is not None:
        endpoint.answered_ids.add(caller.inference_id)
    return Response(payload, media_type=JSON_TYPE, headers=caller.echo)


def register_invocations(app: "FastAPI", endpoint: Endpoint) -> None:
    """Add ``POST /invocations`` to ``app``."""
    from fastapi import Request

    @app.post("/invocations", summary="Answer a question, or a batch of questions",
              openapi_extra={"requestBody": invocation_body(endpoint.limits), "responses": ERROR_RESPONSES})
    async def invocations(request: Request) -> Any:  # Any: the document keeps an open response schema
        return await answer_request(endpoint, request)
