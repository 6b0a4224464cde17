"""Config of the triple extractor (the ``kg:`` section of ``configs/kgqa.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from kgqa_cli.config import StrictModel


class LexiconConfig(StrictModel):
    """Word-lexicon features of each character (``kgqa_cli/extraction/lexicon.py``)."""

    enabled: bool = Field(False, description="give each character the dictionary words it begins, is inside or ends")
    dim: int = Field(50, ge=4, description="size of the word and tag vectors; each of the 3 roles adds this much")
    max_word_length: int = Field(8, ge=2, description="longer dictionary words and names are not matched")
    max_words_per_role: int = Field(6, ge=1, description="words kept per character and role (the most frequent)")
    word_vectors: bool = Field(
        False, description="a vector per word as well as per tag; without pretrained word vectors they let the "
        "model memorise the training names (dev F1 0.23 after 9 epochs against 0.20 after 1 without, DuIE)"
    )
    max_vocabulary: int = Field(60_000, ge=1, description="words with a vector of their own (matched in train)")
    min_word_count: int = Field(1, ge=1, description="times a word is matched in train to get its own vector")
    corpus_names: bool = Field(
        False, description="add the train split's subject and object names, with their type (every gold name of a "
        "training sentence is then in the lexicon, few of dev's: the model learns to trust the lexicon too much)"
    )
    name_folds: int = Field(
        0, ge=0, description="with corpus_names: cross-fitting; train is cut into this many folds, and a training "
        "sentence sees only the names of the other folds, as a new sentence sees only names of train; 0 or 1: "
        "every train name"
    )


ENCODER_KEYS = ("encoder", "pretrained")  # absent from a character model's saved config, as before they existed


class KgModelConfig(StrictModel):
    """Sizes of the network; saved as ``config.json`` next to the weights."""

    encoder: Literal["lstm", "pretrained"] = Field(
        "lstm", description="what reads the sentence before the pointers: lstm, character embeddings and a Bi-LSTM "
        "trained from scratch; pretrained, the last hidden states of the encoder named by `pretrained` (BERT-style), "
        "fine-tuned with it. With pretrained the pointers work on its tokenizer's tokens, mapped back to exact "
        "character offsets, and the character keys (embedding_dim, bigram_dim, min_bigram_count, hidden_size, "
        "lstm_layers, attention_heads, lexicon) are ignored"
    )
    pretrained: str | None = Field(
        None, description="the pretrained encoder (encoder: pretrained): a Hugging Face model id (bert-base-chinese, "
        "hfl/chinese-roberta-wwm-ext; read from HF_HOME's cache when HF_HUB_OFFLINE is set), a folder written by "
        "save_pretrained (weights and tokenizer), or an s3:// prefix for --target sagemaker. Its tokenizer must "
        "have a fast version (character offsets)"
    )
    embedding_dim: int = Field(128, ge=8, description="character embedding size (ignored with a pretrained encoder)")
    bigram_dim: int = Field(
        0, ge=0, description="size of a character-bigram embedding (each character with the next) read beside the "
        "character's; 0: off (ignored with a pretrained encoder)"
    )
    min_bigram_count: int = Field(2, ge=1, description="bigrams seen fewer times in train map to the unknown id")
    hidden_size: int = Field(128, ge=8, description="Bi-LSTM hidden size per direction (ignored with a pretrained "
                             "encoder, whose own width is used)")
    lstm_layers: int = Field(1, ge=1, le=4, description="Bi-LSTM layers (ignored with a pretrained encoder)")
    attention_heads: int = Field(4, ge=0, description="heads of the self-attention layer over the Bi-LSTM; 0: no such "
                                 "layer (ignored with a pretrained encoder)")
    conv_channels: int = Field(256, ge=8, description="output channels of the Conv1d layers")
    kernel_size: int = Field(3, ge=1, description="odd width of the Conv1d kernels")
    dropout: float = Field(0.2, ge=0, lt=1)
    subject_types: bool = Field(
        False, description="subject-type-aware object head: classify each subject's type (the schema's subject "
        "types) and give the object pointers its type vector and a per-type bias for every channel, started "
        "from the schema (channels whose predicate takes another subject type start suppressed)"
    )
    relative_positions: int = Field(
        0, ge=0, description="object pointers see each character's distance to the subject's head and tail "
        "(clipped at this many characters); 0: off"
    )
    lexicon: LexiconConfig = Field(LexiconConfig(), description="word-lexicon features of each character (ignored "
                                   "with a pretrained encoder)")

    @model_validator(mode="after")
    def _pretrained_is_named(self) -> KgModelConfig:
        if self.encoder == "pretrained" and not (self.pretrained or "").strip():
            raise ValueError("kg.model.pretrained is required when kg.model.encoder is pretrained: name a Hugging "
                             "Face model id (bert-base-chinese) or a folder saved with save_pretrained")
        return self

    @property
    def uses_pretrained(self) -> bool:
        """Whether a pretrained encoder (on its tokens) replaces the character layers."""
        return self.encoder == "pretrained"

    @property
    def uses_lexicon(self) -> bool:
        return self.lexicon.enabled and not self.uses_pretrained

    @property
    def uses_bigrams(self) -> bool:
        return bool(self.bigram_dim) and not self.uses_pretrained

    def saved_settings(self) -> dict:
        """The settings as ``config.json`` and checkpoints record them; a character model's leave
        out the encoder keys, so its files and resume fingerprint are what they were without them."""
        return self.model_dump(mode="json", exclude=None if self.uses_pretrained else set(ENCODER_KEYS))


class AugmentConfig(StrictModel):
    """Mention replacement (``kgqa_cli/extraction/augment.py``): copies of the training sentences
    with some names swapped for others of their type, in the text and the triples alike."""

    copies: int = Field(0, ge=0, description="new sentences made from each training sentence; 0: off")
    replace_probability: float = Field(0.7, gt=0, le=1, description="chance that each swappable name is swapped")
    outside_names: float = Field(
        0.5, ge=0, le=1, description="share of person swaps drawn from jieba's person names (tag nr) rather than "
        "the training split's"
    )
    person_types: list[str] = Field(
        default_factory=lambda: ["人物", "娱乐人物", "历史人物"], description="schema types that are persons (one pool)"
    )
    keep_types: list[str] = Field(
        default_factory=lambda: ["Date", "Number", "Text", "日期", "气候", "语言"],
        description="types whose values are never swapped (dates, numbers, free text)",
    )


class DistillConfig(StrictModel):
    """Distillation (``kgqa_cli/extraction/distill.py``): a trained extractor, an ensemble most
    usefully, teaches the new one its probability at every pointer of every training sentence."""

    teacher: str | None = Field(
        None, description="the kg version that teaches (vN, kg/vN or latest; an ensemble too), of the same schema; "
        "null: off"
    )
    weight: float = Field(
        0.5, gt=0, le=1, description="share of the teacher's probability in each pointer's target (the rest: the label)"
    )


class KgTrainConfig(StrictModel):
    """How the extractor is trained."""

    epochs: int = Field(20, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(0.001, gt=0, description="learning rate (of the pointer layers, with a pretrained encoder)")
    encoder_lr: float = Field(
        3e-5, gt=0, description="learning rate of the pretrained encoder's own weights (encoder: pretrained); the "
        "usual fine-tuning rates are 1e-5 to 5e-5, far below what the new pointer layers need"
    )
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, ge=0, description="max gradient norm; 0 turns clipping off")
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="share of the steps the learning rate rises from 0")
    decay: Literal["none", "linear", "cosine"] = Field("none", description="learning-rate decay after the warmup")
    object_loss_weight: float = Field(1.0, ge=0, description="weight of the object pointers' loss against the subjects'")
    positive_weight: float = Field(
        1.0, gt=0, description="weight of a pointer's positive positions in its loss (above 1 trades precision for recall)"
    )
    ema_decay: float = Field(
        0.0, ge=0, lt=1, description="keep an exponential moving average of the weights (e.g. 0.999); dev "
        "scoring and the saved model use it; 0: off"
    )
    patience: int = Field(3, ge=1, description="epochs without a better dev F1 before stopping")
    seed: int = 13
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, ge=1, description="CPU threads; null: every core")
    max_len: int = Field(200, ge=8, description="characters kept of a training sentence")
    min_char_count: int = Field(1, ge=1, description="characters rarer than this map to the unknown id")
    extra: list[str] = Field(
        default_factory=list,
        description="extra training sources written by preprocess (preprocess.extra names), their unlabelled channels masked",
    )
    init: str | None = Field(
        None, description="start from a pretrained encoder (`kgqa pretrain`): pretrain/vN, vN or latest; null: random"
    )
    augment: AugmentConfig = AugmentConfig()
    distill: DistillConfig = DistillConfig()


class KgEvaluateConfig(StrictModel):
    """The quality gate of ``kgqa evaluate``."""

    min_f1: float = Field(0.6, ge=0, le=1, description="below this F1 the model is rejected (exit 5)")
    approve_on_pass: bool = Field(
        True, description="a passing version is approved at once (the kg pipeline goes straight on to extract); "
        "false: it waits for `kgqa registry approve`"
    )


class KgExtractConfig(StrictModel):
    """Batch inference with ``kgqa extract`` (thresholds are also used for dev F1 and evaluate)."""

    input: Path = Field(Path("workspace/data/raw/demo/duie_train.json"), description="plain text or JSON lines")
    output: Path | None = Field(None, description="null: <workspace>/extract/triples.jsonl")
    batch_size: int = Field(64, ge=1)
    subject_threshold: float = Field(0.5, gt=0, lt=1)
    object_threshold: float = Field(0.5, gt=0, lt=1)
    max_chars: int = Field(200, ge=16, description="longer lines are split at sentence punctuation")
    bfloat16: bool | Literal["auto"] = Field(
        "auto", description="run a bfloat16 copy of the network: true, false, or auto (on where the CPU has "
        "AVX-512 BF16 or AMX, or the GPU supports it). DuIE held-out F1 0.4766 against 0.4764 in float32 (word "
        "lexicon), extract 1.45x faster on an AVX-512 BF16 CPU; elsewhere bfloat16 is emulated and slower"
    )
    workers: int = Field(
        2, ge=1, le=64, description="batches extracted at once on a CPU, each on its share of torch's threads (never "
        "more workers than threads): the Bi-LSTM's small per-character steps keep one thread busier than two. On 2 "
        "cores, DuIE test1: 2 workers 1,058-1,064 sentences/s and 594-597 MB peak, 1 worker 929-940/s and 565-571 MB"
    )


class PretrainConfig(StrictModel):
    """``kgqa pretrain``: masked-character training of the extractor's encoder on unlabelled text."""

    encoder: Literal["lstm", "bert"] = Field(
        "lstm", description="what is pretrained: lstm, the extractor's character embeddings and Bi-LSTM (for `kgqa "
        "train kg --init pretrain/vN`); bert, a BERT masked-language model saved as a Hugging Face folder (for "
        "`--kg.model.encoder pretrained --kg.model.pretrained FOLDER`, as a downloaded encoder would be)"
    )
    inputs: list[Path] = Field(default_factory=list, description="files of text (JSON lines with text, NLPCC, plain)")
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(0.002, gt=0)
    mask_ratio: float = Field(0.15, gt=0, lt=1, description="share of the characters to predict")
    max_len: int = Field(200, ge=8, description="characters kept of a text")
    min_char_count: int = Field(1, ge=1)
    seed: int = 13
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, ge=1, description="CPU threads; null: every core")
    vocab: str | None = Field(
        None, description="encoder: bert: a WordPiece vocabulary file (vocab.txt, one token a line, such as "
        "bert-base-chinese's; it must hold [PAD] [UNK] [CLS] [SEP] [MASK]); null: one character a token, those seen "
        "at least min_char_count times in the texts"
    )
    bert_layers: int = Field(4, ge=1, le=24, description="encoder: bert: transformer layers")
    bert_hidden: int = Field(256, ge=8, description="encoder: bert: hidden size (a multiple of bert_heads)")
    bert_heads: int = Field(4, ge=1, description="encoder: bert: attention heads per layer")
    bert_intermediate: int = Field(1024, ge=8, description="encoder: bert: feed-forward size of each layer")
    bert_max_length: int = Field(128, ge=8, le=4096, description="encoder: bert: tokens kept of a text, [CLS] and "
                                 "[SEP] included; also the most positions the model knows")

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> PretrainConfig:
        if self.bert_hidden % self.bert_heads:
            raise ValueError(f"kg.pretrain.bert_hidden {self.bert_hidden} is not a multiple of kg.pretrain.bert_heads "
                             f"{self.bert_heads}")
        return self


class KgConfig(StrictModel):
    """Everything about the triple extractor."""

    model: KgModelConfig = KgModelConfig()
    train: KgTrainConfig = KgTrainConfig()
    evaluate: KgEvaluateConfig = KgEvaluateConfig()
    extract: KgExtractConfig = KgExtractConfig()
    pretrain: PretrainConfig = PretrainConfig()
