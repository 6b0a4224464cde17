"""Pretrained encoders: the one way both models name a Hugging Face encoder and load it.

An encoder is named by a Hugging Face model id (``bert-base-chinese``,
``hfl/chinese-roberta-wwm-ext``), a local folder written by ``save_pretrained`` (with its
tokenizer files), or, for ``--target sagemaker`` only, an ``s3://`` prefix that the training job
receives as its ``pretrained`` input channel. Loading goes through ``AutoModel`` and
``AutoTokenizer.from_pretrained``, so ``HF_HOME`` (the cache) and ``HF_HUB_OFFLINE`` are honoured.

An encoder that cannot be had ends in one line naming it and what to do: an id that is neither
cached nor reachable, an id the hub does not know, a folder without weights or tokenizer.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgqa_cli.errors import ConfigError, CorruptArtifactError, MissingArtifactError

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "sentencepiece.bpe.model",
                   "spiece.model")
S3 = "s3://"


@dataclass(frozen=True)
class EncoderSource:
    """Where an encoder comes from: ``folder`` (a path), ``hub`` (an id) or ``s3`` (a prefix)."""

    name: str
    kind: str
    path: Path | None = None


def encoder_source(name: str, key: str = "pretrained") -> EncoderSource:
    """Classify a configured encoder name; an empty one is a :class:`ConfigError` naming ``key``."""
    text = (name or "").strip()
    if not text:
        raise ConfigError(f"{key} is empty: name a Hugging Face model id (bert-base-chinese) or a folder "
                          "saved with save_pretrained")
    if text.startswith(S3):
        return EncoderSource(text, "s3")
    path = Path(text).expanduser()
    # A name with a path separator or a leading dot that exists, or any existing folder, is local.
    if path.is_dir() or text.startswith((".", "/", "~")) or path.exists():
        return EncoderSource(text, "folder", path)
    return EncoderSource(text, "hub")


def check_folder(folder: Path, key: str = "pretrained") -> None:
    """A local encoder folder must hold a config, weights and tokenizer files."""
    if not folder.is_dir():
        raise MissingArtifactError(f"{key} {folder}: no such folder",
                                   hint="give a folder written by save_pretrained, or a Hugging Face model id")
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        missing.append("weights (model.safetensors or pytorch_model.bin)")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        missing.append("tokenizer files (vocab.txt or tokenizer.json)")
    if missing:
        raise MissingArtifactError(f"{key} {folder}: not a saved encoder: no {', '.join(missing)}",
                                   hint="save both with model.save_pretrained(folder) and "
                                        "tokenizer.save_pretrained(folder)")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _cannot_have(name: str, key: str, exc: BaseException) -> Exception:
    """The one-line error for a hub id that could not be loaded."""
    text = f"{exc.__class__.__name__}: {exc}"
    cache = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
    if "RepositoryNotFound" in text or "is not a local folder and is not a valid model identifier" in text:
        if _offline() or "offline" in text.lower() or "connect" in text.lower():
            return MissingArtifactError(
                f"{key} {name!r}: not in the Hugging Face cache ({cache}) and the hub is not reachable "
                f"{'(HF_HUB_OFFLINE is set)' if _offline() else 'from here'}",
                hint="download it once where the hub is reachable (it is cached in HF_HOME), or give a folder "
                     "saved with save_pretrained")
        return ConfigError(f"{key} {name!r}: no such model on the Hugging Face hub",
                           hint="check the id, e.g. bert-base-chinese or hfl/chinese-roberta-wwm-ext")
    if isinstance(exc, OSError | ValueError) or "Offline" in text or "Connection" in text or "LocalEntryNotFound" in text:
        return MissingArtifactError(
            f"{key} {name!r}: not in the Hugging Face cache ({cache}) and could not be downloaded "
            f"{'(HF_HUB_OFFLINE is set)' if _offline() else '(no connection to the hub)'}",
            hint="download it once where the hub is reachable (it is cached in HF_HOME), or give a folder "
                 "saved with save_pretrained")
    return CorruptArtifactError(f"{key} {name!r}: cannot be loaded: {text}")


def load_encoder(name: str, key: str = "pretrained") -> tuple[Any, Any, dict]:
    """The encoder (``AutoModel``), its tokenizer (``AutoTokenizer``, fast) and where they came
    from: ``{"encoder": name, "kind", "revision"}`` (the hub's commit, or a hash of the folder's
    config and weights) for the registry to record."""
    source = encoder_source(name, key)
    if source.kind == "s3":
        raise ConfigError(f"{key} {name!r}: an s3:// prefix is read by a SageMaker training job (as its "
                          "`pretrained` channel); here give a model id or a local folder")
    if source.path is not None:  # a local folder
        check_folder(source.path, key)
    from transformers import AutoModel, AutoTokenizer

    where = str(source.path) if source.path is not None else name
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, use_fast=True)
        model = AutoModel.from_pretrained(where)
    except Exception as exc:  # the hub client raises many kinds; each becomes one line
        if source.kind == "folder":
            raise CorruptArtifactError(f"{key} {where}: cannot be loaded: {exc.__class__.__name__}: {exc}") from exc
        raise _cannot_have(name, key, exc) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(f"{key} {name!r}: its tokenizer has no fast version, which character offsets need")
    revision = getattr(model.config, "_commit_hash", None) if source.path is None else folder_hash(source.path)
    return model, tokenizer, {"encoder": name, "kind": source.kind, "revision": revision}


def folder_hash(folder: Path) -> str:
    """SHA-256 over a saved encoder's config and weight files (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file() and (p.name == "config.json" or p.name in WEIGHT_FILES
                                                                       or p.suffix in (".safetensors", ".bin"))):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
