"""`kgqa pretrain`: the extractor's character encoder trained on unlabelled text first.

(With ``kg.pretrain.encoder: bert`` a BERT is pretrained instead: ``pretrain_bert.py``.)

No pretrained Chinese model may be downloaded, but there is more text than labels: the DuIE and
SKE sentences, the NLPCC questions, the demo corpus. The encoder of the extractor (character
embeddings and the Bi-LSTM) learns masked-character prediction on them: 15 % of the characters of
each sentence are picked; of those, 80 % become [MASK], 10 % a random character, 10 % stay; a
linear layer over the Bi-LSTM state predicts the original characters. The encoder's weights,
its vocabulary and sizes are a model of their own, registered as ``pretrain/vN``;
``kgqa train kg --init pretrain/vN`` starts the extractor from them (embedding rows copied by
character, the Bi-LSTM as it is).

Texts of the workspace's dev and test splits are left out, so the held-out figures stay held out.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from kgqa_cli.errors import ConfigError
from kgqa_cli.extraction.config import KgModelConfig, PretrainConfig
from kgqa_cli.extraction.model import CasRel, bidirectional_lstm
from kgqa_cli.extraction.predict import choose_device
from kgqa_cli.extraction.pretrain_texts import GROUP, PretrainResult, pretraining_texts
from kgqa_cli.extraction.vocab import CharVocab
from kgqa_cli.io import write_json
from kgqa_cli.mlops.trainer import EpochResult, LoopSettings, Recipe, Scores, Trainer, training_lock
from kgqa_cli.workspace import Workspace, ensure_writable

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

log = logging.getLogger(__name__)

MASK = "<mask>"


class CharEncoder(nn.Module):
    """The extractor's embedding and Bi-LSTM, with a masked-character head on top."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers=layers, batch_first=True, bidirectional=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden_size, vocab_size)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, vocabulary]`` of the N positions where ``chosen`` is true (the picked
        characters): the output layer, the largest matrix, runs on those alone."""
        states = bidirectional_lstm(self.lstm, self.dropout(self.embedding(ids)), mask, self.training)
        return self.head(self.dropout(states[chosen]))


def _masked(ids: list[int], rng: np.random.Generator, vocab_size: int, mask_id: int,
            ratio: float) -> tuple[list[int], list[int]]:
    """The input with ``ratio`` of its characters picked (80/10/10 as BERT), and the targets
    (-100 where nothing is to be predicted)."""
    inputs, targets = list(ids), [-100] * len(ids)
    for position in np.nonzero(rng.random(len(ids)) < ratio)[0].tolist():
        targets[position] = ids[position]
        roll = rng.random()
        if roll < 0.8:
            inputs[position] = mask_id
        elif roll < 0.9:
            inputs[position] = int(rng.integers(2, vocab_size))
    return inputs, targets


def run_pretrain(config: PretrainConfig, model_config: KgModelConfig, workspace: Workspace, inputs: list[Path],
                 register: bool = True) -> PretrainResult:
    """Masked-character training of the extractor's encoder on the texts of ``inputs``."""
    with training_lock(workspace, GROUP, "`kgqa pretrain`"):
        return _pretrain_and_register(config, model_config, workspace, inputs, register)


def _pretrain_and_register(config: PretrainConfig, model_config: KgModelConfig, workspace: Workspace,
                           inputs: list[Path], register: bool) -> PretrainResult:
    from kgqa_cli.mlops.registry import Registry, hash_paths
    from kgqa_cli.torch_setup import seed_everything, set_threads
    from kgqa_cli.ui import progress

    texts = pretraining_texts(workspace, inputs, config.max_len)
    if config.encoder == "bert":
        from kgqa_cli.extraction.pretrain_bert import pretrain_bert

        return pretrain_bert(config, workspace, texts, inputs, register)
    out = workspace.model_dir(GROUP) / "model"
    ensure_writable([out.parent, workspace.registry_dir])
    seed_everything(config.seed)
    set_threads(config.threads)
    vocab = CharVocab([*CharVocab.build(texts, config.min_char_count).itos[2:], MASK])
    device = choose_device(config.device)
    model = CharEncoder(len(vocab), model_config.embedding_dim, model_config.hidden_size, model_config.lstm_layers,
                        model_config.dropout).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(texts))
    checking = max(1, len(texts) // 50)  # 2 % of the texts measure masked-character accuracy
    check, train = [texts[i] for i in order[:checking]], [texts[i] for i in order[checking:]]
    with progress() as bar:
        recipe = MaskedCharacters(config, model, vocab, train, check, rng, bar)
        curve = Trainer(model, optimizer, LoopSettings(config.epochs, grad_clip=1.0)).run(recipe).curve
    _save(out, model, vocab, model_config, curve, len(texts))
    result = PretrainResult(out, len(texts), len(vocab), curve)
    if register:
        version = Registry(workspace.registry_dir).register(
            GROUP, out, {"masked_accuracy": curve[-1]["masked_accuracy"], "sentences": len(texts)},
            data_hash=hash_paths(list(inputs)))
        result.version = version.name
    return result


class MaskedCharacters(Recipe[np.ndarray]):
    """Pretraining's part of the loop: batches of the texts in an order drawn from ``rng`` (which
    also picks the masked characters), their masked-character loss, and the accuracy on the
    texts held back to check it."""

    def __init__(self, config: PretrainConfig, model: CharEncoder, vocab: CharVocab, train: list[str],
                 check: list[str], rng: np.random.Generator, bar: Progress) -> None:
        self.config, self.forward, self.vocab, self.check, self.rng, self.bar = config, model, vocab, check, rng, bar
        self.model = model
        self.mask_id = vocab.stoi[MASK]
        self.encoded = [vocab.encode(text) for text in train]
        self.task: TaskID | None = None

    def batches(self, epoch: int) -> list[np.ndarray]:
        count = max(1, len(self.encoded) // self.config.batch_size)
        self.task = self.bar.add_task(f"pretrain epoch {epoch}/{self.config.epochs}", total=count)
        return np.array_split(self.rng.permutation(len(self.encoded)), count)

    def loss(self, batch: np.ndarray) -> torch.Tensor:
        return _batch_loss(self.model, [self.encoded[i] for i in batch], self.rng, len(self.vocab), self.mask_id,
                           self.config.mask_ratio)

    def after_step(self, epoch: int, step: int, total_loss: float) -> None:
        assert self.task is not None
        self.bar.advance(self.task)

    def score(self, epoch: int, scored: torch.nn.Module) -> Scores:
        checked = [self.vocab.encode(text) for text in self.check]
        return {"masked_accuracy": _accuracy(self.model, checked, len(self.vocab), self.mask_id, self.config)}

    def result(self, epoch: int, mean_loss: float, seconds: float, dev: Scores) -> EpochResult:
        accuracy = dev["masked_accuracy"]
        point = {"epoch": epoch, "loss": round(mean_loss, 5), "masked_accuracy": round(accuracy, 4),
                 "seconds": round(seconds, 1)}
        log.info("pretrain epoch %d: loss %.4f, masked-character accuracy %.4f", epoch, point["loss"], accuracy)
        return EpochResult(point)


def _batch(sequences: list[list[int]], rng: np.random.Generator, vocab_size: int, mask_id: int,
           ratio: float, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(1, max(len(s) for s in sequences))
    ids = np.zeros((len(sequences), width), dtype=np.int64)
    targets = np.full((len(sequences), width), -100, dtype=np.int64)
    for row, sequence in enumerate(sequences):
        inputs, wanted = _masked(sequence, rng, vocab_size, mask_id, ratio)
        ids[row, : len(inputs)], targets[row, : len(wanted)] = inputs, wanted
    ids_tensor = torch.from_numpy(ids).to(device)
    return ids_tensor, ids_tensor != 0, torch.from_numpy(targets).to(device)


def _batch_loss(model: CharEncoder, sequences: list[list[int]], rng: np.random.Generator, vocab_size: int,
                mask_id: int, ratio: float) -> torch.Tensor:
    ids, mask, targets = _batch(sequences, rng, vocab_size, mask_id, ratio, next(model.parameters()).device)
    chosen = targets != -100
    logits = model(ids, mask, chosen)
    if not logits.shape[0]:
        return model.head.weight.sum() * 0.0
    return F.cross_entropy(logits, targets[chosen])


def _accuracy(model: CharEncoder, sequences: list[list[int]], vocab_size: int, mask_id: int,
              config: PretrainConfig) -> float:
    model.eval()
    rng = np.random.default_rng(config.seed + 1)  # the same masks every epoch
    right = total = 0
    with torch.inference_mode():
        for start in range(0, len(sequences), config.batch_size):
            ids, mask, targets = _batch(sequences[start:start + config.batch_size], rng, vocab_size, mask_id,
                                        config.mask_ratio, next(model.parameters()).device)
            chosen = targets != -100
            predicted = model(ids, mask, chosen).argmax(-1)
            right += int((predicted == targets[chosen]).sum())
            total += int(chosen.sum())
    return right / total if total else 0.0


def _save(folder: Path, model: CharEncoder, vocab: CharVocab, model_config: KgModelConfig, curve: list[dict],
          sentences: int) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()
             if not name.startswith("head.")}
    save_file(state, str(folder / "encoder.safetensors"))
    vocab.save(folder / "vocab.json")
    write_json(folder / "config.json", {"embedding_dim": model_config.embedding_dim,
                                        "hidden_size": model_config.hidden_size,
                                        "lstm_layers": model_config.lstm_layers, "sentences": sentences})
    write_json(folder / "curve.json", curve)


def initialise_from(model: CasRel, vocab: CharVocab, registry_root: Path, version: str) -> str:
    """Copy a registered pretrained encoder into an extractor: the embedding row of every
    character both vocabularies know, and the Bi-LSTM (its character columns when the extractor
    also reads lexicon features). Returns the version used."""
    from safetensors.torch import load_file

    from kgqa_cli.mlops.registry import Registry, model_files

    chosen = Registry(registry_root).get(GROUP, None if version in ("latest", "") else version.removeprefix(f"{GROUP}/"))
    folder = chosen.path / "model"
    if (folder / "kgqa_pretrain.json").is_file():  # the BERT form: a Hugging Face folder, not a Bi-LSTM
        raise ConfigError(f"{chosen.name} is a BERT encoder, not the extractor's character encoder",
                          hint=f"use it with --kg.model.encoder pretrained --kg.model.pretrained {folder}")
    with model_files(folder):
        sizes = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        weights = load_file(str(folder / "encoder.safetensors"))
        source = CharVocab.load(folder / "vocab.json")
    config = model.config
    wanted = {"embedding_dim": config.embedding_dim, "hidden_size": config.hidden_size, "lstm_layers": config.lstm_layers}
    differ = [f"{key} {sizes[key]} (pretrained) != {value}" for key, value in wanted.items() if sizes[key] != value]
    if differ:
        raise ConfigError(f"{chosen.name} does not fit kg.model: {'; '.join(differ)}",
                          hint="pretrain with the same kg.model sizes")
    with torch.no_grad():
        rows = [(i, source.stoi[char]) for i, char in enumerate(vocab.itos) if i > 1 and char in source.stoi]
        if rows:
            target, origin = torch.tensor(rows).T
            model.embedding.weight[target] = weights["embedding.weight"][origin]
        for name, tensor in model.lstm.named_parameters():
            pretrained = weights[f"lstm.{name}"]
            if name.startswith("weight_ih_l0") and tensor.shape[1] > pretrained.shape[1]:
                tensor[:, : pretrained.shape[1]] = pretrained  # the lexicon's columns stay as initialised
            else:
                tensor.copy_(pretrained)
    log.info("initialised from %s: %d of %d characters' embeddings and the Bi-LSTM", chosen.name, len(rows), len(vocab))
    return chosen.name
