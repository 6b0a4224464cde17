"""`kgqa pretrain --kg.pretrain.encoder bert`: a tiny BERT pretrained here, saved as a Hugging Face
folder and registered; loaded through `load_encoder` and trained on as `kg.model.pretrained`, as a
downloaded encoder is; the one-line errors of a vocabulary file that cannot be used."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from conftest import write_lines
from helpers.pretrained import SCHEMA, TINY, corpus, invoke

pytestmark = pytest.mark.slow  # pretrains a tiny BERT

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the hub

CHARACTERS = "王李张刘陈杨赵黄周吴伟芳娜敏静丽强磊军洋星河之夜风云梦归途彼岸花"
TINY_BERT = [
    "--kg.pretrain.encoder", "bert", "--kg.pretrain.bert_layers", "1", "--kg.pretrain.bert_hidden", "32",
    "--kg.pretrain.bert_heads", "2", "--kg.pretrain.bert_intermediate", "64", "--kg.pretrain.bert_max_length", "64",
    "--kg.pretrain.epochs", "2", "--kg.pretrain.batch_size", "16", "--kg.pretrain.threads", "1",
    "--kg.pretrain.device", "cpu",
]


def sentences(count: int, seed: int) -> list[str]:
    """Short Chinese sentences of three templates, some with 2019年 (digits split into ## pieces)."""
    rng = random.Random(seed)
    templates = ["《{f}》是由{a}执导的电影", "{a}在《{f}》中饰演{b}", "2019年{a}和{b}主演了{f}"]
    return [templates[n % 3].format(f="".join(rng.sample(CHARACTERS[-12:], 3)), a=rng.choice(CHARACTERS[:10])
                                    + rng.choice(CHARACTERS[10:20]), b=rng.choice(CHARACTERS[:20]))
            for n in range(count)]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A workspace with the tiny corpus preprocessed and a tiny BERT pretrained on 200 texts."""
    root = tmp_path_factory.mktemp("pretrain-bert")
    raw = root / "raw"
    write_lines(raw / "duie_train.json", corpus(120, seed=5))
    write_lines(raw / "duie_schema.json", SCHEMA)
    workspace = root / "ws"
    result = invoke(workspace, "preprocess", str(raw), "--preprocess.dev_ratio", "0.15", "--preprocess.test_ratio", "0.15")
    assert result.exit_code == 0, result.output
    texts = write_lines(root / "texts.txt", sentences(200, seed=1))
    result = invoke(workspace, "pretrain", str(texts), "--json", *TINY_BERT)
    assert result.exit_code == 0, result.output
    return workspace, json.loads(result.stdout)


def test_bert_pretraining_writes_a_registered_hugging_face_folder(pretrained):
    from transformers import AutoModel

    from kgqa_cli.pretrained import load_encoder

    workspace, summary = pretrained
    folder = Path(summary["model_dir"])
    assert summary["encoder"] == "bert" and summary["model_version"] == "pretrain/v1"
    assert folder == workspace / "registry" / "pretrain" / "v1" / "model"
    assert summary["use"].endswith(f"--kg.model.pretrained {folder}") and len(summary["curve"]) == 2
    package = json.loads((folder.parent / "package.json").read_text(encoding="utf-8"))
    assert {"mlm_loss", "masked_accuracy"} <= set(package["metrics"]) and package["metrics"]["encoder"] == "bert"
    assert (workspace / "models" / "pretrain-bert" / "model.safetensors").is_file()
    assert not (workspace / "models" / ".pretrain-bert.partial").exists()
    assert type(AutoModel.from_pretrained(str(folder))).__name__ == "BertModel"
    model, tokenizer, source = load_encoder(str(folder))
    assert model.config.hidden_size == 32 and model.config.num_hidden_layers == 1 and source["kind"] == "folder"
    # A character vocabulary built from the texts: no [UNK] in them, digits as ## pieces.
    tokens = tokenizer.tokenize("2019年王伟执导")
    assert "[UNK]" not in tokens and tokens[:4] == ["2", "##0", "##1", "##9"]
    # It is not the extractor's character encoder: --init names the road that takes it.
    refused = invoke(workspace, "train", "kg", "--init", "pretrain/v1", "--kg.train.epochs", "1")
    assert refused.exit_code == 2 and "--kg.model.encoder pretrained" in refused.output.replace("\n", " ")


def test_the_extractor_trains_on_the_bert_pretrained_here(pretrained):
    workspace, summary = pretrained
    result = invoke(workspace, "train", "kg", "--json", "--kg.train.epochs", "1",
                    "--kg.model.pretrained", summary["model_dir"], *TINY)
    assert result.exit_code == 0, result.output
    folder = Path(json.loads(result.stdout)["model_dir"])
    assert json.loads((folder / "config.json").read_text(encoding="utf-8"))["encoder"] == "pretrained"
    assert (folder / "encoder" / "tokenizer.json").is_file()  # the encoder travels with the extractor
    package = json.loads((workspace / "registry" / "kg" / "v1" / "package.json").read_text(encoding="utf-8"))
    assert package["encoder"]["encoder"] == summary["model_dir"] and package["encoder"]["kind"] == "folder"


def test_a_given_wordpiece_vocabulary_is_used_and_a_bad_one_is_one_line(pretrained, tmp_path):
    workspace, _ = pretrained
    texts = write_lines(tmp_path / "texts.txt", sentences(60, seed=2))
    # Every character a token, and the last lines repeat tokens, as bert-base-chinese's vocab.txt
    # does (53 of them): the tokenizer then hands out ids beyond its own length.
    characters = sorted(set(CHARACTERS))
    lines = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *characters, "2019", "年", *characters[:3]]
    vocab = write_lines(tmp_path / "vocab.txt", lines)
    result = invoke(workspace, "pretrain", str(texts), "--json", *TINY_BERT, "--kg.pretrain.vocab", str(vocab))
    assert result.exit_code == 0, result.output
    folder = Path(json.loads(result.stdout)["model_dir"])
    assert (folder / "vocab.txt").read_text(encoding="utf-8").split() == vocab.read_text(encoding="utf-8").split()
    assert json.loads((folder / "config.json").read_text(encoding="utf-8"))["vocab_size"] == len(lines)

    missing = invoke(workspace, "pretrain", str(texts), *TINY_BERT, "--kg.pretrain.vocab", str(tmp_path / "none.txt"))
    assert missing.exit_code == 3 and "none.txt: no such vocabulary file" in missing.output.replace("\n", " ")
    foreign = write_lines(tmp_path / "foreign.txt", ["a", "b"])
    bad = invoke(workspace, "pretrain", str(texts), *TINY_BERT, "--kg.pretrain.vocab", str(foreign))
    assert bad.exit_code == 3 and "not a WordPiece vocabulary" in bad.output and "Traceback" not in bad.output
