"""Config of the question model: question generation, the JointBERT network, training, gates."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from kgqa_cli.config import StrictModel


class FeedbackConfig(StrictModel):
    """Section ``qa.questions.feedback``: labelled questions from `kgqa label` in the training set."""

    enabled: bool = Field(True, description="merge <workspace>/data/feedback/feedback.jsonl into the train split")
    repeat: int = Field(5, ge=1, description="copies of each feedback question (its weight against generated ones)")
    max_share: float = Field(0.2, gt=0, le=1, description="most share of the train split that feedback may take")


class QuestionGenerationConfig(StrictModel):
    """How many questions to generate from the schema, and how entity names are split."""

    templates: Path = Field(Path("configs/questions.yaml"), description="intent templates")
    per_intent: dict[str, int] = Field(
        default_factory=lambda: {"train": 120, "dev": 20, "test": 40},
        description="questions generated per intent and split",
    )
    name_ratios: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.7, "dev": 0.1, "test": 0.2},
        description="share of the distinct entity names reserved for each split (disjoint)",
    )
    use_graph_names: bool = Field(True, description="add entity names from the graph when it exists")
    max_name_length: int = Field(20, ge=1, description="longer entity names are not used in questions")
    followup_share: float = Field(
        0.15, ge=0, le=1, description="share of an intent's questions asked as follow-ups (他还导演了哪些电影)"
    )
    seed: int = 17
    feedback: FeedbackConfig = FeedbackConfig()

    @model_validator(mode="after")
    def _splits_named(self) -> QuestionGenerationConfig:
        for field_name in ("per_intent", "name_ratios"):
            keys = set(getattr(self, field_name))
            if keys != {"train", "dev", "test"}:
                raise ValueError(f"{field_name} needs exactly the keys train, dev, test (got {sorted(keys)})")
        return self


class JointBertConfig(StrictModel):
    """The network: a BERT encoder with two heads, built from scratch (nothing is downloaded) or
    started from a pretrained BERT checkpoint (``encoder: pretrained``)."""

    encoder: Literal["scratch", "pretrained"] = Field(
        "scratch", description="scratch: a BERT of the sizes below, randomly initialised, over the characters of "
                               "the training questions; pretrained: the checkpoint named by `pretrained`, its "
                               "sizes and its tokenizer")
    pretrained: str | None = Field(
        None, description="the pretrained checkpoint (encoder: pretrained): a Hugging Face model id "
                          "(bert-base-chinese), a folder written by save_pretrained, or an s3:// prefix "
                          "(--target sagemaker); read at training time only, the model carries its own copy")
    num_hidden_layers: int = Field(6, ge=1, description="encoder layers (ignored with a pretrained encoder)")
    hidden_size: int = Field(128, ge=16, description="encoder width (ignored with a pretrained encoder)")
    num_attention_heads: int = Field(4, ge=1, description="attention heads (ignored with a pretrained encoder)")
    intermediate_size: int = Field(512, ge=16, description="feed-forward width (ignored with a pretrained encoder)")
    max_length: int = Field(64, ge=8, description="tokens read, with [CLS] and [SEP]; the rest of a question is "
                                                  "cut off (a character is a token from scratch)")
    dropout: float = Field(0.1, ge=0, lt=1)
    slot_loss_weight: float = Field(1.0, ge=0, description="loss = intent loss + weight * slot loss")
    min_char_count: int = Field(1, ge=1, description="characters seen fewer times in train become [UNK] "
                                                     "(ignored with a pretrained encoder: its vocabulary is kept)")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> JointBertConfig:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        if self.encoder == "pretrained" and not (self.pretrained or "").strip():
            raise ValueError("qa.model.pretrained is required when qa.model.encoder is pretrained: name a Hugging "
                             "Face model id (bert-base-chinese) or a folder saved with save_pretrained")
        return self


class QaTrainConfig(StrictModel):
    """The training loop."""

    epochs: int = Field(8, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    encoder_lr: float = Field(
        3e-5, gt=0, description="learning rate of a pretrained encoder's own weights (qa.model.encoder: pretrained; "
        "the heads keep learning_rate): fine-tuning rates are 1e-5 to 5e-5, far below what new layers need"
    )
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    patience: int = Field(2, ge=1, description="epochs without a better dev score before stopping")
    unk_replace: float = Field(
        0.1, ge=0, le=0.33,
        description="chance that an entity character becomes [UNK] in training (and twice this: a random character)",
    )
    seed: int = 7
    threads: int | None = Field(
        1, ge=1, description="torch threads (null: every core); a model this small gains little from more, and loses a lot on shared cores"
    )


class QaGatesConfig(StrictModel):
    """Thresholds `kgqa evaluate qa` checks on the test questions."""

    min_intent_accuracy: float = Field(0.95, ge=0, le=1)
    min_slot_f1: float = Field(0.93, ge=0, le=1)
    approve_on_pass: bool = Field(
        False, description="a passing version is approved at once; false: it waits for `kgqa registry approve`"
    )


class QaConfig(StrictModel):
    """Section ``qa``: the question model."""

    questions: QuestionGenerationConfig = QuestionGenerationConfig()
    model: JointBertConfig = JointBertConfig()
    train: QaTrainConfig = QaTrainConfig()
    gates: QaGatesConfig = QaGatesConfig()
