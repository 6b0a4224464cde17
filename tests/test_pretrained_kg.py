"""The extractor on a pretrained encoder: a tiny BERT saved in a temp folder (nothing downloaded),
trained, gated, extracted with; token offsets that map back to exact characters; the one-line
errors of an encoder that cannot be had."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_lines
from helpers.pretrained import (
    FILM,
    GIVEN,
    MIXED,
    SCHEMA,
    SPECIAL,
    SURNAMES,
    TEMPLATE_CHARACTERS,
    TINY,
    WORD_PIECES,
    corpus,
    invoke,
    triple,
)

from kgqa_cli.data.records import Record

pytestmark = pytest.mark.slow  # real trainings on a tiny BERT

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the hub


def save_tiny_bert(folder: Path) -> Path:
    """A 2-layer BERT of width 48 and its tokenizer, saved as save_pretrained writes them."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    characters = sorted(set(SURNAMES + GIVEN + FILM + TEMPLATE_CHARACTERS + "年发布会"))
    vocabulary = [*SPECIAL, *characters, *WORD_PIECES]
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    BertTokenizer(vocab=str(vocab_file)).save_pretrained(str(folder))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocabulary), hidden_size=48, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=96, max_position_embeddings=64)
    BertModel(config).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return save_tiny_bert(tmp_path_factory.mktemp("bert") / "tiny-bert")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert):
    """A tiny corpus, preprocessed and trained on the tiny BERT once for the module."""
    root = tmp_path_factory.mktemp("kg-bert")
    raw = root / "raw"
    write_lines(raw / "duie_train.json", corpus(150, seed=3))
    write_lines(raw / "duie_schema.json", SCHEMA)
    workspace = root / "ws"
    result = invoke(workspace, "preprocess", str(raw), "--preprocess.dev_ratio", "0.15", "--preprocess.test_ratio", "0.15")
    assert result.exit_code == 0, result.output
    result = invoke(workspace, "train", "kg", "--json", "--kg.train.epochs", "8",
                    "--kg.model.pretrained", str(tiny_bert), *TINY)
    assert result.exit_code == 0, result.output
    return workspace, json.loads(result.stdout)


def test_mixed_text_spans_map_to_tokens_and_back_to_exact_characters(tiny_bert):
    from transformers import AutoTokenizer

    from kgqa_cli.extraction.labels import make_token_example
    from kgqa_cli.extraction.tokens import Subwords

    subwords = Subwords(AutoTokenizer.from_pretrained(str(tiny_bert)), 64)
    text = f"{MIXED}由王伟执导"
    tokenized = subwords.tokenize([text])[0]
    # [CLS] 2019 年 iphone 发 布 会 由 王 伟 执 导 [SEP]: one token for four digits, one for six letters.
    assert len(tokenized.ids) == 13 and tokenized.starts[0] == tokenized.ends[-1] == -1
    for value in ("iPhone", "2019年", MIXED, "2019", "王伟"):
        head = text.index(value)
        span = tokenized.token_span(head, head + len(value) - 1)
        assert span is not None, value
        start, end = tokenized.char_span(*span)
        assert text[start:end + 1] == value  # the original case, not the tokenizer's lower case
    assert tokenized.token_span(6, 9) is None  # "Phone": its borders fall inside the token iphone
    assert tokenized.char_span(0, 2) is None  # from [CLS]: no characters
    # Unknown characters and words stay one [UNK] each, still with their exact characters.
    unknown = subwords.tokenize(["《Zeta星河》X由"])[0]
    assert unknown.char_span(2, 2) == (1, 4) and unknown.char_span(6, 6) == (8, 8)
    record = Record.parse({"text": text, "spo_list": [triple(MIXED, "导演", "王伟"), triple("Phone", "导演", "王伟")]})
    example, left_out = make_token_example(record, tokenized, {"导演": 0}, 200)
    assert example.subjects == {(1, 6): {(0, 8, 9)}} and left_out == 1
    assert example.ids == tokenized.ids and min(example.ids) >= 1  # 0 stays the padding


def test_train_evaluate_extract_on_a_pretrained_encoder(trained, tmp_path):
    workspace, summary = trained
    folder = Path(summary["model_dir"])
    for name in ("model.safetensors", "schema.jsonl", "config.json", "encoder/config.json", "encoder/tokenizer.json",
                 "encoder/tokenizer_config.json"):
        assert (folder / name).exists(), name
    assert not (folder / "vocab.json").exists()
    assert json.loads((folder / "config.json").read_text(encoding="utf-8"))["encoder"] == "pretrained"
    curve = json.loads((folder / "curve.json").read_text(encoding="utf-8"))
    assert curve[-1]["loss"] < curve[0]["loss"] / 3
    assert summary["dev"]["f1"] > 0.5, summary["dev"]
    package = json.loads((workspace / "registry" / "kg" / "v1" / "package.json").read_text(encoding="utf-8"))
    assert package["encoder"]["kind"] == "folder" and package["encoder"]["encoder"].endswith("tiny-bert")
    assert len(package["encoder"]["revision"]) == 64

    gate = invoke(workspace, "evaluate", "kg", "--min-f1", "0.3", "--json", "--report", str(tmp_path / "errors.md"))
    assert gate.exit_code == 0, gate.output
    report = json.loads((workspace / "evaluation" / "kg" / "evaluation.json").read_text(encoding="utf-8"))
    assert report["f1"] >= 0.3 and "errors" in report and (tmp_path / "errors.md").exists()

    source = write_lines(tmp_path / "input.jsonl", [{"text": "《2019年星河梦》由王伟执导，李娜主演"},
                                                    {"text": "张强在《iPhone风云》中饰演刘芳"}, {"text": "。"}])
    out = tmp_path / "triples.jsonl"
    result = invoke(workspace, "extract", str(source), "-o", str(out))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    found = {(t["subject"], t["predicate"], json.dumps(t["object"], ensure_ascii=False))
             for line in lines for t in line["spo_list"]}
    assert ("2019年星河梦", "导演", '{"@value": "王伟"}') in found, found
    assert ("张强", "饰演", '{"@value": "刘芳", "inWork": "iPhone风云"}') in found, found
    assert lines[2]["spo_list"] == []


def test_the_model_folder_extracts_without_the_original_encoder(trained, tiny_bert, tmp_path):
    """The registered folder holds the fine-tuned weights and the tokenizer: Batch Transform's
    handler, given just that folder, reads nothing else, in bfloat16 too."""
    from kgqa_cli.serving.extract_handler import ExtractSettings, input_fn, model_fn, predict_fn

    workspace, summary = trained
    copy = tmp_path / "model"
    shutil.copytree(workspace / "registry" / "kg" / "v1" / "model", copy)
    hidden = tiny_bert.with_name("elsewhere")
    tiny_bert.rename(hidden)
    body = "《2019年星河梦》由王伟执导，李娜主演\n张强在《iPhone风云》中饰演刘芳\n" * 3
    try:
        float32 = model_fn(str(copy), ExtractSettings(batch_size=2, bfloat16=False, workers=2))
        low = model_fn(str(copy), ExtractSettings(batch_size=2, bfloat16=True, workers=2))
        found = predict_fn(input_fn(body, "text/plain"), float32)
        found_low = predict_fn(input_fn(body, "text/plain"), low)
    finally:
        hidden.rename(tiny_bert)
    assert len(found) == 6 and found[0]["model_version"] == "model"
    assert any(t["subject"] == "2019年星河梦" and t["predicate"] == "导演" for t in found[0]["spo_list"])
    assert found[0::2] == [found[0]] * 3 and found[1::2] == [found[1]] * 3  # the same text, the same triples
    assert [[t["subject"] for t in line["spo_list"]] for line in found_low] == \
        [[t["subject"] for t in line["spo_list"]] for line in found]


def test_resume_after_an_interrupted_run_gives_the_same_weights(trained, tiny_bert, tmp_path):
    workspace, summary = trained
    copy = tmp_path / "ws"
    shutil.copytree(workspace / "data", copy / "data")
    args = ("--kg.model.pretrained", str(tiny_bert), *TINY)
    short = invoke(copy, "train", "kg", "--json", "--kg.train.epochs", "3", *args)
    assert short.exit_code == 0, short.output
    resumed = invoke(copy, "train", "kg", "--resume", "--json", "--kg.train.epochs", "8", *args)
    assert resumed.exit_code == 0, resumed.output
    resumed_summary = json.loads(resumed.stdout)
    assert resumed_summary["epochs_run"] == 8 and resumed_summary["dev"] == summary["dev"]
    original = (Path(summary["model_dir"]) / "model.safetensors").read_bytes()
    assert (Path(resumed_summary["model_dir"]) / "model.safetensors").read_bytes() == original
    changed = invoke(copy, "train", "kg", "--resume", "--kg.train.epochs", "9", *args, "--kg.train.encoder_lr", "0.002")
    assert changed.exit_code == 2 and "kg.train.encoder_lr" in changed.output


def run_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kgqa_cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_an_encoder_that_cannot_be_had_ends_in_one_line(trained, tmp_path):
    workspace, _ = trained
    copy = tmp_path / "ws"
    shutil.copytree(workspace / "data", copy / "data")
    home = tmp_path / "hf-home"
    home.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(home)}
    base = ("train", "kg", "--workspace", str(copy), "--kg.train.device", "cpu", "--kg.model.encoder", "pretrained")

    offline = run_cli(*base, "--kg.model.pretrained", "bert-base-chinese", env=env)
    assert offline.returncode == 4, offline.stderr
    lines = [line for line in offline.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "bert-base-chinese" in lines[0] and "HF_HUB_OFFLINE" in lines[0], offline.stderr

    empty = tmp_path / "no-weights"
    empty.mkdir()
    (empty / "config.json").write_text("{}", encoding="utf-8")
    no_weights = run_cli(*base, "--kg.model.pretrained", str(empty), env=env)
    assert no_weights.returncode == 4, no_weights.stderr
    lines = [line for line in no_weights.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "weights" in lines[0], no_weights.stderr

    unnamed = run_cli(*base, env=env)
    assert unnamed.returncode == 2, unnamed.stderr
    assert "kg.model.pretrained is required" in unnamed.stderr and len(unnamed.stderr.strip().splitlines()) == 1
    assert not (copy / "models" / "kg" / "model").exists()
