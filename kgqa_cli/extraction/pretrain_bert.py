"""`kgqa pretrain --kg.pretrain.encoder bert`: a BERT pretrained here, saved as a Hugging Face folder.

A BERT masked-language model (``BertForMaskedLM``) learns on the same unlabelled texts as the
character encoder (dev and test texts left out): 15 % of the tokens picked, of those 80 % [MASK],
10 % a random token, 10 % unchanged. Its vocabulary is a WordPiece file (``pretrain.vocab``,
such as bert-base-chinese's ``vocab.txt``) or, without one, one token per character of the texts.
The model and its tokenizer are written with ``save_pretrained`` and registered as
``pretrain/vN``, so that ``--kg.model.encoder pretrained --kg.model.pretrained FOLDER`` (and
``qa.model``) load it exactly as they load an encoder downloaded elsewhere.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from kgqa_cli.errors import InputDataError
from kgqa_cli.extraction.config import PretrainConfig
from kgqa_cli.extraction.pretrain_texts import GROUP, PretrainResult
from kgqa_cli.mlops.trainer import EpochResult, LoopSettings, Recipe, Scores, Trainer
from kgqa_cli.workspace import Workspace, ensure_writable

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID
    from transformers import BertForMaskedLM, BertTokenizer, DataCollatorForLanguageModeling

log = logging.getLogger(__name__)

FOLDER = "pretrain-bert"  # below the workspace's models/
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
FORM_FILE = "kgqa_pretrain.json"  # marks a registered pretrain version as the BERT form


def read_vocab(path: Path) -> list[str]:
    """The tokens of a WordPiece vocabulary file, one a line; it must hold BERT's special tokens."""
    from kgqa_cli.io import read_user_text

    tokens = read_user_text(path, "vocabulary file", key="kg.pretrain.vocab",
                            hint="give a vocab.txt with one token a line, or leave vocab unset for characters").splitlines()
    missing = [token for token in SPECIAL_TOKENS if token not in set(tokens)]
    if missing:
        raise InputDataError(f"kg.pretrain.vocab {path}: not a WordPiece vocabulary: no {' '.join(missing)}",
                             hint="a BERT vocab.txt holds [PAD] [UNK] [CLS] [SEP] [MASK], one token a line")
    return tokens


def character_vocab(texts: list[str], min_count: int) -> list[str]:
    """BERT's special tokens and every character seen at least ``min_count`` times (lower-cased,
    as the tokenizer reads them). A character outside the CJK blocks also gets its ``##`` form,
    since the tokenizer keeps runs of digits and letters together as one word to split."""
    counts = Counter(char for text in texts for char in text.lower() if not char.isspace())
    characters = sorted(char for char, count in counts.items() if count >= min_count)
    continued = [f"##{char}" for char in characters if not _is_cjk(char)]
    return [*SPECIAL_TOKENS, *characters, *continued]


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2FA1F or 0xF900 <= code <= 0xFAFF


def pretrain_bert(config: PretrainConfig, workspace: Workspace, texts: list[str], inputs: list[Path],
                  register: bool) -> PretrainResult:
    """Train a BERT masked-language model on ``texts``; save and (optionally) register it."""
    from transformers import DataCollatorForLanguageModeling

    from kgqa_cli.extraction.predict import choose_device
    from kgqa_cli.torch_setup import seed_everything, set_threads
    from kgqa_cli.ui import progress

    models = workspace.model_dir(FOLDER).parent
    staging = models / f".{FOLDER}.partial"
    ensure_writable([models, workspace.registry_dir])
    seed_everything(config.seed)
    set_threads(config.threads)
    tokens = _vocabulary(config, texts)
    tokenizer = _staged_tokenizer(config, tokens, staging)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=config.mask_ratio,
                                               return_tensors="pt")
    device = choose_device(config.device)
    model = _new_bert(config, tokenizer)
    model.to(device)  # type: ignore[arg-type]  # transformers' decorator on .to hides its signature from mypy

    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(texts))
    checking = max(1, len(texts) // 50)  # 2 % of the texts measure masked-token accuracy
    encoded = tokenizer([texts[i] for i in order], truncation=True, max_length=config.bert_max_length)["input_ids"]
    check, train = encoded[:checking], encoded[checking:]
    batches_per_epoch = max(1, len(train) // config.batch_size)
    steps = batches_per_epoch * config.epochs
    warmup = max(1, steps // 10)  # a transformer trained from scratch diverges easily at full rate on its first steps
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / max(1, steps - warmup))))
    with progress() as bar:
        recipe = MaskedTokens(config, model, collator, train, check, rng, bar, batches_per_epoch)
        curve = Trainer(model, optimizer, LoopSettings(config.epochs, grad_clip=1.0), scheduler=schedule).run(recipe).curve
    out = _publish(model, tokenizer, staging, workspace.model_dir(FOLDER), curve, len(texts))
    result = PretrainResult(out, len(texts), len(tokens), curve, encoder="bert")
    if register:
        from kgqa_cli.mlops.registry import Registry, hash_paths

        last = curve[-1]
        version = Registry(workspace.registry_dir).register(
            GROUP, out, {"encoder": "bert", "mlm_loss": last["check_loss"], "masked_accuracy": last["masked_accuracy"],
                         "train_loss": last["loss"], "sentences": len(texts)},
            data_hash=hash_paths(list(inputs)))
        result.version = version.name
        result.model_dir = version.path / "model"
    return result


class MaskedTokens(Recipe[np.ndarray]):
    """BERT pretraining's part of the loop: batches of the texts in an order drawn from ``rng``,
    masked by the collator (from torch's generator), their masked-language loss (none for a
    batch where nothing was picked), and loss and accuracy on the texts held back."""

    def __init__(self, config: PretrainConfig, model: BertForMaskedLM, collator: DataCollatorForLanguageModeling,
                 train: list[list[int]], check: list[list[int]], rng: np.random.Generator, bar: Progress,
                 batches_per_epoch: int) -> None:
        self.config, self.forward, self.collator, self.train, self.check = config, model, collator, train, check
        self.model, self.rng, self.bar, self.batches_per_epoch = model, rng, bar, batches_per_epoch
        self.device = next(model.parameters()).device
        self.task: TaskID | None = None

    def batches(self, epoch: int) -> list[np.ndarray]:
        batches = np.array_split(self.rng.permutation(len(self.train)), self.batches_per_epoch)
        self.task = self.bar.add_task(f"pretrain bert epoch {epoch}/{self.config.epochs}", total=len(batches))
        return batches

    def loss(self, batch: np.ndarray) -> torch.Tensor | None:
        collated = self.collator([{"input_ids": self.train[i]} for i in batch])
        loss = masked_loss(self.model, {key: value.to(self.device) for key, value in collated.items()})[0]
        return None if torch.isnan(loss) else loss  # a batch where no token was picked has no loss

    def after_step(self, epoch: int, step: int, total_loss: float) -> None:
        assert self.task is not None
        self.bar.advance(self.task)

    def score(self, epoch: int, scored: torch.nn.Module) -> Scores:
        check_loss, accuracy = _check(self.model, self.collator, self.check, self.config, self.device)
        return {"check_loss": check_loss, "masked_accuracy": accuracy}

    def result(self, epoch: int, mean_loss: float, seconds: float, dev: Scores) -> EpochResult:
        check_loss, accuracy = dev["check_loss"], dev["masked_accuracy"]
        point = {"epoch": epoch, "loss": round(mean_loss, 5),
                 "check_loss": None if math.isnan(check_loss) else round(check_loss, 5),
                 "masked_accuracy": round(accuracy, 4), "seconds": round(seconds, 1)}
        log.info("pretrain bert epoch %d: loss %.4f, held-back loss %.4f, masked-token accuracy %.4f", epoch,
                 point["loss"], check_loss, accuracy)
        return EpochResult(point)


def _vocabulary(config: PretrainConfig, texts: list[str]) -> list[str]:
    """The tokens of ``kg.pretrain.vocab``, or without one, one a character of the texts."""
    if config.vocab:
        tokens = read_vocab(Path(config.vocab))
        log.info("vocabulary: %d WordPiece tokens of %s", len(tokens), config.vocab)
    else:
        tokens = character_vocab(texts, config.min_char_count)
        log.info("vocabulary: no kg.pretrain.vocab given, so one token per character seen at least %d time(s) in "
                 "the texts: %d tokens", config.min_char_count, len(tokens))
    return tokens


def _staged_tokenizer(config: PretrainConfig, tokens: list[str], staging: Path) -> BertTokenizer:
    """A WordPiece tokenizer of ``tokens``, its vocab.txt written into a fresh ``staging`` folder."""
    from transformers import BertTokenizer

    shutil.rmtree(staging, ignore_errors=True)  # left by a run that died
    staging.mkdir(parents=True)
    vocab_file = staging / "vocab.txt"
    vocab_file.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    # vocab= and not vocab_file=: transformers 5 ignores the latter and every token becomes [UNK].
    return BertTokenizer(vocab=str(vocab_file), model_max_length=config.bert_max_length)


def _new_bert(config: PretrainConfig, tokenizer: BertTokenizer) -> BertForMaskedLM:
    """An untrained BERT masked-language model of ``kg.pretrain``'s sizes."""
    from transformers import BertConfig, BertForMaskedLM

    # One id a line of vocab.txt: bert-base-chinese's file holds 53 tokens twice, so its tokenizer
    # knows fewer tokens than the ids it hands out (up to 21,127); the embeddings need every id.
    bert_config = BertConfig(vocab_size=max(tokenizer.get_vocab().values()) + 1, hidden_size=config.bert_hidden,
                             num_hidden_layers=config.bert_layers, num_attention_heads=config.bert_heads,
                             intermediate_size=config.bert_intermediate,
                             max_position_embeddings=config.bert_max_length, pad_token_id=tokenizer.pad_token_id)
    return BertForMaskedLM(bert_config)


def _publish(model: BertForMaskedLM, tokenizer: BertTokenizer, staging: Path, out: Path, curve: list[dict],
             sentences: int) -> Path:
    """Save the model and tokenizer into ``staging``, then rename it to ``out``."""
    from transformers.utils import logging as hf_logging

    from kgqa_cli.io import write_json

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a shard bar for one small file would only clutter the output
    try:
        model.cpu().save_pretrained(str(staging))
    finally:
        if shown:
            hf_logging.enable_progress_bar()
    tokenizer.save_pretrained(str(staging))
    write_json(staging / FORM_FILE, {"encoder": "bert", "sentences": sentences, "curve": curve})
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)  # the folder is whole or absent, never half written
    return out


def masked_loss(model: BertForMaskedLM,
                batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean cross-entropy, logits, labels) over the masked tokens of a collated batch only.

    ``BertForMaskedLM`` scores every position against the whole vocabulary and then ignores
    the 85 % that were not picked; on a 21,128-token vocabulary that projection is most of a
    small model's work. Running the prediction head on the picked positions alone gives the
    same loss and gradients, several times faster on a CPU. A batch with nothing picked has a
    NaN loss (and is skipped by the caller).
    """
    from torch.nn import functional as F

    labels = batch["labels"]
    states = model.bert(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask"),
                        token_type_ids=batch.get("token_type_ids")).last_hidden_state
    picked = labels != -100
    logits = model.cls(states[picked])
    targets = labels[picked]
    loss = F.cross_entropy(logits, targets) if len(targets) else torch.tensor(float("nan"), device=states.device)
    return loss, logits, targets


def _check(model: BertForMaskedLM, collator: DataCollatorForLanguageModeling, sequences: list[list[int]],
           config: PretrainConfig, device: torch.device) -> tuple[float, float]:
    """Masked-language loss and accuracy on the held-back texts, with the same masks every epoch."""
    model.eval()
    state = torch.random.get_rng_state()
    torch.manual_seed(config.seed + 1)  # the collator draws its masks from torch's generator
    losses, right, total = [], 0, 0
    try:
        with torch.inference_mode():
            for start in range(0, len(sequences), config.batch_size):
                batch = collator([{"input_ids": ids} for ids in sequences[start:start + config.batch_size]])
                batch = {key: value.to(device) for key, value in batch.items()}
                loss, logits, labels = masked_loss(model, batch)
                if len(labels):
                    losses.append((float(loss), len(labels)))
                    right += int((logits.argmax(-1) == labels).sum())
                    total += len(labels)
    finally:
        torch.random.set_rng_state(state)
    mean = sum(value * count for value, count in losses) / total if total else math.nan
    return mean, (right / total if total else 0.0)
