"""The extraction model's handler, in the four functions SageMaker's PyTorch serving container
calls, built like the question model's (:mod:`kgqa_cli.serving.handler`): Batch Transform
(`kgqa extract --target sagemaker`) sends the input split by line, and each record becomes one
JSON line of the extraction output format, in order.

Requests: ``text/plain`` (one text a line) or ``application/jsonlines`` / ``application/json``
(one ``{"text": ...}`` object a line). Response: ``application/jsonlines``, one
``{"text", "spo_list", "model_version"}`` line per input line; a line that cannot be read
gives ``{"text": null, "error": ...}`` in its place, so the output stays aligned with the input.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kgqa_cli.data.records import Record
from kgqa_cli.serving.capture import media_type
from kgqa_cli.serving.handler import BadRequest, _decode

if TYPE_CHECKING:
    from kgqa_cli.extraction.predict import Extractor

TEXT_TYPES = ("text/plain", "text/csv")
JSON_TYPES = ("application/json", "application/jsonlines", "application/x-jsonlines")


@dataclass(frozen=True)
class ExtractSettings:
    """Decoding settings, from the environment of the SageMaker model (``KGQA_*``)."""

    batch_size: int = 64
    max_chars: int = 200
    subject_threshold: float = 0.5
    object_threshold: float = 0.5
    bfloat16: bool | str = "auto"  # true, false or auto (where the instance computes it natively)
    workers: int = 2  # batches at once on a CPU instance (kg.extract.workers)

    @classmethod
    def from_environment(cls) -> ExtractSettings:
        return cls(int(os.environ.get("KGQA_BATCH_SIZE", 64)), int(os.environ.get("KGQA_MAX_CHARS", 200)),
                   float(os.environ.get("KGQA_SUBJECT_THRESHOLD", 0.5)),
                   float(os.environ.get("KGQA_OBJECT_THRESHOLD", 0.5)),
                   os.environ.get("KGQA_BFLOAT16", "auto").lower(), int(os.environ.get("KGQA_WORKERS", 2)))


@dataclass
class LoadedExtractor:
    """The extractor of a model archive and the settings it decodes with."""

    extractor: Extractor
    settings: ExtractSettings


def model_fn(model_dir: str, settings: ExtractSettings | None = None) -> LoadedExtractor:
    """Load the extractor in ``model_dir`` (safetensors and JSON) on the CPU or the GPU there is."""
    from pathlib import Path

    from kgqa_cli.extraction.predict import Extractor

    device = os.environ.get("KGQA_DEVICE", "auto")
    version = os.environ.get("KGQA_MODEL_VERSION") or Path(model_dir).name
    return LoadedExtractor(Extractor.load(Path(model_dir), version=version, device=device),
                           settings or ExtractSettings.from_environment())


def input_fn(body: bytes | str, content_type: str | None) -> list[dict[str, str]]:
    """The records of a request: ``{"text": str}`` or ``{"error": str}`` per non-empty line."""
    kind = media_type(content_type)
    if kind not in TEXT_TYPES + JSON_TYPES:
        raise BadRequest(415, f"content type {kind or 'none'!r} is not supported: send text/plain or "
                              "application/jsonlines")
    records: list[dict[str, str]] = []
    for number, line in enumerate(_decode(body, content_type or "").splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if kind in JSON_TYPES or stripped.startswith("{"):
            try:
                item = json.loads(stripped)
            except ValueError as exc:
                records.append({"error": f"line {number}: invalid JSON ({exc})"})
                continue
            text = item.get("text") if isinstance(item, dict) else None
            records.append({"text": text} if isinstance(text, str) and text.strip()
                           else {"error": f"line {number}: no 'text' field"})
        else:
            records.append({"text": stripped})
    return records


def predict_fn(records: list[dict[str, str]], model: LoadedExtractor) -> list[dict[str, Any]]:
    """Triples of every readable record, in the extraction output format."""
    texts = [r["text"] for r in records if "text" in r]
    settings = model.settings
    found = iter(model.extractor.extract(texts, batch_size=settings.batch_size, max_chars=settings.max_chars,
                                         subject_threshold=settings.subject_threshold,
                                         object_threshold=settings.object_threshold, bfloat16=settings.bfloat16,
                                         workers=settings.workers))
    version = model.extractor.version
    return [Record(text=r["text"], spo_list=next(found), model_version=version).to_json() if "text" in r
            else {"text": None, "error": r["error"], "model_version": version} for r in records]


def output_fn(prediction: list[dict[str, Any]], accept: str | None) -> bytes:
    """JSON lines, one per record."""
    kind = media_type(accept) if accept else ""
    if kind and kind not in JSON_TYPES + ("*/*", "application/*"):
        raise BadRequest(406, f"cannot answer in {accept!r}: extraction results are application/jsonlines")
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in prediction).encode("utf-8")
