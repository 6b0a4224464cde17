"""The SageMaker headers a caller may send with a question, and the values each of them admits.

``X-Amzn-SageMaker-Custom-Attributes`` and ``X-Amzn-SageMaker-Session-Id`` come back on the
response as sent; ``X-Amzn-SageMaker-Inference-Id`` is written into the request's capture line and
names the answer a rating of ``POST /feedback`` is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kgqa_cli.serving.handler import BadRequest

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"
# SageMaker's stateful-session header: requests that carry the same id are one conversation.
SESSION_ID = "X-Amzn-SageMaker-Session-Id"
# SageMaker's InvokeEndpoint takes an InferenceId of 1 to 64 printable characters; the id is
# written into every capture line, so the endpoint holds callers to the same bound.
MAX_INFERENCE_ID_CHARS = 64


def inference_id_problem(value: str) -> str | None:
    """Why an ``X-Amzn-SageMaker-Inference-Id`` value is refused, or None when it is fine."""
    if not 0 < len(value) <= MAX_INFERENCE_ID_CHARS:
        return f"{INFERENCE_ID} must be 1 to {MAX_INFERENCE_ID_CHARS} characters, not {len(value)}"
    if value[0] == " " or not all(32 <= ord(c) < 127 for c in value):
        return f"{INFERENCE_ID} must be visible ASCII characters (spaces allowed after the first)"
    return None


@dataclass(frozen=True)
class CallerHeaders:
    """The SageMaker headers of one request, checked: what goes back on the response (``echo``),
    the conversation it continues (``session``) and the id its capture line carries."""

    echo: dict[str, str] = field(default_factory=dict)
    session: str | None = None
    inference_id: str | None = None


def read_caller_headers(headers: Mapping[str, str]) -> CallerHeaders:
    """The SageMaker headers of a request; raises :class:`BadRequest` (400) for a value out of
    bounds. A refused inference id is answered with the headers checked before it echoed."""
    echo: dict[str, str] = {}
    attributes = headers.get(CUSTOM_ATTRIBUTES)
    if attributes is not None:
        if len(attributes) > 1024 or not all(32 < ord(c) < 127 or c == " " for c in attributes):
            raise BadRequest(400, f"{CUSTOM_ATTRIBUTES} must be at most 1,024 visible ASCII characters")
        echo[CUSTOM_ATTRIBUTES] = attributes
    session = headers.get(SESSION_ID)
    if session is not None:
        if not 0 < len(session) <= 256 or not all(32 < ord(c) < 127 for c in session):
            raise BadRequest(400, f"{SESSION_ID} must be 1 to 256 visible ASCII characters")
        echo[SESSION_ID] = session
    inference_id = headers.get(INFERENCE_ID)
    if inference_id is not None:
        problem = inference_id_problem(inference_id)
        if problem is not None:
            raise BadRequest(400, problem, headers=echo)
    return CallerHeaders(echo, session, inference_id)
