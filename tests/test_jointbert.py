"""The JointBERT question model: tokenizer edge cases, training, save/load round trip, evaluation."""

from __future__ import annotations

import json

import pytest
import torch
from qa_fixtures import build_workspace

from kgqa_cli.errors import MissingArtifactError
from kgqa_cli.understanding.model import QuestionModel, predict_batch, spans
from kgqa_cli.understanding.tokenizer import CharTokenizer
from kgqa_cli.understanding.training import evaluate_question_model, load_registered

pytestmark = pytest.mark.slow  # trains the question model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return build_workspace(tmp_path_factory.mktemp("jointbert"), graph=False)


def test_tokenizer_handles_any_input():
    tokenizer = CharTokenizer.build(["导演是谁", "ABC"], max_length=8)
    assert tokenizer.encode("") == [tokenizer.cls_id, tokenizer.sep_id]
    ids = tokenizer.encode("导 😀ａ")
    assert len(ids) == 6 and ids[3] == tokenizer.unk_id and ids[4] == tokenizer.index["a"]
    assert len(tokenizer.encode("长" * 100)) == 8  # cut at max_length


def test_spans_repairs_a_lone_inside_tag():
    assert spans("请问风云呢", ["O", "O", "I-subject", "I-subject", "O"]) == {"subject": ["风云"]}


def test_training_learns_and_registers(trained):
    metrics = json.loads((trained.paths.model_dir("qa") / "metrics.json").read_text())
    curve = json.loads((trained.paths.model_dir("qa") / "curve.json").read_text())
    assert curve[-1]["loss"] < curve[0]["loss"]
    assert metrics["dev_intent_accuracy"] > 0.8
    model, version = load_registered(trained.paths)
    assert version.name == "qa/v1"


def test_save_load_round_trip_predicts_the_same(trained, tmp_path):
    model, _ = load_registered(trained.paths)
    model.save(tmp_path / "copy")
    again = QuestionModel.load(tmp_path / "copy")
    texts = ["三度诱惑的导演是谁", "", "x" * 300]
    for a, b in zip(predict_batch(model, texts), predict_batch(again, texts), strict=True):
        assert (a.intent, a.tags) == (b.intent, b.tags)
        assert abs(a.confidence - b.confidence) < 1e-6
    state_a, state_b = model.network.state_dict(), again.network.state_dict()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    # The ranking against the network's own output: the softmax of its intent logits, computed
    # here for each text alone, sorted by hand. The intent is the most probable one, the
    # confidence its probability, and ranked the top three in order.
    from kgqa_cli.understanding.runtime import encode_batch

    for text, prediction in zip(texts, predict_batch(again, texts), strict=True):
        _, ids, mask = encode_batch(again.tokenizer, [text])
        with torch.no_grad():
            logits, _ = again.network(torch.from_numpy(ids), torch.from_numpy(mask))
        probabilities = torch.softmax(logits[0].double(), dim=-1).tolist()
        expected = sorted(zip(again.intents, probabilities, strict=True), key=lambda pair: -pair[1])[:3]
        assert [name for name, _ in prediction.ranked] == [name for name, _ in expected], text
        assert prediction.ranked[0][1] > expected[1][1]  # no tie decides the intent
        assert prediction.intent == expected[0][0] and prediction.confidence == pytest.approx(expected[0][1], abs=1e-5)
        assert [p for _, p in prediction.ranked] == pytest.approx([p for _, p in expected], abs=1e-5)


def test_evaluate_writes_report_and_leaves_approval_to_a_person(trained):
    trained.qa.gates.min_intent_accuracy = 0.5
    trained.qa.gates.min_slot_f1 = 0.3
    report = evaluate_question_model(trained.qa, trained.paths)
    saved = json.loads((trained.paths.evaluation_dir("qa") / "evaluation.json").read_text())
    assert saved["intent_accuracy"] == report["intent_accuracy"] > 0.5
    assert set(saved["per_intent"]) >= {"ask_director", "ask_wife"}
    _, version = load_registered(trained.paths)
    assert version.status == saved["status"] == "PendingManualApproval"  # a passing qa gate approves nothing
    assert version.package["history"][-1]["by"] == "quality gate"
    trained.qa.gates.approve_on_pass = True
    evaluate_question_model(trained.qa, trained.paths)
    assert load_registered(trained.paths)[1].status == "Approved"


def test_no_model_is_a_missing_artifact(tmp_path):
    with pytest.raises(MissingArtifactError):
        QuestionModel.load(tmp_path)


def test_the_numpy_runtime_predicts_as_torch_on_the_test_set(trained):
    """Question time runs the trained weights in numpy (no torch, no transformers): every
    generated test question gets the same intent distribution order and tags as with torch."""
    from kgqa_cli.understanding.questions import read_questions
    from kgqa_cli.understanding.runtime import load_registered_runtime

    model, _ = load_registered(trained.paths)
    runtime, _ = load_registered_runtime(trained.paths)
    texts = [e["text"] for e in read_questions(trained.paths.questions_dir / "test.jsonl")]
    texts += ["", "x" * 300, "🙂" * 5]
    for start in range(0, len(texts), 64):
        chunk = texts[start:start + 64]
        for a, b in zip(predict_batch(model, chunk, None), predict_batch(runtime, chunk, None), strict=True):
            assert (a.intent, a.tags, a.slots) == (b.intent, b.tags, b.slots)
            assert max(abs(p - q) for (_, p), (_, q) in zip(a.ranked, b.ranked, strict=True)) < 1e-4


def test_answering_imports_neither_torch_nor_transformers(trained):
    import subprocess
    import sys

    code = ("import sys\nfrom kgqa_cli.understanding.runtime import load_registered_runtime, predict_batch\n"
            "from pathlib import Path\nfrom kgqa_cli.workspace import Workspace\n"
            f"model, _ = load_registered_runtime(Workspace(Path({str(trained.paths.root)!r})))\n"
            "print(predict_batch(model, ['三度诱惑的导演是谁'])[0].intent)\n"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["ask_director", "[]"]
