"""What `kgqa pretrain` reads and what it produces, for both forms (the character encoder of
``pretrain.py`` and the BERT of ``pretrain_bert.py``): the unlabelled texts, with the workspace's
dev and test texts left out, and the run's result."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kgqa_cli.errors import ConfigError, InputDataError
from kgqa_cli.workspace import Workspace

GROUP = "pretrain"  # the registry group of both forms


@dataclass
class PretrainResult:
    """What a pretraining run produced."""

    model_dir: Path
    sentences: int
    characters: int
    curve: list[dict] = field(default_factory=list)
    version: str | None = None
    encoder: str = "lstm"


def read_texts(path: Path) -> list[str]:
    """Texts of a file: JSON lines with a ``text`` field (DuIE, SKE, extract input), NLPCC's
    ``<question id=N>`` lines (questions only), or plain text, one a line."""
    from kgqa_cli.io import read_user_text

    lines = read_user_text(path, "file of texts").splitlines()
    texts = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                value = json.loads(line).get("text")
            except (ValueError, AttributeError):
                value = None
            if isinstance(value, str) and value.strip():
                texts.append(value.strip())
        elif line.startswith("<question"):
            texts.append(line.split("\t", 1)[-1].strip())
        elif not line.startswith("<"):  # NLPCC's <triple>/<answer> lines and separators are no text
            texts.append(line)
    return texts


def pretraining_texts(workspace: Workspace, inputs: list[Path], max_len: int) -> list[str]:
    """The distinct texts of ``inputs``, cut to ``max_len`` characters, without the texts of the
    workspace's dev and test splits (so the held-out figures stay held out)."""
    if not inputs:
        raise ConfigError("no texts to pretrain on", hint="name files, or set pretrain.inputs")
    held_out: set[str] = set()
    for split in ("dev", "test"):
        path = workspace.split_file(split)
        if path.exists():
            held_out |= set(read_texts(path))
    texts, seen = [], set()
    for path in inputs:
        for text in read_texts(path):
            text = text[:max_len]
            if text not in held_out and text not in seen:
                seen.add(text)
                texts.append(text)
    if len(texts) < 2:
        raise InputDataError(f"{len(texts)} text(s) to pretrain on after leaving out dev and test: too few")
    return texts
