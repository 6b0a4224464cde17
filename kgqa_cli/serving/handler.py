"""The serving handler, in the four functions SageMaker's PyTorch serving container calls.

``model_fn(model_dir)`` loads the question model and opens the graph; ``input_fn(body,
content_type)`` parses a request into questions; ``predict_fn(data, model)`` answers them;
``output_fn(prediction, accept)`` writes the answer JSON. No HTTP framework here: the local
endpoint (``kgqa_cli.serving.app``) calls the same four functions, and so does SageMaker.

A request problem raises :class:`BadRequest` with its HTTP status (400, 406, 413, 415); the
local endpoint answers it as JSON ``{"error": ...}``.

Requests::

    application/json  {"question": "三度诱惑的导演是谁"}  or  {"questions": ["...", "..."]}
    text/plain        三度诱惑的导演是谁

Responses (application/json): the answer of ``kgqa ask --json`` (intent, confidence, slots,
entities, query, answers, reason, model_version, ...), or ``{"answers": [...]}`` for a batch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypedDict, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from kgqa_cli.serving.capture import media_type

if TYPE_CHECKING:
    from kgqa_cli.answering.answer import Answer
    from kgqa_cli.answering.conversation import Conversation
    from kgqa_cli.answering.pipeline import Answerer
    from kgqa_cli.settings import KgqaConfig
    from kgqa_cli.understanding.runtime import Prediction as ModelPrediction

_Body = TypeVar("_Body")


class BadRequest(Exception):
    """A request the endpoint refuses, with the HTTP status that says why (and the ``headers``
    its refusal carries back, when there are any)."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


@dataclass(frozen=True)
class Limits:
    """What one request may hold (``serve.*`` in the config)."""

    max_question_chars: int = 500
    max_batch: int = 64
    max_body_bytes: int = 1_000_000


@dataclass(frozen=True)
class Questions:
    """A parsed request: its questions, and whether it came as a batch."""

    questions: list[str]
    batch: bool


class Prediction(TypedDict):
    """The answers to one request (or to one pass of the answering thread)."""

    batch: bool
    answers: list[dict[str, Any]]  # the answer JSON of `kgqa ask --json`, one per question


# A request is at most two levels deep ({"questions": [...]}); deeper bodies are refused before
# the parser sees them.
MAX_JSON_DEPTH = 32

JSON_TYPES = ("application/json",)
TEXT_TYPES = ("text/plain",)

# The limits model_fn read from the config; SageMaker calls input_fn without them.
_limits = Limits()


def _decode(body: bytes | str, content_type: str) -> str:
    if isinstance(body, str):
        return body
    charset = "utf-8"
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if charset.replace("_", "-") not in ("utf-8", "utf8"):
        raise BadRequest(415, f"charset {charset!r} is not supported: send UTF-8")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, f"the body is not valid UTF-8 (byte {exc.start})") from exc


def check_json_nesting(text: str) -> None:
    """Refuse JSON nested deeper than :data:`MAX_JSON_DEPTH` before parsing it: the parser
    recurses once per level, and a body of a thousand ``[`` would exhaust the stack."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return  # cannot be too deep: every request of the contract ends here
    import re

    depth = 0
    in_string = False
    escaped_at = -1  # position of the character a backslash escapes
    # Only these characters change the nesting; the loop visits them alone.
    for match in re.finditer(r'[\[\]{}"\\]', text):
        char, at = match.group(), match.start()
        if at == escaped_at:
            continue
        if in_string:
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise BadRequest(400, f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep")
        elif char in "]}":
            depth -= 1
            if depth < 0:
                return  # unbalanced: the parser reports where


def input_fn(body: bytes | str, content_type: str | None, limits: Limits | None = None) -> Questions:
    """Parse a request body into questions; raises :class:`BadRequest` naming the problem."""
    limits = limits or _limits
    kind = media_type(content_type)
    if len(body) > limits.max_body_bytes:
        raise BadRequest(413, f"the body has {len(body)} bytes, over the limit of {limits.max_body_bytes}")
    if kind in TEXT_TYPES:
        text = _decode(body, content_type or "").strip()
        return Questions([_validated(_QUESTION_TEXT, text, limits)], False)
    if kind not in JSON_TYPES:
        shown = kind or "none"
        raise BadRequest(415, f"content type {shown!r} is not supported: send application/json or text/plain")
    data = _json_object(_decode(body, content_type or ""))
    if "question" in data:
        return Questions([_validated(_ONE_QUESTION, data, limits).question], False)
    return Questions(_validated(_QUESTION_BATCH, data, limits).questions, True)


def _json_object(text: str) -> dict[str, Any]:
    """A JSON request body: an object of one key, ``question`` or ``questions``."""
    check_json_nesting(text)
    try:
        data = json.loads(text)
    except RecursionError as exc:  # the scan above stops this first; the parser's own limit is the backstop
        raise BadRequest(400, f"the JSON body is nested too deep (the limit is {MAX_JSON_DEPTH} levels)") from exc
    except ValueError as exc:
        raise BadRequest(400, f"malformed JSON: {getattr(exc, 'msg', exc)} "
                              f"(line {getattr(exc, 'lineno', '?')}, column {getattr(exc, 'colno', '?')})") from exc
    if not isinstance(data, dict):
        raise BadRequest(400, 'the JSON body must be an object: {"question": "..."} or {"questions": [...]}')
    unknown = sorted(set(data) - {"question", "questions"})
    if unknown or len(data) != 1:
        what = f"unknown key(s) {', '.join(map(repr, unknown))}" if unknown else "give one of them, not both"
        raise BadRequest(400, f'the JSON body takes "question" or "questions": {what}')
    return data


# ---------------------------------------------------------------------------------------------
# The request bodies, validated against the limits passed as the validation context


def _question_text(value: str, info: ValidationInfo) -> str:
    limits = info.context if isinstance(info.context, Limits) else _limits
    if not value.strip():
        raise PydanticCustomError("question_empty", "is empty", {"status": 400})
    if len(value) > limits.max_question_chars:
        raise PydanticCustomError("question_too_long", "has {length} characters, over the limit of {limit}",
                                  {"status": 413, "length": len(value), "limit": limits.max_question_chars})
    return value


def _batch_size(value: object, info: ValidationInfo) -> object:
    limits = info.context if isinstance(info.context, Limits) else _limits
    if isinstance(value, list) and len(value) > limits.max_batch:
        raise PydanticCustomError("too_many_questions", '"questions" holds {count} questions, over the limit of {limit}',
                                  {"status": 413, "count": len(value), "limit": limits.max_batch})
    return value


QuestionText = Annotated[StrictStr, AfterValidator(_question_text)]


class OneQuestion(BaseModel):
    """``{"question": "..."}``: one question, not blank, within ``max_question_chars``."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    question: QuestionText


class QuestionBatch(BaseModel):
    """``{"questions": [...]}``: one to ``max_batch`` questions, each as :class:`OneQuestion`'s."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    questions: Annotated[list[QuestionText], Field(min_length=1), BeforeValidator(_batch_size)]


_QUESTION_TEXT: TypeAdapter[str] = TypeAdapter(QuestionText)
_ONE_QUESTION: TypeAdapter[OneQuestion] = TypeAdapter(OneQuestion)
_QUESTION_BATCH: TypeAdapter[QuestionBatch] = TypeAdapter(QuestionBatch)


def _validated(adapter: TypeAdapter[_Body], data: object, limits: Limits) -> _Body:
    """``data`` validated by ``adapter``; the first question at fault (in the order they were
    sent) refused as :class:`BadRequest`, in the words of the endpoint's contract."""
    try:
        return adapter.validate_python(data, context=limits)
    except ValidationError as exc:
        error = min(exc.errors(), key=lambda e: [part for part in e["loc"] if isinstance(part, int)])
        raise _refusal(error) from None


def _refusal(error: ErrorDetails) -> BadRequest:
    """One validation error as the endpoint words it, naming the question by where it was sent."""
    loc = error["loc"]
    where = "the question" if not loc else f'"{loc[0]}"' if len(loc) == 1 else f'"{loc[0]}"[{loc[1]}]'
    if error["type"] in ("list_type", "too_short"):
        return BadRequest(400, '"questions" must be a non-empty list of strings')
    if error["type"] == "too_many_questions":
        return BadRequest(413, error["msg"])
    if error["type"] in ("question_empty", "question_too_long"):
        return BadRequest(int((error.get("ctx") or {})["status"]), f"{where} {error['msg']}")
    # What is left is strict str's string_type: a question that is not text.
    return BadRequest(400, f"{where} must be a string, not {type(error['input']).__name__}")


class Understander:
    """The question model alone, for a front that runs the graph query itself (``KGQA_ANSWER=
    understand``: a model archive straight from training carries no graph): each answer is the
    intent, its confidence, the ranked intents, the slots and the graph routes of those intents
    (what :class:`~kgqa_cli.answering.remote.UnderstoodAnswerer` needs to query the graph)."""

    def __init__(self, model_dir: Path) -> None:
        from kgqa_cli.answering.pipeline import _load_model_dir

        self.model, self.version_name = _load_model_dir(model_dir)

    def answer_many(self, questions: list[str]) -> list[_Understood]:
        """The understanding of each question (no graph query)."""
        from kgqa_cli.text import valid_text
        from kgqa_cli.understanding.runtime import predict_batch

        texts = [valid_text(q).strip() for q in questions]
        return [_Understood(text, prediction, self.version_name, {intent: self.model.routes.get(intent, [])
                                                                  for intent, _ in prediction.ranked})
                for text, prediction in zip(texts, predict_batch(self.model, texts, top=None), strict=True)]


@dataclass(frozen=True)
class _Understood:
    question: str
    prediction: ModelPrediction
    model_version: str
    routes: dict[str, list[dict[str, Any]]]

    def to_json(self) -> dict[str, Any]:
        p = self.prediction
        return {"question": self.question, "intent": p.intent, "confidence": round(p.confidence, 6),
                "intents": [{"intent": name, "confidence": round(c, 6)} for name, c in p.ranked],
                "slots": p.slots, "tags": p.tags, "routes": self.routes, "model_version": self.model_version}


def model_fn(model_dir: str, settings: KgqaConfig | None = None) -> Answerer | Understander:
    """Load the question model in ``model_dir`` and open the configured graph (an
    :class:`~kgqa_cli.answering.pipeline.Answerer`; with ``KGQA_ANSWER=understand``, the model
    alone, an :class:`Understander`). Without ``settings`` (as SageMaker calls
    it) the config is read from ``KGQA_CONFIG`` (a relative workspace there is relative to that
    file: a model archive carries both) or ``configs/kgqa.yaml``."""
    from kgqa_cli.answering.pipeline import Answerer

    global _limits
    if settings is None and os.environ.get("KGQA_ANSWER") == "understand":
        return Understander(Path(model_dir))
    if settings is None:
        from kgqa_cli.settings import load_settings

        config = Path(os.environ["KGQA_CONFIG"]) if os.environ.get("KGQA_CONFIG") else None
        settings = load_settings(config)
        if config is not None and not settings.workspace.is_absolute():
            # A model archive carries its config and graph: its workspace is beside the config
            # file, wherever the container unpacked it.
            settings.workspace = config.resolve().parent / settings.workspace
    serve = settings.serve
    _limits = Limits(serve.max_question_chars, serve.max_batch, serve.max_body_bytes)
    return Answerer(settings, model_dir=Path(model_dir))


def predict_fn(data: Questions, model: Answerer | Understander,
               conversations: list[Conversation | None] | None = None) -> Prediction:
    """Answer the parsed questions: ``{"batch": bool, "answers": [answer JSON, ...]}``;
    ``conversations[i]`` (or None) is the conversation question i belongs to (an
    :class:`Understander` keeps none)."""
    answers: Sequence[Answer | _Understood]
    if conversations and not isinstance(model, Understander):
        answers = model.answer_many(data.questions, conversations)
    else:
        answers = model.answer_many(data.questions)
    return {"batch": data.batch, "answers": [answer.to_json() for answer in answers]}


# How specific each media range that covers application/json is (RFC 9110 12.5.1: the most
# specific range decides).
_JSON_RANGES = {"application/json": 3, "application/*": 2, "*/*": 1}


def _quality(parameters: list[str]) -> float:
    """The ``q`` weight of one media range (1 when absent; an unreadable weight counts as 1)."""
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "q":
            try:
                weight = float(value.strip())
            except ValueError:
                return 1.0
            return weight if 0.0 <= weight <= 1.0 else 1.0
    return 1.0


def accepts_json(accept: str | None) -> bool:
    """Whether an Accept header admits application/json (no header admits anything). The most
    specific range covering it decides, and ``q=0`` means "not acceptable"."""
    if not accept or not accept.strip():
        return True
    best: tuple[int, float] | None = None  # (specificity, weight) of the range that decides
    for part in accept.split(","):
        media, *parameters = part.split(";")
        specificity = _JSON_RANGES.get(media.strip().lower())
        if specificity is None:
            continue
        weight = _quality(parameters)
        if best is None or specificity > best[0] or (specificity == best[0] and weight > best[1]):
            best = (specificity, weight)
    return best is not None and best[1] > 0


def output_fn(prediction: Prediction, accept: str | None) -> bytes:
    """The response body: one answer's JSON, or ``{"answers": [...]}`` for a batch (UTF-8)."""
    if not accepts_json(accept):
        raise BadRequest(406, f"cannot answer in {accept!r}: answers are application/json")
    body = {"answers": prediction["answers"]} if prediction["batch"] else prediction["answers"][0]
    return json.dumps(body, ensure_ascii=False).encode("utf-8")
