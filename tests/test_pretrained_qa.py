"""JointBERT on a pretrained BERT checkpoint: a tiny BERT saved with save_pretrained in a temp
folder (nothing is downloaded), trained through the CLI, evaluated, asked, registered with its
encoder; token/character alignment; the numpy runtime against torch; the offline refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from qa_fixtures import build_workspace

pytestmark = pytest.mark.slow  # real trainings on a tiny BERT

ROOT = Path(__file__).resolve().parents[1]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Word pieces beyond single characters: Latin words and digit runs split into several tokens.
PIECES = ["iphone", "ab", "##cd", "##e", "12", "##34", "##5", "x"]


def offline_env(**extra: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "NO_COLOR": "1", **extra}
    env.pop("KGQA_CONFIG", None)
    return env


def kgqa(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kgqa_cli.cli.main", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env or offline_env(), timeout=timeout)


def write_tiny_bert(folder: Path, texts: list[str]) -> Path:
    """A 2-layer BERT and its WordPiece tokenizer over the characters of ``texts``."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    chars = sorted({ch.lower() for text in texts for ch in text if not ch.isspace()} - set("abcdex12345"))
    vocab = [*SPECIAL, *PIECES, *chars]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizer(vocab=str(folder / "vocab.txt")).save_pretrained(str(folder))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=64, hidden_act="gelu_new",
                        layer_norm_eps=1e-6, type_vocab_size=2)
    BertModel(config).save_pretrained(str(folder))
    return folder


def corpus_texts(settings) -> list[str]:
    texts = []
    for split in ("train", "dev", "test"):
        with (settings.paths.questions_dir / f"{split}.jsonl").open(encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in handle if line.strip()]
    return texts


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A tiny workspace (graph and questions, no model yet), its config file and a tiny BERT."""
    root = tmp_path_factory.mktemp("pretrained-qa")
    settings = build_workspace(root, train=False)
    bert = write_tiny_bert(root / "tiny-bert", corpus_texts(settings))
    qa = settings.qa.model_dump(mode="json")
    # The tiny BERT is random, not pretrained: its encoder learns at the heads' rate.
    qa["train"].update({"epochs": 15, "patience": 5, "learning_rate": 0.003, "encoder_lr": 0.003})
    config = root / "kgqa.yaml"
    config.write_text(yaml.safe_dump({"qa": qa}, allow_unicode=True), encoding="utf-8")
    return settings, config, bert


@pytest.fixture(scope="module")
def trained(workspace):
    settings, config, bert = workspace
    result = kgqa("train", "qa", "--config", str(config), "--workspace", str(settings.paths.root),
                  "--qa.model.encoder", "pretrained", "--qa.model.pretrained", str(bert))
    assert result.returncode == 0, result.stderr
    return workspace


def test_wordpiece_tokens_map_to_exact_character_spans(workspace):
    """Digits, Latin words and [UNK] cover several characters: labels move to tokens by their first
    character and come back as the same character spans; ids and offsets are those of the
    transformers fast tokenizer."""
    from transformers import AutoTokenizer

    from kgqa_cli.understanding.batches import token_labels
    from kgqa_cli.understanding.runtime import char_tags, spans
    from kgqa_cli.understanding.tokenizer import PretrainedTokenizer

    _, _, bert = workspace
    hf = AutoTokenizer.from_pretrained(str(bert))
    tokenizer = PretrainedTokenizer.from_transformers(hf, 64)
    text = "iPhone12345 与 abcde 和 Zq的导演是谁"
    ids, token_spans = tokenizer.encode_spans(text)
    reference = hf(text, return_offsets_mapping=True)
    assert ids == reference["input_ids"]
    assert token_spans == [tuple(span) for span in reference["offset_mapping"]]
    assert tokenizer.unk_id in ids  # "Zq" is one [UNK] over two characters
    entities = {"subject": ["iPhone12345", "abcde", "Zq"]}
    tags = ["O"] * len(text)
    for name in entities["subject"]:
        start = text.index(name)
        tags[start:start + len(name)] = ["B-subject"] + ["I-subject"] * (len(name) - 1)
    labels = token_labels(tags, token_spans)
    assert labels[0] is None and labels[-1] is None
    back = char_tags(len(text), ["O" if label is None else label for label in labels], token_spans)
    assert back == tags and spans(text, back) == entities
    # A span whose tokens are separated by a space keeps the space; one cut by max_length ends there.
    two_words = "ab x的导演"
    _, word_spans = tokenizer.encode_spans(two_words)
    joined = char_tags(len(two_words), ["O", "B-subject", "I-subject", "O", "O", "O", "O"], word_spans)
    assert spans(two_words, joined) == {"subject": ["ab x"]}
    short = PretrainedTokenizer.from_transformers(hf, 8)
    cut_ids, cut_spans = short.encode_spans("三度诱惑的导演是谁")
    assert len(cut_ids) == 8 and cut_spans[-2] == (5, 6)


def test_missing_pretrained_is_a_config_error(workspace):
    settings, config, _ = workspace
    result = kgqa("train", "qa", "--config", str(config), "--workspace", str(settings.paths.root),
                  "--qa.model.encoder", "pretrained")
    assert result.returncode == 2 and "qa.model.pretrained" in result.stderr


def test_an_uncached_hub_id_offline_exits_4_with_what_to_do(workspace, tmp_path):
    settings, config, _ = workspace
    empty_home = tmp_path / "hf-home"
    empty_home.mkdir()
    result = kgqa("train", "qa", "--config", str(config), "--workspace", str(settings.paths.root),
                  "--qa.model.encoder", "pretrained", "--qa.model.pretrained", "bert-base-chinese",
                  env=offline_env(HF_HOME=str(empty_home)))
    assert result.returncode == 4, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "bert-base-chinese" in lines[0] and "HF_HUB_OFFLINE" in lines[0]
    assert "Traceback" not in result.stderr and len(lines) <= 2


def test_a_folder_without_weights_exits_4(workspace, tmp_path):
    settings, config, bert = workspace
    folder = tmp_path / "no-weights"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((bert / name).read_bytes())
    result = kgqa("train", "qa", "--config", str(config), "--workspace", str(settings.paths.root),
                  "--qa.model.encoder", "pretrained", "--qa.model.pretrained", str(folder))
    assert result.returncode == 4 and "weights" in result.stderr and "Traceback" not in result.stderr


def test_trained_model_carries_its_encoder_and_tokenizer(trained):
    settings, _, bert = trained
    from kgqa_cli.mlops.registry import Registry
    from kgqa_cli.pretrained import folder_hash

    version = Registry(settings.paths.registry_dir).get("qa")
    model_dir = version.path / "model"
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_meta.json"} <= {
        p.name for p in model_dir.iterdir()}
    assert not (model_dir / "vocab.json").exists()
    meta = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    assert meta["encoder"] == {"type": "pretrained", "encoder": str(bert), "kind": "folder",
                               "revision": folder_hash(bert)}
    assert meta["bert"]["hidden_size"] == 64 and meta["bert"]["hidden_act"] == "gelu_new"
    package = json.loads((version.path / "package.json").read_text(encoding="utf-8"))
    assert package["encoder"] == {"encoder": str(bert), "kind": "folder", "revision": folder_hash(bert)}


def test_evaluate_and_ask_answer_with_the_pretrained_model(trained):
    settings, config, _ = trained
    where = ("--config", str(config), "--workspace", str(settings.paths.root))
    evaluated = kgqa("evaluate", "qa", *where, "--json")
    assert evaluated.returncode in (0, 5), evaluated.stderr  # 5: below the gates, still scored
    report = json.loads((settings.paths.evaluation_dir("qa") / "evaluation.json").read_text(encoding="utf-8"))
    assert report["intent_accuracy"] > 0.8, report
    kgqa("registry", "approve", "qa/v1", *where)
    # The bert folder is gone at question time: the model carries all it needs.
    answered = kgqa("ask", "三度诱惑的导演是谁", "--json", *where,
                    env=offline_env(HF_HOME=str(settings.paths.root / "no-hf-home")))
    assert answered.returncode == 0, answered.stderr
    answer = json.loads(answered.stdout)
    assert answer["answers"] == ["何藩"], answer


def test_the_numpy_runtime_predicts_as_torch(trained):
    """Same intents, tags and slot spans with the numpy runtime as with torch on the generated test
    questions and odd input (Latin, digits, unknown characters, over-long questions)."""
    from kgqa_cli.understanding.model import predict_batch
    from kgqa_cli.understanding.questions import read_questions
    from kgqa_cli.understanding.runtime import load_registered_runtime
    from kgqa_cli.understanding.training import load_registered

    settings, _, _ = trained
    model, _ = load_registered(settings.paths)
    runtime, _ = load_registered_runtime(settings.paths)
    texts = [e["text"] for e in read_questions(settings.paths.questions_dir / "test.jsonl")]
    texts += ["", "三度诱惑" * 40, "🙂" * 5, "iPhone12345的导演是谁", "Zq 与 abcde 的妻子是谁"]
    for start in range(0, len(texts), 64):
        chunk = texts[start:start + 64]
        for text, a, b in zip(chunk, predict_batch(model, chunk, None), predict_batch(runtime, chunk, None),
                              strict=True):
            assert (a.intent, a.tags, a.slots) == (b.intent, b.tags, b.slots)
            assert len(a.tags) == len(text)
            assert max(abs(p - q) for (_, p), (_, q) in zip(a.ranked, b.ranked, strict=True)) < 1e-4


def test_question_time_imports_neither_torch_nor_transformers(trained):
    settings, _, _ = trained
    code = ("import sys\nfrom pathlib import Path\n"
            "from kgqa_cli.understanding.runtime import load_registered_runtime, predict_batch\n"
            "from kgqa_cli.workspace import Workspace\n"
            f"model, _ = load_registered_runtime(Workspace(Path({str(settings.paths.root)!r})))\n"
            "prediction = predict_batch(model, ['三度诱惑的导演是谁'])[0]\n"
            "print(prediction.intent, prediction.slots)\n"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=offline_env())
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ask_director ")
    assert lines[1] == "[]"


def test_a_training_job_reads_the_encoder_channel_and_its_archive_answers(workspace, tmp_path):
    """As SageMaker runs it: the s3:// encoder arrives as the ``pretrained`` channel; the model
    archive's code/inference.py then understands questions with the fine-tuned model alone."""
    settings, _, bert = workspace
    section = settings.qa.model_dump(mode="json")
    section["model"].update({"encoder": "pretrained", "pretrained": "s3://bucket/encoders/tiny-bert"})
    section["train"].update({"epochs": 2, "encoder_lr": 0.003})
    model_dir = tmp_path / "opt-ml-model"
    env = offline_env(SM_CHANNEL_TRAIN=str(settings.paths.questions_dir), SM_CHANNEL_PRETRAINED=str(bert),
                      SM_MODEL_DIR=str(model_dir), SM_OUTPUT_DATA_DIR=str(tmp_path / "output"),
                      SM_HPS=json.dumps({"kind": "qa", "kgqa_config": json.dumps(section)}))
    done = subprocess.run([sys.executable, "-m", "kgqa_cli.entrypoints.container"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert {"model.safetensors", "tokenizer.json", "config.json", "code"} <= {p.name for p in model_dir.iterdir()}
    meta = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    assert meta["encoder"]["encoder"] == "s3://bucket/encoders/tiny-bert"
    probe = ("import json, sys; sys.path.insert(0, 'code'); import inference; model = inference.model_fn('.');"
             "data = inference.input_fn(json.dumps({'question': '三度诱惑的导演是谁'}), 'application/json');"
             "print(inference.output_fn(inference.predict_fn(data, model), 'application/json').decode());"
             "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    served = subprocess.run([sys.executable, "-c", probe], cwd=model_dir, capture_output=True, text=True, timeout=300,
                            env=offline_env(KGQA_MODEL_KIND="qa", KGQA_ANSWER="understand"))
    assert served.returncode == 0, served.stderr
    answer_line, modules = served.stdout.splitlines()[-2:]
    answer = json.loads(answer_line)
    assert {"intent", "confidence", "intents", "slots", "model_version"} <= set(answer)
    assert modules == "[]"


def test_the_endpoint_answers_with_the_pretrained_model(trained):
    from helpers.server import Server, ask

    settings, config, _ = trained
    kgqa("registry", "approve", "qa/v1", "--workspace", str(settings.paths.root))  # already approved is fine
    server = Server(settings.paths.root)
    try:
        server.wait_ready()
        status, _, body = ask(server.base, "三度诱惑的导演是谁")
        assert status == 200, body
        answer = json.loads(body)
        assert answer["model_version"] == "qa/v1" and answer["intent"] == "ask_director"
    finally:
        assert server.stop() == 0
