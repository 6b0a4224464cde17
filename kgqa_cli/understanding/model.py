"""JointBERT: a BERT encoder with an intent head on [CLS] and a slot head on every token.

The encoder is a ``transformers`` BertModel built from a config and randomly initialised (nothing
is downloaded; a token is a character), or a pretrained BERT checkpoint with its own tokenizer
(``qa.model.encoder: pretrained``). A saved model is a folder: ``model.safetensors``,
``config.json`` (the BERT config, intent and slot label lists, intent routes; with a pretrained
encoder also where it came from) and the tokenizer: ``vocab.json``, or ``tokenizer.json`` and
``tokenizer_meta.json`` for a pretrained one. The model carries everything it needs to answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from kgqa_cli.errors import ConfigError, InputDataError, MissingArtifactError
from kgqa_cli.io import write_json
from kgqa_cli.understanding.config import JointBertConfig
from kgqa_cli.understanding.runtime import Prediction, spans  # noqa: F401  (re-exported)
from kgqa_cli.understanding.runtime import predict_batch as runtime_predict_batch
from kgqa_cli.understanding.tokenizer import CharTokenizer, PretrainedTokenizer, load_tokenizer

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from transformers import BertConfig, BertModel

IGNORE = -100  # label of [CLS], [SEP] and padding in the slot loss


def bert_config(config: JointBertConfig, vocab_size: int) -> BertConfig:
    """The transformers BertConfig of our encoder."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=config.max_length,
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        type_vocab_size=1,
        pad_token_id=0,
    )


class JointBert(nn.Module):
    """Encoder + intent classifier ([CLS]) + slot tagger (per character)."""

    def __init__(self, encoder_config: BertConfig, num_intents: int, num_slots: int) -> None:
        super().__init__()
        from transformers import BertModel

        self.encoder = BertModel(encoder_config, add_pooling_layer=False)
        self.dropout = nn.Dropout(encoder_config.hidden_dropout_prob)
        self.intent_head = nn.Linear(encoder_config.hidden_size, num_intents)
        self.slot_head = nn.Linear(encoder_config.hidden_size, num_slots)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        hidden = self.dropout(hidden)
        return self.intent_head(hidden[:, 0]), self.slot_head(hidden)


def from_pretrained_encoder(encoder: BertModel, num_intents: int, num_slots: int, dropout: float, key: str) -> JointBert:
    """A JointBERT whose encoder starts from a loaded pretrained ``BertModel`` (its sizes, its
    weights; the heads are new). Only BERT checkpoints: the question runtime runs their forward
    pass without transformers."""
    import copy

    model_type = getattr(encoder.config, "model_type", None)
    if model_type != "bert":
        raise ConfigError(f"{key}: a {model_type} checkpoint; the question model takes BERT checkpoints "
                          "(model_type bert, e.g. bert-base-chinese, hfl/chinese-roberta-wwm-ext)")
    encoder_config = copy.deepcopy(encoder.config)
    encoder_config.hidden_dropout_prob = dropout
    encoder_config.attention_probs_dropout_prob = dropout
    network = JointBert(encoder_config, num_intents, num_slots)
    # The checkpoint's pooler (and any head) has no use here; every encoder weight must be there.
    missing, _ = network.encoder.load_state_dict(encoder.state_dict(), strict=False)
    if missing:
        raise ConfigError(f"{key}: the checkpoint lacks encoder weights ({', '.join(missing[:3])}...)")
    return network


def joint_loss(
    intent_logits: torch.Tensor,
    slot_logits: torch.Tensor,
    intent_labels: torch.Tensor,
    slot_labels: torch.Tensor,
    slot_weight: float,
) -> torch.Tensor:
    """Cross-entropy of the intent plus ``slot_weight`` times the mean cross-entropy of the tags."""
    intent_loss = nn.functional.cross_entropy(intent_logits, intent_labels)
    slot_loss = nn.functional.cross_entropy(
        slot_logits.reshape(-1, slot_logits.shape[-1]), slot_labels.reshape(-1), ignore_index=IGNORE
    )
    return intent_loss + slot_weight * slot_loss


@dataclass
class QuestionModel:
    """A loaded model with its tokenizer, labels and intent routes."""

    network: JointBert
    tokenizer: CharTokenizer | PretrainedTokenizer
    intents: list[str]
    slot_labels: list[str]
    routes: dict[str, list[dict]]  # intent -> [{"predicate", "direction"}, ...]
    settings: dict
    lexicon: dict[str, list[str]] = field(default_factory=dict)  # predicate -> everyday words for it
    encoder: dict | None = None  # a pretrained encoder's provenance (None: trained from scratch)

    def save(self, folder: Path) -> None:
        """Write model.safetensors, config.json and the tokenizer's files into ``folder``."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.network.state_dict().items()}
        save_file(state, str(folder / "model.safetensors"))
        meta = {
            "bert": self.network.encoder.config.to_diff_dict(),
            "intents": self.intents,
            "slot_labels": self.slot_labels,
            "routes": self.routes,
            "settings": self.settings,
            "lexicon": self.lexicon,
        }
        if self.encoder is not None:
            meta["encoder"] = {"type": "pretrained", **self.encoder}
        write_json(folder / "config.json", meta)
        self.tokenizer.save(folder)

    @classmethod
    def load(cls, folder: Path) -> QuestionModel:
        """Load a saved model folder (in eval mode)."""
        from safetensors.torch import load_file
        from transformers import BertConfig

        folder = Path(folder)
        if not (folder / "model.safetensors").exists():
            raise MissingArtifactError(f"no question model in {folder}", hint="run `kgqa train qa` first")
        try:
            meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            encoder_config = BertConfig(**meta["bert"])
            network = JointBert(encoder_config, len(meta["intents"]), len(meta["slot_labels"]))
            network.load_state_dict(load_file(str(folder / "model.safetensors")))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise InputDataError(f"{folder}: not a readable question model ({exc})") from exc
        network.eval()
        return cls(network, load_tokenizer(folder), meta["intents"], meta["slot_labels"], meta["routes"],
                   meta["settings"], meta.get("lexicon") or {}, meta.get("encoder"))

    def logits(self, input_ids: NDArray[Any], mask: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
        """Intent and slot logits (numpy) of padded id and mask arrays (numpy), without gradients."""
        with torch.inference_mode():
            intent, slots = self.network(torch.from_numpy(input_ids), torch.from_numpy(mask))
        return intent.numpy(), slots.numpy()


def predict_batch(model: QuestionModel, texts: list[str], top: int | None = 3) -> list[Prediction]:
    """Intent, confidence, the ``top`` most probable intents and slot tags for each text (no gradients)."""
    return runtime_predict_batch(model, texts, top)
