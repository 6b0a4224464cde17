"""The module SageMaker's PyTorch serving container loads (``code/inference.py`` of a model
archive imports it). The SageMaker model kgqa creates says which model its archive carries in
``KGQA_MODEL_KIND``: ``kg``, the extraction handler (Batch Transform); ``qa`` (the default), the
question handler (the endpoint)."""

from __future__ import annotations

import os

from kgqa_cli.serving import extract_handler, handler

_chosen = extract_handler if os.environ.get("KGQA_MODEL_KIND", "qa") == "kg" else handler

model_fn = _chosen.model_fn
input_fn = _chosen.input_fn
predict_fn = _chosen.predict_fn
output_fn = _chosen.output_fn
