"""`POST /feedback`: a person's 👍 / 👎 on an answer the endpoint gave, stored with its inference
id beside the capture; anything else is refused with a clear status and the server goes on."""

from __future__ import annotations

import json
import time

import pytest
from helpers.server import Server, ask, request
from qa_fixtures import copy_workspace

from kgqa_cli.serving.feedback import read_answer_feedback

JSON = {"Content-Type": "application/json"}


def rate(base: str, body: object, headers: dict | None = None):
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return request(f"{base}/feedback", data, headers or JSON)


@pytest.fixture(scope="module")
def served(tiny_qa, tmp_path_factory):
    settings = copy_workspace(tiny_qa, tmp_path_factory.mktemp("feedback"))
    server = Server(settings.paths.root, "--allow-unapproved")
    server.wait_ready()
    yield server
    server.stop()


def test_a_rating_of_an_answer_is_stored_with_its_inference_id(served):
    status, _, _ = ask(served.base, "三度诱惑的导演是谁", **{"X-Amzn-SageMaker-Inference-Id": "chat-1"})
    assert status == 200
    status, _, body = rate(served.base, {"inference_id": "chat-1", "rating": "down", "correct_answer": " 何藩 ",
                                         "question": "三度诱惑的导演是谁"})
    assert status == 200 and json.loads(body) == {"stored": True, "inference_id": "chat-1", "rating": "down"}
    assert rate(served.base, {"inference_id": "chat-1", "rating": "up"})[0] == 200  # a change of mind
    path = served.workspace / "datacapture" / "kgqa-local" / "AllTraffic.feedback.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(row["inferenceId"], row["rating"], row["correctAnswer"]) for row in rows] == [
        ("chat-1", "down", "何藩"), ("chat-1", "up", None)]
    assert read_answer_feedback(path)["chat-1"]["rating"] == "up"  # the latest one counts
    assert not any(path.name.endswith("feedback.jsonl") for path, _ in served.capture_lines())  # not a capture


@pytest.mark.parametrize(("body", "headers", "status", "words"), [
    ({"inference_id": "never-asked", "rating": "up"}, JSON, 404, "no answer with this inference_id"),
    ({"inference_id": "chat-2", "rating": "meh"}, JSON, 400, "rating must be"),
    ({"inference_id": "chat-2", "rating": "up", "extra": 1}, JSON, 400, "unknown field 'extra'"),
    ({"rating": "up"}, JSON, 400, "inference_id is required"),
    ({"inference_id": "x" * 65, "rating": "up"}, JSON, 400, "1 to 64 characters"),
    ({"inference_id": "chat-2", "rating": "down", "correct_answer": "何\u202e藩"}, JSON, 400, "control characters"),
    ({"inference_id": "chat-2", "rating": "down", "correct_answer": "长" * 201}, JSON, 400, "at most 200"),
    (b"[" * 5000, JSON, 400, "nested"),
    (b"{not json", JSON, 400, "Expecting"),
    (b"\xff\xfe", JSON, 400, "not UTF-8"),
    ({"inference_id": "chat-2", "rating": "up"}, {"Content-Type": "text/plain"}, 415, "application/json"),
])
def test_bad_ratings_are_refused_and_the_server_goes_on(served, body, headers, status, words):
    assert ask(served.base, "李嘉欣和谁结婚了", **{"X-Amzn-SageMaker-Inference-Id": "chat-2"})[0] == 200
    got, _, answer = rate(served.base, body, headers)
    assert got == status and words in json.loads(answer)["error"]
    assert request(f"{served.base}/ping")[0] == 200


def test_kgqa_label_shows_the_rating_beside_the_question(served, tiny_qa):
    from kgqa_cli.labeling.session import LabelSession

    assert ask(served.base, "许晋亨的配偶是谁", **{"X-Amzn-SageMaker-Inference-Id": "chat-3"})[0] == 200
    assert rate(served.base, {"inference_id": "chat-3", "rating": "down", "correct_answer": "李嘉欣"})[0] == 200
    deadline = time.monotonic() + 10
    settings = tiny_qa.model_copy(update={"workspace": served.workspace})
    while True:  # the capture is written by a background thread, within serve.capture.flush_seconds
        session = LabelSession(settings)
        group = next((g for g in session.groups if g.question == "许晋亨的配偶是谁"), None)
        if group is not None or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert group is not None
    (rating,) = session.ratings_of(group)
    assert (rating["rating"], rating["correctAnswer"]) == ("down", "李嘉欣")


def test_a_rating_after_a_torn_last_line_is_kept(tmp_path):
    """A kill mid-write left a line without its newline: the next rating is its own line."""
    from kgqa_cli.serving.feedback import FeedbackWriter

    path = tmp_path / "AllTraffic.feedback.jsonl"
    path.write_bytes(b'{"inferenceId": "a", "rating": "up"}\n{"inferenceId": "b", "rat')
    FeedbackWriter(path).append({"inferenceId": "c", "rating": "down", "correctAnswer": None})
    rows = read_answer_feedback(path)
    assert set(rows) == {"a", "c"} and rows["c"]["rating"] == "down"
