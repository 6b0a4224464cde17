"""Question-time inference without torch or transformers: the trained JointBERT in numpy.

Training keeps torch and ``transformers``; answering a question only needs the forward pass of a
small encoder (6 layers of 128 by default), which numpy runs in well under a millisecond. Importing
transformers alone took 3+ s of a 4.6 s cold `kgqa ask`; numpy and the safetensors reader take a
tenth of a second. The forward pass is the one of ``transformers``' BertModel in eval mode
(absolute positions, one token type, post-layer-norm, exact GELU) on the weights of
``model.safetensors`` as they are; both backends decode their logits with the same
:func:`decode`, and a test checks that they give the same predictions on a generated test set.

A model fine-tuned from a pretrained BERT checkpoint runs the same way at the checkpoint's sizes
(its layer-norm epsilon, activation, vocabulary and positions); its tokenizer is the checkpoint's
``tokenizer.json`` run by the ``tokenizers`` package, whose character offsets carry the tags of
word pieces back to the characters of the question.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kgqa_cli.errors import InputDataError, MissingArtifactError
from kgqa_cli.understanding.tokenizer import QuestionTokenizer, char_spans, load_tokenizer

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from kgqa_cli.mlops.registry import ModelVersion
    from kgqa_cli.workspace import Workspace

    # A numpy array (numpy is imported only where it computes: `kgqa --help` stays instant).
    Array = NDArray[Any]


@dataclass
class Prediction:
    """What the model says about one question."""

    intent: str
    confidence: float
    tags: list[str]  # one per character of the question (O beyond the cut-off)
    slots: dict[str, list[str]]  # slot name -> texts of its spans, in order
    ranked: list[tuple[str, float]] = field(default_factory=list)  # intents, most probable first


def tagged_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """(kind, start, end) of the BIO spans of a tag sequence (end exclusive); an I- tag without
    its B- starts a span (a lenient repair)."""
    found: list[tuple[str, int, int]] = []
    current: str | None = None
    start = 0
    for i, tag in enumerate([*tags, "O"]):
        kind = tag[2:] if tag != "O" else None
        begins = tag.startswith("B-") or (tag.startswith("I-") and kind != current)
        if current is not None and (tag == "O" or begins):
            found.append((current, start, i))
            current = None
        if begins:
            current, start = kind, i
    return found


def spans(text: str, tags: list[str]) -> dict[str, list[str]]:
    """Slot texts from BIO tags: slot name -> the texts of its spans, in order."""
    found: dict[str, list[str]] = {}
    for kind, start, end in tagged_spans(tags):
        found.setdefault(kind, []).append(text[start:end])
    return found


def encode_batch(tokenizer: QuestionTokenizer, texts: list[str]) -> tuple[list[list[tuple[int, int]]], Array, Array]:
    """The character span of each token per text ((0, 0) for [CLS] and [SEP]), and the padded id
    and mask arrays (numpy, int64)."""
    import numpy as np

    encoded = [char_spans(tokenizer, text) for text in texts]
    width = max(len(ids) for ids, _ in encoded)
    input_ids = np.full((len(texts), width), tokenizer.pad_id, dtype=np.int64)
    mask = np.zeros((len(texts), width), dtype=np.int64)
    for row, (ids, _) in enumerate(encoded):
        input_ids[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1
    return [token_spans for _, token_spans in encoded], input_ids, mask


def char_tags(length: int, token_tags: list[str], token_spans: list[tuple[int, int]]) -> list[str]:
    """One tag per character of a question from the tags of its tokens: a token's first character
    takes its tag, its other characters continue it (I-); characters no token covers (spaces
    inside a span of Latin words) continue a span whose next token continues it, else O."""
    tags = ["O"] * length
    previous_kind: str | None = None
    previous_end = 0
    for tag, (start, end) in zip(token_tags, token_spans, strict=True):
        if end <= start:
            continue
        kind = tag[2:] if tag != "O" else None
        if kind is not None and tag.startswith("I-") and kind == previous_kind:
            tags[previous_end:start] = [f"I-{kind}"] * (start - previous_end)
        tags[start] = tag
        if end - start > 1:
            tags[start + 1 : end] = [f"I-{kind}" if kind else "O"] * (end - start - 1)
        previous_kind, previous_end = kind, end
    return tags


class QuestionBackend(Protocol):
    """What :func:`predict_batch` reads of a question model, either backend."""

    @property
    def tokenizer(self) -> QuestionTokenizer: ...

    @property
    def intents(self) -> list[str]: ...

    @property
    def slot_labels(self) -> list[str]: ...

    def logits(self, input_ids: Array, mask: Array) -> tuple[Array, Array]:
        """Intent logits of [CLS] and slot logits of every position, of padded id and mask arrays."""
        ...


def decode(model: QuestionBackend, texts: list[str], encoded: list[list[tuple[int, int]]], intent_logits: Array,
           slot_logits: Array, top: int | None = None) -> list[Prediction]:
    """Predictions from the two heads' logits (numpy arrays): the intent distribution, most
    probable first (``top`` of them, or all), and the slot tags of each character (``encoded``:
    the character span of each token)."""
    import numpy as np

    shifted = intent_logits - intent_logits.max(axis=-1, keepdims=True)
    probabilities = np.exp(shifted)
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    order = np.argsort(-probabilities, axis=-1, kind="stable")
    if top is not None:
        order = order[:, : max(top, 1)]
    slot_ids = slot_logits.argmax(-1)
    predictions = []
    for row, text in enumerate(texts):
        token_spans = encoded[row]
        token_tags = [model.slot_labels[i] for i in slot_ids[row, : len(token_spans)].tolist()]
        tags = char_tags(len(text), token_tags, token_spans)
        ranked = [(model.intents[i], float(probabilities[row, i])) for i in order[row].tolist()]
        predictions.append(Prediction(ranked[0][0], ranked[0][1], tags, spans(text, tags), ranked))
    return predictions


def predict_batch(model: QuestionBackend, texts: list[str], top: int | None = 3) -> list[Prediction]:
    """Intent, confidence, the ``top`` most probable intents (None: all) and slot tags of each
    text, with either backend (:class:`QuestionRuntime` or the torch ``QuestionModel``)."""
    if not texts:
        return []
    encoded, input_ids, mask = encode_batch(model.tokenizer, texts)
    intent_logits, slot_logits = model.logits(input_ids, mask)
    return decode(model, texts, encoded, intent_logits, slot_logits, top)


def _erf(x: Array) -> Array:
    """erf for GELU (numpy has none): Abramowitz & Stegun 7.1.26 in float64, absolute error
    below 1.5e-7, about the float32 rounding of the activations it feeds."""
    import numpy as np

    x64 = x.astype(np.float64)
    sign = np.sign(x64)
    a = np.abs(x64)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)


ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")


def _activate(x: Array, name: str) -> Array:
    """The feed-forward activation ``hidden_act`` names, as transformers computes it."""
    import numpy as np

    if name == "gelu":  # exact, through erf
        return 0.5 * x * (1.0 + _erf(x / np.float32(math.sqrt(2.0))))
    if name == "relu":
        return np.maximum(x, np.float32(0))
    # gelu_new and gelu_pytorch_tanh: the tanh approximation
    inner = np.float32(math.sqrt(2.0 / math.pi)) * (x + np.float32(0.044715) * x * x * x)
    return (0.5 * x * (1.0 + np.tanh(inner))).astype(np.float32)


class NumpyBert:
    """The BertModel forward pass (eval mode) over numpy arrays of its weights."""

    def __init__(self, weights: dict[str, Array], bert: dict[str, Any], prefix: str = "encoder.") -> None:
        self.layers = int(bert["num_hidden_layers"])
        self.heads = int(bert["num_attention_heads"])
        self.eps = float(bert.get("layer_norm_eps", 1e-12))
        self.activation = bert.get("hidden_act", "gelu")
        if self.activation not in ACTIVATIONS or bert.get("position_embedding_type", "absolute") != "absolute":
            raise InputDataError(f"the question runtime supports BERT with absolute positions and "
                                 f"{', '.join(ACTIVATIONS)} only (this model: {self.activation}, "
                                 f"{bert.get('position_embedding_type', 'absolute')} positions)")
        self.w = {key[len(prefix):]: value for key, value in weights.items() if key.startswith(prefix)}
        # Linear layers as (in, out) for x @ W.
        for key in list(self.w):
            if key.endswith(".weight") and self.w[key].ndim == 2 and "embeddings" not in key:
                self.w[key] = self.w[key].T.copy()

    def _norm(self, x: Array, name: str) -> Array:
        import numpy as np

        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _dense(self, x: Array, name: str) -> Array:
        return x @ self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def __call__(self, input_ids: Array, mask: Array) -> Array:
        import numpy as np

        w = self.w
        batch, width = input_ids.shape
        x = w["embeddings.word_embeddings.weight"][input_ids] + w["embeddings.position_embeddings.weight"][:width]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = self._norm(x, "embeddings.LayerNorm")
        size = x.shape[-1] // self.heads
        # Padding keys get the most negative float32, as transformers' additive mask does.
        blocked = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min).astype(np.float32)
        scale = np.float32(1.0 / math.sqrt(size))
        for layer in range(self.layers):
            name = f"encoder.layer.{layer}"

            def heads(t: Array) -> Array:
                return t.reshape(batch, width, self.heads, size).transpose(0, 2, 1, 3)

            q = heads(self._dense(x, f"{name}.attention.self.query"))
            k = heads(self._dense(x, f"{name}.attention.self.key"))
            v = heads(self._dense(x, f"{name}.attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, width, -1)
            x = self._norm(self._dense(context, f"{name}.attention.output.dense") + x,
                           f"{name}.attention.output.LayerNorm")
            inner = self._dense(x, f"{name}.intermediate.dense")
            inner = _activate(inner, self.activation)
            x = self._norm(self._dense(inner, f"{name}.output.dense") + x, f"{name}.output.LayerNorm")
        return x


class QuestionRuntime:
    """A saved question model, loaded for answering: tokenizer, labels, routes and the numpy
    network. Same attributes as the torch ``QuestionModel`` that :func:`predict_batch` reads."""

    def __init__(self, weights: dict[str, Array], meta: dict[str, Any], tokenizer: QuestionTokenizer) -> None:
        self.encoder = NumpyBert(weights, meta["bert"])
        self.intent_head = (weights["intent_head.weight"].T.copy(), weights["intent_head.bias"])
        self.slot_head = (weights["slot_head.weight"].T.copy(), weights["slot_head.bias"])
        self.tokenizer = tokenizer
        self.intents: list[str] = meta["intents"]
        self.slot_labels: list[str] = meta["slot_labels"]
        self.routes: dict[str, list[dict]] = meta["routes"]
        self.settings: dict = meta["settings"]
        self.lexicon: dict[str, list[str]] = meta.get("lexicon") or {}

    @classmethod
    def load(cls, folder: Path) -> QuestionRuntime:
        """Read ``model.safetensors``, ``config.json`` and the tokenizer (``vocab.json``, or
        ``tokenizer.json`` with a pretrained encoder) of a saved model."""
        from safetensors.numpy import load_file

        folder = Path(folder)
        if not (folder / "model.safetensors").exists():
            raise MissingArtifactError(f"no question model in {folder}", hint="run `kgqa train qa` first")
        try:
            meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            weights = load_file(str(folder / "model.safetensors"))
            return cls(weights, meta, load_tokenizer(folder))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputDataError(f"{folder}: not a readable question model ({exc})") from exc

    def logits(self, input_ids: Array, mask: Array) -> tuple[Array, Array]:
        """Intent logits of [CLS] and slot logits of every position (numpy float32)."""
        hidden = self.encoder(input_ids, mask)
        intent = hidden[:, 0] @ self.intent_head[0] + self.intent_head[1]
        slots = hidden @ self.slot_head[0] + self.slot_head[1]
        return intent, slots


def load_registered_runtime(workspace: Workspace, version: str | int | None = None) -> tuple[QuestionRuntime, ModelVersion]:
    """The newest usable registered question model (or ``version``), loaded for answering."""
    from kgqa_cli.mlops.registry import Registry, model_files

    registered = Registry(workspace.registry_dir).get("qa", version)
    with model_files(registered.path / "model"):
        return QuestionRuntime.load(registered.path / "model"), registered
