"""Train and evaluate the JointBERT question model; register it like the extractor."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from kgqa_cli.errors import InputDataError, QualityGateError
from kgqa_cli.io import write_json
from kgqa_cli.mlops import distributed
from kgqa_cli.mlops.registry import ModelVersion, Registry, hash_paths, model_files
from kgqa_cli.mlops.trainer import EpochResult, LoopSettings, Recipe, Scores, Standing, Trainer, training_lock
from kgqa_cli.torch_setup import seed_everything, set_threads
from kgqa_cli.understanding.batches import Encoded, QuestionBatch, encode_question, question_batches
from kgqa_cli.understanding.config import QaConfig
from kgqa_cli.understanding.metrics import score_questions
from kgqa_cli.understanding.model import (
    JointBert,
    QuestionModel,
    bert_config,
    from_pretrained_encoder,
    joint_loss,
)
from kgqa_cli.understanding.questions import read_questions
from kgqa_cli.understanding.runtime import QuestionRuntime, predict_batch
from kgqa_cli.understanding.templates import load_templates
from kgqa_cli.understanding.tokenizer import CharTokenizer, PretrainedTokenizer
from kgqa_cli.workspace import Workspace, ensure_writable

if TYPE_CHECKING:
    from rich.progress import Progress
    from torch.optim.optimizer import ParamsT
    from torch.utils.data.distributed import DistributedSampler

log = logging.getLogger(__name__)
GROUP = "qa"


@dataclass
class QaTrainResult:
    """What training produced."""

    version: ModelVersion
    metrics: dict
    curve: list[dict]
    seconds: float


def evaluate_examples(model: QuestionModel | QuestionRuntime, examples: list[dict], batch_size: int = 128) -> dict:
    """Predict every example and score the predictions."""
    if isinstance(model, QuestionModel):  # the torch model (the numpy runtime has no training mode)
        model.network.eval()
    predictions = []
    for start in range(0, len(examples), batch_size):
        predictions += predict_batch(model, [e["text"] for e in examples[start : start + batch_size]])
    return score_questions(examples, predictions)


def _routes(config: QaConfig, intents: list[str]) -> dict[str, list[dict]]:
    templates = {t.name: t for t in load_templates(config.questions.templates).intents}
    return {
        name: [route.model_dump() for route in templates[name].routes] if name in templates else []
        for name in intents
    }


def _pretrained_network(config: QaConfig, num_intents: int,
                        num_slots: int) -> tuple[PretrainedTokenizer, JointBert, dict[str, Any]]:
    """The tokenizer, JointBERT and provenance of a pretrained checkpoint (qa.model.pretrained)."""
    from kgqa_cli.pretrained import load_encoder

    key = "qa.model.pretrained"
    name = location = config.model.pretrained
    assert name is not None and location is not None  # encoder: pretrained names one (JointBertConfig's check)
    channel = os.environ.get("SM_CHANNEL_PRETRAINED")
    if name.startswith("s3://") and channel:  # in a SageMaker training job: the prefix arrives as a channel
        location = channel
    encoder, hf_tokenizer, provenance = load_encoder(location, key)
    provenance = {**provenance, "encoder": name}
    network = from_pretrained_encoder(encoder, num_intents, num_slots, config.model.dropout, key)
    max_length = min(config.model.max_length, int(encoder.config.max_position_embeddings))
    tokenizer = PretrainedTokenizer.from_transformers(hf_tokenizer, max_length)
    if len(tokenizer) > network.encoder.config.vocab_size:
        raise InputDataError(f"{key}: the tokenizer has {len(tokenizer)} tokens, the encoder embeds "
                             f"{network.encoder.config.vocab_size}")
    log.info("qa encoder: %s (%s, %d layers of %d)", provenance["encoder"], provenance["kind"],
             network.encoder.config.num_hidden_layers, network.encoder.config.hidden_size)
    return tokenizer, network, provenance


def train_question_model(config: QaConfig, workspace: Workspace) -> QaTrainResult:
    """Train on questions_dir/train.jsonl, pick the best epoch on dev, save and register it."""
    with training_lock(workspace, GROUP, "`kgqa train qa`"):
        return _train_and_register(config, workspace)


class JointTraining(Recipe[QuestionBatch]):
    """The question model's part of the loop: shuffled batches with entity characters sometimes
    masked, the joint intent and slot loss, and dev accuracy (intent + slot F1 + sentence)."""

    def __init__(self, config: QaConfig, model: QuestionModel, encoded: list[Encoded], dev: list[dict],
                 share: DistributedSampler | None, bar: Progress, total_steps: int) -> None:
        self.config, self.model, self.encoded, self.dev, self.share = config, model, encoded, dev, share
        self.bar, self.total_steps = bar, total_steps
        self.rng = random.Random(config.train.seed)
        # Several ranks: rank 0's weights everywhere, gradients averaged in backward; one process: the network.
        self.forward = distributed.wrap(model.network, torch.device("cpu"))
        self.main = distributed.current().main
        self.task = bar.add_task("training qa", total=total_steps)
        self.best_state: dict[str, torch.Tensor] = {}

    def batches(self, epoch: int) -> Iterator[QuestionBatch]:
        if self.share is not None:
            self.share.set_epoch(epoch)
        tokenizer = self.model.tokenizer
        return question_batches(self.encoded, self.config.train.batch_size, self.rng, tokenizer.unk_id,
                        self.config.train.unk_replace, len(tokenizer), list(self.share) if self.share is not None else None)

    def loss(self, batch: QuestionBatch) -> torch.Tensor:
        input_ids, mask, intent_labels, slot_target = batch
        intent_logits, slot_logits = self.forward(input_ids, mask)
        return joint_loss(intent_logits, slot_logits, intent_labels, slot_target, self.config.model.slot_loss_weight)

    def after_step(self, epoch: int, step: int, total_loss: float) -> None:
        self.bar.advance(self.task)

    def score(self, epoch: int, scored: torch.nn.Module) -> Scores:
        if not self.dev:
            return {"intent_accuracy": 0, "slot_f1": 0, "sentence_accuracy": 0}
        return evaluate_examples(self.model, self.dev)

    def result(self, epoch: int, mean_loss: float, seconds: float, dev: Scores) -> EpochResult:
        point = {
            "epoch": epoch,
            "loss": round(mean_loss, 5),
            "dev_intent_accuracy": dev["intent_accuracy"],
            "dev_slot_f1": dev["slot_f1"],
            "dev_sentence_accuracy": dev["sentence_accuracy"],
        }
        return EpochResult(point, dev["sentence_accuracy"] + dev["intent_accuracy"] + dev["slot_f1"])

    def improved(self, epoch: int, scored: torch.nn.Module, standing: Standing) -> None:
        self.best_state = {k: v.detach().clone() for k, v in self.model.network.state_dict().items()}

    def epoch_done(self, epoch: int, standing: Standing) -> None:
        if self.main:
            point = standing.curve[-1]
            log.info("epoch %d: loss %.4f, dev intent %.4f, slot f1 %.4f, sentence %.4f", epoch, point["loss"],
                     point["dev_intent_accuracy"], point["dev_slot_f1"], point["dev_sentence_accuracy"])

    def stopping(self, epoch: int, standing: Standing) -> None:
        log.info("no better dev score for %d epochs: stopping", standing.bad_epochs)
        self.bar.update(self.task, completed=self.total_steps)


def _train_and_register(config: QaConfig, workspace: Workspace) -> QaTrainResult:
    from kgqa_cli.ui import progress

    started = time.perf_counter()
    seed_everything(config.train.seed)
    set_threads(config.train.threads)
    train_path = workspace.questions_dir / "train.jsonl"
    dev_path = workspace.questions_dir / "dev.jsonl"
    train, dev = read_questions(train_path), read_questions(dev_path)
    if not train:
        raise InputDataError(f"{train_path}: no training questions", hint="run `kgqa questions` first")
    if distributed.init_from_env().main:  # the only rank that writes
        ensure_writable([workspace.model_dir(GROUP), workspace.registry_dir])  # before training, not after
    model = _new_model(config, train, str(train_path))
    dev = [e for e in dev if e["intent"] in model.intents]
    encoded = [encode_question(e, model) for e in train]

    group = distributed.init_from_env()  # under torchrun: each rank trains on its share of the questions
    share = distributed.sampler(len(encoded), config.train.seed) if group.active else None
    steps_per_epoch = ((len(share) if share is not None else len(encoded)) + config.train.batch_size - 1) \
        // config.train.batch_size
    total_steps = steps_per_epoch * config.train.epochs
    optimizer, scheduler = _optimizer(config, model, total_steps)
    trainer = Trainer(model.network, optimizer, LoopSettings(config.train.epochs, config.train.patience, grad_clip=1.0),
                      scheduler=scheduler, group=group)
    with progress(disable=not group.main) as bar:
        recipe = JointTraining(config, model, encoded, dev, share, bar, total_steps)
        standing = trainer.run(recipe)
    model.network.load_state_dict(recipe.best_state)
    model.network.eval()
    best = standing.curve[standing.best_epoch - 1]
    metrics = {
        "best_epoch": standing.best_epoch,
        "dev_intent_accuracy": best["dev_intent_accuracy"],
        "dev_slot_f1": best["dev_slot_f1"],
        "dev_sentence_accuracy": best["dev_sentence_accuracy"],
        "train_questions": len(train),
        "dev_questions": len(dev),
        "intents": len(model.intents),
        "vocabulary": len(model.tokenizer),
    }
    seconds = time.perf_counter() - started
    if not group.main:  # rank 0 saves and registers the model; the others take its version
        version: ModelVersion | None = distributed.broadcast(None)
        assert version is not None
        return QaTrainResult(version, metrics, standing.curve, seconds)
    version = _save_and_register(workspace, model, metrics, standing.curve, [train_path, dev_path])
    distributed.broadcast(version)  # to the other ranks, which wait for it
    return QaTrainResult(version, metrics, standing.curve, time.perf_counter() - started)


def _new_model(config: QaConfig, train: list[dict], trained_on: str) -> QuestionModel:
    """An untrained question model for the intents and slot kinds of the training questions:
    a pretrained encoder (qa.model.pretrained) or a JointBERT on their characters."""
    intents = sorted({e["intent"] for e in train})
    tag_kinds = sorted({tag[2:] for e in train for tag in e["slots"] if tag != "O"})
    slot_labels = ["O", *(f"{p}-{k}" for k in tag_kinds for p in ("B", "I"))]
    provenance = None
    tokenizer: CharTokenizer | PretrainedTokenizer
    if config.model.encoder == "pretrained":
        tokenizer, network, provenance = _pretrained_network(config, len(intents), len(slot_labels))
    else:
        tokenizer = CharTokenizer.build((e["text"] for e in train), config.model.max_length,
                                        config.model.min_char_count)
        network = JointBert(bert_config(config.model, len(tokenizer)), len(intents), len(slot_labels))
    settings = {"slot_loss_weight": config.model.slot_loss_weight, "trained_on": trained_on}
    return QuestionModel(network, tokenizer, intents, slot_labels, _routes(config, intents), settings,
                         load_templates(config.questions.templates).synonyms, provenance)


def _optimizer(config: QaConfig, model: QuestionModel,
               total_steps: int) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW (a pretrained encoder's weights at ``encoder_lr``: they only need adjusting; the new
    heads at the full rate) and a linear warmup then linear decay to zero."""
    network = model.network
    warmup = max(1, int(total_steps * config.train.warmup_ratio))
    parameters: ParamsT
    if model.encoder is None:
        parameters = network.parameters()
    else:
        encoder_ids = {id(parameter) for parameter in network.encoder.parameters()}
        groups: list[dict[str, Any]] = [
            {"params": list(network.encoder.parameters()), "lr": config.train.encoder_lr},
            {"params": [p for p in network.parameters() if id(p) not in encoder_ids]},
        ]
        parameters = groups
    optimizer = torch.optim.AdamW(parameters, lr=config.train.learning_rate, weight_decay=config.train.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup)))
    )
    return optimizer, scheduler


def _save_and_register(workspace: Workspace, model: QuestionModel, metrics: dict, curve: list[dict],
                       data: list[Path]) -> ModelVersion:
    """Write the model folder with its metrics and curve, and register it as a new version."""
    out = workspace.model_dir(GROUP)
    model.save(out)
    write_json(out / "metrics.json", metrics)
    write_json(out / "curve.json", curve)
    data_hash = hash_paths(data)
    registry = Registry(workspace.registry_dir)
    if model.encoder is None:
        return registry.register(GROUP, out, metrics, data_hash=data_hash)
    return registry.register(GROUP, out, metrics, data_hash=data_hash, encoder=model.encoder)


def load_registered(
    workspace: Workspace, version: str | int | None = None, *, include_rejected: bool = False
) -> tuple[QuestionModel, ModelVersion]:
    """A registered question model (the newest usable one unless a version is given;
    ``include_rejected`` for evaluation, which may re-gate a rejected version)."""
    registered = Registry(workspace.registry_dir).get(GROUP, version, include_rejected=include_rejected)
    with model_files(registered.path / "model"):
        return QuestionModel.load(registered.path / "model"), registered


def evaluate_question_model(
    config: QaConfig, workspace: Workspace, version: str | int | None = None, data: Path | None = None
) -> dict:
    """Score a registered model on ``data`` (default questions_dir/test.jsonl), write evaluation.json,
    apply the gates.

    A pass approves the version in the registry; a failure rejects it and raises
    :class:`QualityGateError` after the report is written.
    """
    model, registered = load_registered(workspace, version, include_rejected=True)
    test_path = Path(data) if data is not None else workspace.questions_dir / "test.jsonl"
    examples = read_questions(test_path)
    known = [e for e in examples if e["intent"] in model.intents]
    report = evaluate_examples(model, known)
    gates = config.gates
    failures = []
    if report["intent_accuracy"] < gates.min_intent_accuracy:
        failures.append(f"intent accuracy {report['intent_accuracy']:.4f} < {gates.min_intent_accuracy}")
    if report["slot_f1"] < gates.min_slot_f1:
        failures.append(f"slot F1 {report['slot_f1']:.4f} < {gates.min_slot_f1}")
    report = {
        "model_version": registered.name,
        "test_file": str(test_path),
        "intent_accuracy": report["intent_accuracy"],
        "slot_f1": report["slot_f1"],
        "sentence_accuracy": report["sentence_accuracy"],
        "questions": report["questions"],
        "skipped_unknown_intent": len(examples) - len(known),
        "gates": {"min_intent_accuracy": gates.min_intent_accuracy, "min_slot_f1": gates.min_slot_f1,
                  "passed": not failures, "failures": failures},
        "per_intent": report["per_intent"],
    }
    path: Path = workspace.evaluation_dir(GROUP) / "evaluation.json"
    write_json(path, report)
    registry = Registry(workspace.registry_dir)
    reason = "; ".join(failures) or (
        f"intent accuracy {report['intent_accuracy']:.4f} >= {gates.min_intent_accuracy}, "
        f"slot F1 {report['slot_f1']:.4f} >= {gates.min_slot_f1}"
    )
    report["status"] = registry.apply_gate(
        registered, not failures, reason, approve_on_pass=gates.approve_on_pass,
        evaluation={"data": str(test_path), **{k: report[k] for k in ("intent_accuracy", "slot_f1", "sentence_accuracy")}},
    )
    write_json(path, report)
    if failures:
        raise QualityGateError(f"{registered.name} failed its gates: {'; '.join(failures)}", hint=f"see {path}")
    return report
