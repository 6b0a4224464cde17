"""A real tiny training of the triple extractor, then evaluate's gate and extract, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_lines
from helpers.extractor import SCHEMA, TINY_MODEL, invoke, synthetic_corpus, triple

pytestmark = pytest.mark.slow  # real trainings of the extractor


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny corpus, preprocessed and trained once for the whole module."""
    root = tmp_path_factory.mktemp("kg")
    raw = root / "raw"
    write_lines(raw / "duie_train.json", synthetic_corpus(160, seed=1))
    write_lines(raw / "duie_schema.json", SCHEMA)
    workspace = root / "ws"
    result = invoke(workspace, "preprocess", str(raw), "--preprocess.dev_ratio", "0.15", "--preprocess.test_ratio", "0.15")
    assert result.exit_code == 0, result.output
    result = invoke(workspace, "train", "kg", "--json", "--kg.train.epochs", "14", *TINY_MODEL)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    return workspace, summary


def test_training_loss_falls_and_the_model_folder_is_complete(trained):
    workspace, summary = trained
    assert summary["model_version"] == "kg/v1"
    folder = Path(summary["model_dir"])
    for name in ("model.safetensors", "vocab.json", "schema.jsonl", "config.json", "metrics.json", "curve.json"):
        assert (folder / name).exists(), name
    curve = json.loads((folder / "curve.json").read_text(encoding="utf-8"))
    assert len(curve) == summary["epochs_run"] == 14
    assert curve[-1]["loss"] < curve[0]["loss"] / 3
    assert summary["dev"]["f1"] > 0.8
    package = json.loads((workspace / "registry" / "kg" / "v1" / "package.json").read_text(encoding="utf-8"))
    assert package["metrics"]["dev_f1"] == summary["dev"]["f1"]
    assert (workspace / "models" / "kg" / "last.pt").exists()


def test_the_saved_model_loads_and_extracts_the_same_triples(trained):
    from kgqa_cli.data.corpus import load_corpus
    from kgqa_cli.data.records import SlotValues
    from kgqa_cli.extraction.config import KgConfig
    from kgqa_cli.extraction.evaluate import evaluate_records
    from kgqa_cli.extraction.predict import Extractor, load_registered

    workspace, summary = trained
    registered = load_registered(workspace / "registry", None)
    assert registered.version == "kg/v1"
    dev = load_corpus(workspace / "data" / "corpus" / "dev.jsonl")
    # The dev F1 recorded in memory during training is reproduced by the model read back from disk.
    metrics, predictions = evaluate_records(registered, dev, KgConfig())
    assert metrics["f1"] == summary["dev"]["f1"]
    again = Extractor.load(Path(summary["model_dir"]))
    assert again.extract([r.text for r in dev]) == [p.spo_list for p in predictions]
    text = "《海上传奇》由王伟执导，李娜主演"
    found = {t.key for t in registered.extract([text])[0]}
    assert found == {("海上传奇", "导演", "王伟"), ("海上传奇", "主演", "李娜")}
    role = registered.extract(["张强在《星河梦》中饰演刘芳"])[0]
    assert [(t.predicate, t.object) for t in role] == [("饰演", SlotValues.of("刘芳", {"inWork": "星河梦"}))]
    assert role[0].object_type == SlotValues.of("人物", {"inWork": "影视作品"}) and 0 < role[0].score <= 1


def test_retraining_is_deterministic_and_resume_finishes_an_interrupted_run(trained, tmp_path):
    workspace, summary = trained
    # Train again for fewer epochs in a copy of the workspace, then resume to the full count.
    import shutil

    copy = tmp_path / "ws"
    shutil.copytree(workspace / "data", copy / "data")
    short = invoke(copy, "train", "--json", "--kg.train.epochs", "6", *TINY_MODEL)
    assert short.exit_code == 0, short.output
    resumed = invoke(copy, "train", "kg", "--resume", "--json", "--kg.train.epochs", "14", *TINY_MODEL)
    assert resumed.exit_code == 0, resumed.output
    resumed_summary = json.loads(resumed.stdout)
    assert resumed_summary["epochs_run"] == 14
    assert resumed_summary["dev"] == summary["dev"]
    original = (Path(summary["model_dir"]) / "model.safetensors").read_bytes()
    assert (Path(resumed_summary["model_dir"]) / "model.safetensors").read_bytes() == original


def test_evaluate_writes_the_report_and_gates(trained, tmp_path):
    workspace, _ = trained
    passed = invoke(workspace, "evaluate", "--min-f1", "0.3")
    assert passed.exit_code == 0, passed.output
    report = json.loads((workspace / "evaluation" / "kg" / "evaluation.json").read_text(encoding="utf-8"))
    assert report["model_version"] == "kg/v1" and report["f1"] >= 0.3 and "导演" in report["per_predicate"]
    package = workspace / "registry" / "kg" / "v1" / "package.json"
    assert json.loads(package.read_text(encoding="utf-8"))["status"] == "Approved"
    # Gold labels the model cannot match: F1 0, the report is still written, exit code 5.
    wrong = write_lines(tmp_path / "wrong.jsonl", [
        {"text": "《星河》是由王伟执导的电影", "spo_list": [triple("王伟", "妻子", "星河")]},
    ])
    failed = invoke(workspace, "evaluate", "kg", "--data", str(wrong), "--json", "--report", str(tmp_path / "errors.html"))
    assert failed.exit_code == 5
    report = json.loads((workspace / "evaluation" / "kg" / "evaluation.json").read_text(encoding="utf-8"))
    assert report["f1"] == 0.0 and report["data"] == str(wrong) and report["min_f1"] == 0.6
    # The error analysis: 王伟 -妻子-> 星河 read as 星河 -导演-> 王伟 is a missed subject and a spurious triple.
    assert report["errors"]["by_kind"]["missed subject"]["count"] == 1
    assert report["errors"]["most_frequent"][0]["examples"][0]["text"] == "《星河》是由王伟执导的电影"
    page = (tmp_path / "errors.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "missed subject" in page and "星河" in page
    assert "below" in failed.output
    assert json.loads(package.read_text(encoding="utf-8"))["status"] == "Rejected"
    assert invoke(workspace, "evaluate", "--model", "v1", "--min-f1", "0").exit_code == 0  # approve again
    missing = invoke(workspace, "evaluate", "--data", str(tmp_path / "none.jsonl"))
    assert missing.exit_code == 3


def test_extract_skips_malformed_lines_and_splits_long_ones(trained, tmp_path):
    workspace, _ = trained
    long_line = "。".join(f"《星河{n}》是由王伟{n}执导的电影" for n in range(12))
    source = write_lines(tmp_path / "input.jsonl", [
        {"text": "《海上传奇》是由王伟执导的电影"},
        "{broken json",
        {"title": "no text"},
        {"text": long_line},
    ])
    out = tmp_path / "out" / "triples.jsonl"
    args = ("extract", str(source), "-o", str(out), "--batch-size", "2", "--kg.extract.max_chars", "40")
    result = invoke(workspace, *args)
    assert result.exit_code == 0, result.output
    assert f"{source}:2" in result.output and f"{source}:3" in result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["text"] for line in lines] == ["《海上传奇》是由王伟执导的电影", long_line]
    assert all(line["model_version"] == "kg/v1" for line in lines)
    assert lines[0]["spo_list"][0]["object"]["@value"] == "王伟"
    assert {"subject", "subject_type", "predicate", "object", "object_type", "score"} <= set(lines[0]["spo_list"][0])
    assert len(lines[1]["spo_list"]) >= 10  # triples from every piece of the long line
    for line in lines:  # offsets into the whole text, across the pieces it was cut into
        for spo in line["spo_list"]:
            assert line["text"][slice(*spo["subject_span"])] == spo["subject"]
            assert line["text"][slice(*spo["object_span"])] == spo["object"]["@value"]
    assert max(spo["subject_span"][0] for spo in lines[1]["spo_list"]) > 40
    first = out.read_bytes()
    assert invoke(workspace, *args).exit_code == 0
    assert out.read_bytes() == first  # a rerun gives the same file
    plain = write_lines(tmp_path / "plain.txt", ["《归途》是由张强执导的电影", ""])
    assert invoke(workspace, "extract", str(plain), "-o", str(tmp_path / "p.jsonl")).exit_code == 0
    assert invoke(workspace, "extract", str(tmp_path / "absent.txt")).exit_code == 3


def test_train_without_preprocessed_splits_says_what_to_run(tmp_path):
    result = invoke(tmp_path / "empty", "train")
    assert result.exit_code == 4
    assert "kgqa preprocess" in result.output


def test_resume_refuses_changed_settings_and_damaged_checkpoints(trained, tmp_path):
    import shutil

    workspace, _ = trained
    copy = tmp_path / "ws"
    shutil.copytree(workspace / "data", copy / "data")
    assert invoke(copy, "train", "--json", "--kg.train.epochs", "1", *TINY_MODEL).exit_code == 0
    changed = invoke(copy, "train", "kg", "--resume", "--kg.train.epochs", "2", *TINY_MODEL, "--kg.train.lr", "0.001")
    assert changed.exit_code == 2
    assert "kg.train.lr 0.005 -> 0.001" in changed.output and "--restart" in changed.output
    last = copy / "models" / "kg" / "last.pt"
    whole = last.read_bytes()
    for damaged in (whole[: len(whole) // 2], b""):
        last.write_bytes(damaged)
        result = invoke(copy, "train", "kg", "--resume", "--kg.train.epochs", "2", *TINY_MODEL)
        assert result.exit_code == 8, result.output
        assert f"{last}: the checkpoint cannot be loaded" in result.output.replace("\n", "")
    restarted = invoke(copy, "train", "kg", "--restart", "--json", "--kg.train.epochs", "1", *TINY_MODEL)
    assert restarted.exit_code == 0, restarted.output
    assert invoke(copy, "train", "kg", "--resume", "--restart").exit_code == 2


def test_a_rejected_newest_version_is_named_with_the_ways_on(trained, tmp_path):
    import shutil

    from kgqa_cli.mlops.registry import Registry

    workspace, _ = trained
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    registry = Registry(copy / "registry")
    registry.set_status(registry.get("kg", "v1"), "Rejected", reason="f1 0.41 < min_f1 0.99")
    plain = write_lines(tmp_path / "plain.txt", ["《归途》是由张强执导的电影"])
    refused = invoke(copy, "extract", str(plain), "-o", str(tmp_path / "out.jsonl"))
    assert refused.exit_code == 4
    message = refused.output.replace("\n", " ")
    assert "kg/v1, the newest kg model, was rejected by its quality gate (f1 0.41 < min_f1 0.99)" in message
    assert "--model v1" in message and "kgqa train kg" in message
    assert invoke(copy, "extract", str(plain), "-o", str(tmp_path / "out.jsonl"), "--model", "v1").exit_code == 0
    # Evaluation takes the newest version whatever its status: it is what sets the status.
    assert invoke(copy, "evaluate", "kg", "--min-f1", "0").exit_code == 0
    assert registry.get("kg").status == "Approved"


def test_extract_output_reads_back_as_an_extra_source_for_self_training(trained, tmp_path):
    """Self-training: the extractor's output (the corpus format with scores) is an extra source as it is."""
    from kgqa_cli.data.config import PreprocessConfig
    from kgqa_cli.data.preprocess import run_preprocess
    from kgqa_cli.workspace import Workspace

    workspace, _ = trained
    texts = ["《海上传奇》是由王伟执导的电影", "《彼岸花》由李娜执导，张强主演", "今天下雨"]
    labelled = tmp_path / "labelled.jsonl"
    result = invoke(workspace, "extract", str(write_lines(tmp_path / "unlabelled.txt", texts)), "-o", str(labelled))
    assert result.exit_code == 0, result.output
    extracted = [json.loads(line) for line in labelled.read_text(encoding="utf-8").splitlines()]
    main_texts = {json.loads(line)["text"] for line in
                  (workspace.parent / "raw" / "duie_train.json").read_text(encoding="utf-8").splitlines()}
    fields = ("subject", "subject_type", "predicate", "object", "object_type")
    expected = [{"text": line["text"], "spo_list": [{key: spo[key] for key in fields} for spo in line["spo_list"]]}
                for line in extracted if line["spo_list"] and line["text"] not in main_texts]
    assert expected and all("score" in spo for line in extracted for spo in line["spo_list"])

    config = PreprocessConfig.model_validate({
        "input": str(workspace.parent / "raw"), "dev_ratio": 0.15, "test_ratio": 0.15,
        "extra": [{"name": "pseudo", "input": str(labelled)}],
    })
    report = run_preprocess(config, Workspace(tmp_path / "student"))
    assert report.stats()["extra"]["pseudo"]["sentences"] == len(expected)
    rows = (tmp_path / "student" / "data" / "corpus" / "extra-pseudo.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(row) for row in rows] == expected


def test_extract_progress_moves_with_characters_of_one_long_line(trained):
    from kgqa_cli.extraction.predict import load_registered

    workspace, _ = trained
    extractor = load_registered(workspace / "registry", None)
    long_line = "。".join(f"《星河{n}》是由王伟{n}执导的电影" for n in range(200))
    steps: list[int] = []
    extractor.extract([long_line], batch_size=8, max_chars=60, on_progress=steps.append, progress_in_chars=True)
    assert len(steps) >= 8 and sum(steps) == len(long_line)  # one step per batch, every character counted


def test_the_word_lexicon_trains_saves_and_extracts(trained, tmp_path):
    """With kg.model.lexicon.enabled the model reads dictionary words per character; the saved
    model carries its lexicon.json and `kgqa extract` loads it."""
    import shutil

    workspace, _ = trained
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    result = invoke(copy, "train", "kg", "--json", "--kg.train.epochs", "3", "--kg.model.lexicon.enabled", "true",
                    "--kg.model.lexicon.dim", "8", "--kg.model.lexicon.corpus_names", "true", *TINY_MODEL)
    assert result.exit_code == 0, result.output
    model_dir = Path(json.loads(result.stdout)["model_dir"])
    lexicon = json.loads((model_dir / "lexicon.json").read_text(encoding="utf-8"))
    assert lexicon["words"] == [] and "type:人物" in lexicon["tags"] and "nr" in lexicon["tags"]
    assert json.loads((model_dir / "config.json").read_text(encoding="utf-8"))["lexicon"]["enabled"] is True
    source = write_lines(tmp_path / "input.jsonl", [{"text": "《海上传奇》是由王伟执导的电影"}])
    done = invoke(copy, "extract", str(source), "-o", str(tmp_path / "out.jsonl"), "--json",
                  "--kg.extract.bfloat16", "true")  # the optional inputs through the bfloat16 copy too
    assert done.exit_code == 0, done.output
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8").count("\n") == 1


def test_learning_rate_warmup_and_decay():
    from types import SimpleNamespace

    from kgqa_cli.extraction.train import learning_rate_factor

    factor = learning_rate_factor(SimpleNamespace(epochs=2, warmup_ratio=0.25, decay="linear"), steps_per_epoch=4)
    assert [round(factor(step), 3) for step in range(8)] == [0.5, 1.0, 1.0, 0.833, 0.667, 0.5, 0.333, 0.167]
    cosine = learning_rate_factor(SimpleNamespace(epochs=1, warmup_ratio=0.0, decay="cosine"), steps_per_epoch=4)
    assert [round(cosine(step), 3) for step in range(4)] == [1.0, 0.854, 0.5, 0.146]
    flat = learning_rate_factor(SimpleNamespace(epochs=3, warmup_ratio=0.0, decay="none"), steps_per_epoch=5)
    assert {flat(step) for step in range(15)} == {1.0}


def test_averaged_weights_train_resume_and_save(trained, tmp_path):
    """With kg.train.ema_decay the saved model is the moving average, and an interrupted run
    resumes to the same weights as one that was not interrupted."""
    import shutil

    workspace, _ = trained
    settings = ["--kg.train.ema_decay", "0.9", "--kg.train.warmup_ratio", "0.1", "--kg.train.decay", "cosine", *TINY_MODEL]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    shutil.copytree(workspace, whole)
    shutil.copytree(workspace, parts)
    done = invoke(whole, "train", "kg", "--json", "--kg.train.epochs", "4", *settings)
    assert done.exit_code == 0, done.output
    # The same run killed (SIGKILL) right after its second checkpoint, then resumed.
    import os
    import subprocess
    import sys

    killed = subprocess.run([sys.executable, "-m", "kgqa_cli.cli.main", "train", "kg", "--workspace", str(parts),
                             "--kg.train.epochs", "4", *settings], capture_output=True, timeout=600,
                            env={**os.environ, "KGQA_FAULT_KILL_AT": "2"})
    assert killed.returncode == -9, killed.stderr
    resumed = invoke(parts, "train", "kg", "--resume", "--json", "--kg.train.epochs", "4", *settings)
    assert resumed.exit_code == 0, resumed.output
    first, second = json.loads(done.stdout), json.loads(resumed.stdout)
    assert second["epochs_run"] == 4 and first["dev"] == second["dev"]
    assert len(second["seconds_per_epoch"]) == 4  # the epochs before the kill count too


def test_pretrain_then_train_from_it(trained, tmp_path):
    """`kgqa pretrain` learns masked characters on unlabelled text (dev and test texts left out),
    registers pretrain/v1, and `train kg --init` starts from its embeddings and Bi-LSTM."""
    import shutil

    from safetensors.torch import load_file

    workspace, _ = trained
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    # Before any pretraining, --init latest names the stage that makes one.
    none_yet = invoke(copy, "train", "kg", "--init", "latest", "--kg.train.epochs", "1", *TINY_MODEL)
    assert none_yet.exit_code == 4 and "run `kgqa pretrain FILE...` first" in none_yet.output.replace("\n", " ")
    texts = write_lines(tmp_path / "texts.jsonl", [{"text": f"《星河{n}》是由王伟{n}执导的电影"} for n in range(200)])
    nlpcc = tmp_path / "nlpcc.txt"
    nlpcc.write_text("<question id=1>\t星河的导演是谁\n<triple id=1>\t星河 ||| 导演 ||| 王伟\n", encoding="utf-8")
    sizes = ["--kg.model.embedding_dim", "32", "--kg.model.hidden_size", "32", "--kg.pretrain.epochs", "2",
             "--kg.pretrain.threads", "1"]
    result = invoke(copy, "pretrain", str(texts), str(nlpcc), "--json", *sizes)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["model_version"] == "pretrain/v1" and summary["sentences"] == 201
    assert summary["curve"][-1]["masked_accuracy"] > summary["curve"][0]["masked_accuracy"] - 0.05
    encoder = load_file(str(copy / "registry" / "pretrain" / "v1" / "model" / "encoder.safetensors"))
    trained_run = invoke(copy, "train", "kg", "--init", "pretrain/v1", "--json", "--kg.train.epochs", "1", *TINY_MODEL)
    assert trained_run.exit_code == 0, trained_run.output
    # Sizes that do not fit are refused with the key named.
    wrong = invoke(copy, "train", "kg", "--init", "latest", "--json", "--kg.train.epochs", "1", *TINY_MODEL,
                   "--kg.model.hidden_size", "16")
    assert wrong.exit_code == 2 and "hidden_size" in wrong.output
    assert encoder["lstm.weight_ih_l0"].shape == (4 * 32, 32)
    # The copy itself: shared characters' embedding rows and the Bi-LSTM, character by character.
    import torch

    from kgqa_cli.extraction.config import KgModelConfig
    from kgqa_cli.extraction.model import CasRel
    from kgqa_cli.extraction.pretrain import initialise_from
    from kgqa_cli.extraction.vocab import CharVocab

    vocab = CharVocab(["导", "演", "龘"])
    model = CasRel(len(vocab), 4, KgModelConfig(embedding_dim=32, hidden_size=32, attention_heads=2))
    assert initialise_from(model, vocab, copy / "registry", "latest") == "pretrain/v1"
    source = CharVocab.load(copy / "registry" / "pretrain" / "v1" / "model" / "vocab.json")
    assert torch.equal(model.embedding.weight[2], encoder["embedding.weight"][source.stoi["导"]])
    assert "龘" not in source.stoi and not torch.equal(model.embedding.weight[4], encoder["embedding.weight"][4])
    assert torch.equal(model.lstm.weight_hh_l0_reverse, encoder["lstm.weight_hh_l0_reverse"])


def test_extract_in_bfloat16(trained, tmp_path):
    """kg.extract.bfloat16 runs a bfloat16 copy of the network: the same output format, and on
    this corpus the same triples as in float32."""
    workspace, _ = trained
    lines = [{"text": f"《星河{n}》是由王伟{n}执导的电影"} for n in range(20)]
    source = write_lines(tmp_path / "input.jsonl", lines)
    outputs = {}
    for name, flag in (("fp32", "false"), ("bf16", "true")):
        done = invoke(workspace, "extract", str(source), "-o", str(tmp_path / f"{name}.jsonl"), "--json",
                      "--kg.extract.bfloat16", flag)
        assert done.exit_code == 0, done.output
        outputs[name] = [{(t["subject"], t["predicate"], t["object"]["@value"]) for t in json.loads(row)["spo_list"]}
                         for row in (tmp_path / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(outputs["bf16"]) == 20
    same = sum(a == b for a, b in zip(outputs["fp32"], outputs["bf16"], strict=True))
    assert same >= 18


def test_an_ensemble_registers_gates_and_extracts_with_its_members_voting(trained, tmp_path):
    """`kgqa ensemble` registers the members (here one with the word lexicon, one without) as a
    new version scored on dev, which evaluate, its gate and extract take like any version; the
    members vote by their mean probability, so two copies of one model extract what it does."""
    import shutil

    import torch

    from kgqa_cli.data.corpus import load_corpus
    from kgqa_cli.extraction.predict import Extractor

    workspace, summary = trained
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    second = invoke(copy, "train", "kg", "--json", "--kg.train.epochs", "4", "--kg.train.seed", "5",
                    "--kg.model.lexicon.enabled", "true", "--kg.model.lexicon.dim", "8", *TINY_MODEL)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["model_version"] == "kg/v2"
    built = invoke(copy, "ensemble", "v1", "kg/v2", "--json")
    assert built.exit_code == 0, built.output
    result = json.loads(built.stdout)
    assert result["model_version"] == "kg/v3" and result["members"] == ["kg/v1", "kg/v2"]
    assert 0 < result["dev"]["f1"] <= 1 and result["dev"]["support"] > 0
    folder = Path(result["model_dir"])
    listed = json.loads((folder / "ensemble.json").read_text(encoding="utf-8"))["members"]
    assert [m["source"] for m in listed] == ["kg/v1", "kg/v2"] and (folder / "member-2" / "lexicon.json").exists()
    package = json.loads((copy / "registry" / "kg" / "v3" / "package.json").read_text(encoding="utf-8"))
    assert package["metrics"]["dev_f1"] == result["dev"]["f1"] and package["metrics"]["members"] == ["kg/v1", "kg/v2"]
    gated = invoke(copy, "evaluate", "kg", "--json", "--min-f1", "0")
    assert gated.exit_code == 0, gated.output
    assert json.loads(gated.stdout)["model_version"] == "kg/v3"
    source = write_lines(tmp_path / "input.jsonl", [{"text": "《海上传奇》由王伟执导，李娜主演"}])
    done = invoke(copy, "extract", str(source), "-o", str(tmp_path / "out.jsonl"), "--json")
    assert done.exit_code == 0, done.output
    assert json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))["model_version"] == "kg/v3"

    texts = [record.text for record in load_corpus(copy / "data" / "corpus" / "dev.jsonl")]
    single, doubled = Extractor.load(Path(summary["model_dir"])), Extractor.load(Path(summary["model_dir"]))
    doubled.members += Extractor.load(Path(summary["model_dir"])).members
    assert doubled.extract(texts) == single.extract(texts)
    # A second member that never sees a subject halves every subject probability: the pair finds
    # at a subject threshold of 0.25 exactly what the model alone finds at 0.5.
    silent = Extractor.load(Path(summary["model_dir"]))
    for layer in (silent.members[0].model.subject_head, silent.members[0].model.subject_tail):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.constant_(layer.bias, -40.0)
    halved = Extractor.load(Path(summary["model_dir"]))
    halved.members += silent.members

    def keys(found):
        return [{t.key for t in triples} for triples in found]

    alone = keys(single.extract(texts, subject_threshold=0.5, bfloat16=False))
    assert any(alone) and keys(halved.extract(texts, subject_threshold=0.25, bfloat16=False)) == alone
    assert not any(keys(halved.extract(texts, subject_threshold=0.5, bfloat16=False)))

    # Members of an ensemble named again, a single model, another schema: one line says what is wrong.
    again = invoke(copy, "ensemble", "v3", "v1")
    assert again.exit_code == 2 and "kg/v1 is named twice" in again.output
    assert invoke(copy, "ensemble", "v1").exit_code == 2 and invoke(copy, "ensemble", "v3").exit_code == 2
    foreign = copy / "registry" / "kg" / "v4"
    shutil.copytree(copy / "registry" / "kg" / "v1", foreign)
    schema_file = foreign / "model" / "schema.jsonl"
    schema_file.write_text("".join(schema_file.read_text(encoding="utf-8").splitlines(keepends=True)[1:]),
                           encoding="utf-8")
    other = invoke(copy, "ensemble", "v1", "v4")
    assert other.exit_code == 2 and "kg/v4 was trained on another schema" in other.output
    (copy / "registry" / "kg" / "v3" / "model" / "ensemble.json").write_text("{", encoding="utf-8")
    damaged = invoke(copy, "ensemble", "v3", "v4")
    assert damaged.exit_code == 8 and "kg/v3" in damaged.output and "ensemble.json" in damaged.output


def test_a_teacher_distils_its_probabilities_into_a_new_model(trained, tmp_path):
    """kg.train.distill: the teacher's pointer probabilities are those extract decodes, they join
    each label as the configured share of the target, a student trains on them (its losses move
    with the teacher's share) and registers, and a teacher that is not registered, or of another schema, is refused before training."""
    import shutil

    import numpy as np

    from kgqa_cli.data.corpus import load_corpus
    from kgqa_cli.extraction.batches import make_batch
    from kgqa_cli.extraction.decode import decode_batch_spans
    from kgqa_cli.extraction.labels import make_example
    from kgqa_cli.extraction.predict import Extractor

    workspace, summary = trained
    teacher = Extractor.load(Path(summary["model_dir"]))
    records = load_corpus(workspace / "data" / "corpus" / "dev.jsonl")[:6]
    texts = [record.text for record in records]
    examples = [make_example(record, teacher.members[0].vocab.encode, {c: n for n, c in enumerate(teacher.channels)},
                             200) for record in records]
    taught = teacher.pointer_probabilities(texts, [sorted(example.subjects) for example in examples])
    extracted = teacher.extract(texts, bfloat16=False)
    for text, (heads, tails, object_heads, object_tails), example, found in zip(texts, taught, examples, extracted,
                                                                                strict=True):
        assert heads.shape == (len(text),) and object_heads.shape == (len(example.subjects), len(text),
                                                                       len(teacher.channels))
        subjects = {text[head:tail + 1] for _, _, head, tail, _ in decode_batch_spans(
            heads[None, :, None].astype(np.float32), tails[None, :, None].astype(np.float32), 0.5)}
        assert subjects == {triple.subject for triple in found}
        example.teacher = (heads, tails, object_heads, object_tails)
    plain = make_batch(examples, len(teacher.channels), teacher.device)
    blended = make_batch(examples, len(teacher.channels), teacher.device, teacher_weight=0.25)
    row, (heads, tails, object_heads, _) = 2, taught[2]
    length = len(heads)
    assert np.allclose(blended["subject_heads"][row, :length].numpy(),
                       0.75 * plain["subject_heads"][row, :length].numpy() + 0.25 * heads.astype(np.float32), atol=1e-6)
    first_row_of_example = sum(len(example.subjects) for example in examples[:row])
    assert np.allclose(blended["object_heads"][first_row_of_example, :length].numpy(),
                       0.75 * plain["object_heads"][first_row_of_example, :length].numpy()
                       + 0.25 * object_heads[0].astype(np.float32), atol=1e-6)
    assert (blended["subject_heads"][row, length:] == 0).all()  # padding stays untaught

    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    student = invoke(copy, "train", "kg", "--json", "--kg.train.epochs", "3", "--kg.train.distill.teacher", "v1",
                     "--kg.train.distill.weight", "0.7", *TINY_MODEL)
    assert student.exit_code == 0, student.output
    assert json.loads(student.stdout)["model_version"] == "kg/v2"
    # The same run with a smaller share of the teacher learns from other targets: its losses
    # differ from the first epoch (both load the teacher, so both start from the same weights).
    lighter_copy = tmp_path / "lighter"
    shutil.copytree(workspace, lighter_copy)
    lighter = invoke(lighter_copy, "train", "kg", "--json", "--kg.train.epochs", "3", "--kg.train.distill.teacher", "v1",
                     "--kg.train.distill.weight", "0.35", *TINY_MODEL)
    assert lighter.exit_code == 0, lighter.output

    def losses(result):
        curve = Path(json.loads(result.stdout)["model_dir"]) / "curve.json"
        return [epoch["loss"] for epoch in json.loads(curve.read_text(encoding="utf-8"))]

    assert len(losses(student)) == len(losses(lighter)) == 3 and losses(student)[0] != losses(lighter)[0]
    missing = invoke(copy, "train", "kg", "--kg.train.epochs", "1", "--kg.train.distill.teacher", "v9", *TINY_MODEL)
    assert missing.exit_code == 4 and "v9" in missing.output
    schema = copy / "data" / "corpus" / "schema.jsonl"
    schema.write_text(schema.read_text(encoding="utf-8") + json.dumps(
        {"subject_type": "人物", "predicate": "丈夫", "object_type": {"@value": "人物"}}, ensure_ascii=False) + "\n",
        encoding="utf-8")
    other = invoke(copy, "train", "kg", "--kg.train.epochs", "1", "--kg.train.distill.teacher", "v1", *TINY_MODEL)
    assert other.exit_code == 2 and "kg/v1 has other output channels" in other.output


def test_batches_extracted_in_parallel_give_the_same_triples_in_order(trained):
    """kg.extract.workers: batches run two at a time on one torch thread each give what one at a
    time gives, progress counts every text once, and torch's thread count is restored."""
    import torch

    from kgqa_cli.data.corpus import load_corpus
    from kgqa_cli.extraction.predict import Extractor

    workspace, summary = trained
    extractor = Extractor.load(Path(summary["model_dir"]))
    texts = [record.text for record in load_corpus(workspace / "data" / "corpus" / "dev.jsonl")] + [""]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        counts: dict[int, list[int]] = {1: [], 2: []}
        found = {workers: extractor.extract(texts, batch_size=3, workers=workers, on_progress=counts[workers].append)
                 for workers in (1, 2)}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert found[2] == found[1] and any(found[1])
    assert sum(counts[1]) == sum(counts[2]) == len(texts) and len(counts[2]) > 2


def test_the_fast_encoder_paths_compute_what_the_plain_layers_do():
    """The Bi-LSTM run as two padded calls equals nn.LSTM over packed sequences (values, and
    gradients in training), and the sentence convolution with its pooled half applied once per
    sentence equals Conv1d over the concatenation, padding included (one and two layers,
    sentences of every length); the self-attention through scaled_dot_product_attention what
    nn.MultiheadAttention computes, and the lexicon's embedding_bag pooling the weighted sum of
    every slot's word and tag vectors."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from kgqa_cli.extraction.config import KgModelConfig
    from kgqa_cli.extraction.model import CasRel, bidirectional_lstm

    torch.manual_seed(0)
    lengths = torch.tensor([9, 5, 1, 7])
    mask = torch.arange(9).unsqueeze(0) < lengths.unsqueeze(1)
    for layers in (1, 2):
        model = CasRel(50, 5, KgModelConfig(embedding_dim=16, hidden_size=12, attention_heads=2,
                                            conv_channels=8, lstm_layers=layers)).eval()
        inputs = torch.randn(4, 9, 16) * mask.unsqueeze(-1)
        packed, _ = model.lstm(pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False))
        expected, _ = pad_packed_sequence(packed, batch_first=True, total_length=9)
        assert torch.allclose(bidirectional_lstm(model.lstm, inputs, mask, False), expected, atol=1e-6)
        # In training (no dropout between the layers here) the gradients reach the inputs as through nn.LSTM.
        lstm = torch.nn.LSTM(16, 12, num_layers=layers, batch_first=True, bidirectional=True)
        weights = torch.randn(4, 9, 24)
        plain_inputs, fast_inputs = inputs.clone().requires_grad_(), inputs.clone().requires_grad_()
        packed, _ = lstm(pack_padded_sequence(plain_inputs, lengths, batch_first=True, enforce_sorted=False))
        (pad_packed_sequence(packed, batch_first=True, total_length=9)[0] * weights).sum().backward()
        (bidirectional_lstm(lstm, fast_inputs, mask, True) * weights).sum().backward()
        assert torch.allclose(fast_inputs.grad, plain_inputs.grad, atol=1e-6)
        encoded = model.encode(torch.randint(2, 50, (4, 9)) * mask, mask)
        concatenated = torch.cat([encoded.states, encoded.pooled.unsqueeze(1).expand_as(encoded.states)], dim=-1)
        concatenated = concatenated * mask.unsqueeze(-1)
        plain = model.subject_conv(concatenated.transpose(1, 2)).transpose(1, 2)
        assert torch.allclose(model.sentence_conv(model.subject_conv, encoded), plain, atol=1e-5)
        states = torch.randn(4, 9, 24)
        lexicon_model = CasRel(50, 5, KgModelConfig(embedding_dim=16, hidden_size=12, attention_heads=2,
                                                    conv_channels=8, lexicon={"enabled": True, "dim": 4}), (30, 7))
        words, tags, weights = torch.randint(0, 30, (4, 9, 3, 6)), torch.randint(0, 7, (4, 9, 3, 6)), torch.rand(4, 9, 3, 6)
        vectors = lexicon_model.lexicon_words(words) + lexicon_model.lexicon_tags(tags)  # [B, L, 3, K, D]
        summed = (vectors * weights.unsqueeze(-1)).sum(3).flatten(2)
        assert torch.allclose(lexicon_model.lexicon_vectors(words, tags, weights), summed, atol=1e-6)
        plain = CasRel(50, 5, KgModelConfig(embedding_dim=16, hidden_size=12, attention_heads=0, conv_channels=8)).eval()
        ids = torch.randint(2, 50, (4, 9)) * mask
        assert not hasattr(plain, "attention")  # attention_heads 0: the Bi-LSTM states go straight to the pointers
        assert torch.equal(plain.encode(ids, mask).states, bidirectional_lstm(plain.lstm, plain.embedding(ids), mask, False))
        expected, _ = model.attention(states, states, states, key_padding_mask=~mask, need_weights=False)
        assert torch.allclose(model.self_attention(states, mask)[mask], expected[mask], atol=1e-5)


def test_subject_types_positions_and_bigrams_train_save_and_extract(trained, tmp_path):
    """The optional parts of the network (subject-type-aware object head, relative positions,
    character bigrams) train, save what they need next to the weights, and extract; mention
    replacement adds its copies to the training sentences."""
    import shutil

    workspace, _ = trained
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    result = invoke(copy, "train", "kg", "--json", "--kg.train.epochs", "3", "--kg.model.subject_types", "true",
                    "--kg.model.relative_positions", "10", "--kg.model.bigram_dim", "8",
                    "--kg.model.min_bigram_count", "1", "--kg.train.augment.copies", "1", *TINY_MODEL)
    assert result.exit_code == 0, result.output
    assert "mention replacement: " in result.output
    model_dir = Path(json.loads(result.stdout)["model_dir"])
    saved = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    assert saved["subject_types"] is True and saved["relative_positions"] == 10 and saved["bigram_dim"] == 8
    assert "执导" in json.loads((model_dir / "bigrams.json").read_text(encoding="utf-8"))["itos"]
    source = write_lines(tmp_path / "input.jsonl", [{"text": "《海上传奇》是由王伟执导的电影"}])
    done = invoke(copy, "extract", str(source), "-o", str(tmp_path / "out.jsonl"), "--json",
                  "--kg.extract.bfloat16", "true")  # the optional inputs through the bfloat16 copy too
    assert done.exit_code == 0, done.output
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8").count("\n") == 1


def test_each_subject_is_taught_the_type_its_predicates_take():
    """With subject types on, a batch carries each subject's type (from the schema, by the
    predicates it has); a subject with no located object has none (-100, left out of the loss)."""
    import torch

    from kgqa_cli.data.schema import Schema
    from kgqa_cli.extraction.batches import make_batch
    from kgqa_cli.extraction.labels import Example, channel_subject_types, channels_of

    schema = Schema.parse([json.dumps(item, ensure_ascii=False) for item in SCHEMA], "schema")
    types, per_channel = channel_subject_types(schema)
    channels = channels_of(schema)
    assert types == sorted({item["subject_type"] for item in SCHEMA})
    assert types[per_channel[channels.index("妻子")]] == "人物"
    wife, directed = channels.index("妻子"), channels.index("导演")
    examples = [Example([5, 6, 7, 8], {(0, 0): {(wife, 2, 3)}, (1, 1): {(directed, 2, 2)}, (3, 3): set()})]
    batch = make_batch(examples, len(channels), torch.device("cpu"), per_channel)
    assert [types[i] if i >= 0 else None for i in batch["subject_types"].tolist()] == ["人物", "影视作品", None]


def test_extract_prefers_the_newest_approved_version_to_a_pending_one(trained, tmp_path):
    import shutil

    from kgqa_cli.mlops.registry import Registry

    source, _ = trained
    workspace = tmp_path / "ws"
    shutil.copytree(source, workspace)
    registry = Registry(workspace / "registry")
    first = registry.get("kg", None)
    registry.set_status(first, "Approved", reason="test", by="test")
    copy = tmp_path / "retrained"  # a retrain pending approval: the same weights, another metrics file
    shutil.copytree(first.path / "model", copy)
    (copy / "metrics.json").write_text('{"retrained": true}', encoding="utf-8")
    retrained = registry.register("kg", copy, {"test_f1": 0.5})
    assert retrained.status == "PendingManualApproval"
    texts = write_lines(tmp_path / "in.txt", ["《海上传奇》是由王伟执导的电影"])

    def used() -> tuple[str, str]:
        result = invoke(workspace, "extract", str(texts), "-o", str(tmp_path / "out.jsonl"), "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["model_version"], result.output

    version, output = used()
    assert version == first.name and f"{retrained.name} is PendingManualApproval" in output
    assert invoke(workspace, "registry", "approve", retrained.name).exit_code == 0
    assert used()[0] == retrained.name
