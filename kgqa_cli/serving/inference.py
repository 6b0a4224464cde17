"""The module SageMaker's PyTorch serving container loads (``code/inference.py`` of a model
archive imports it). The SageMaker model kgqa creates says which model its archive carries in
``KGQA_MODEL_KIND``: ``kg``, the extraction handler (Batch Transform); ``qa`` (the default), the
question handler (the endpoint).

The serving toolkit counts each function's parameters and passes its own context as one more
argument when there is room for it, so these wrappers take exactly the arguments of the
contract (the handlers' optional extras, such as the settings of a local endpoint, stay unset).
"""

from __future__ import annotations

import os
from typing import Any

from kgqa_cli.serving import extract_handler, handler

_chosen = extract_handler if os.environ.get("KGQA_MODEL_KIND", "qa") == "kg" else handler


def model_fn(model_dir: str) -> Any:
    """Load the model in ``model_dir``."""
    return _chosen.model_fn(model_dir)


def input_fn(body: bytes | str, content_type: str | None) -> Any:
    """Parse a request body."""
    return _chosen.input_fn(body, content_type)


def predict_fn(data: Any, model: Any) -> Any:
    """Answer (qa) or extract (kg)."""
    return _chosen.predict_fn(data, model)


def output_fn(prediction: Any, accept: str | None) -> bytes:
    """The response body."""
    body: bytes = _chosen.output_fn(prediction, accept)
    return body
