"""`kgqa deploy` for real: a server process on 127.0.0.1, HTTP requests, capture files, SIGTERM.

Also the four handler functions called directly, as SageMaker's container calls them, and the
registry's approval round trip through the CLI.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from helpers.server import KGQA, Server, ask, request
from qa_fixtures import copy_workspace

from kgqa_cli.serving.handler import BadRequest, Limits, input_fn, model_fn, output_fn, predict_fn


@pytest.fixture(scope="module")
def served(tiny_qa, tmp_path_factory):
    """A private copy of the tiny workspace, its qa version approved, served for the module."""
    settings = copy_workspace(tiny_qa, tmp_path_factory.mktemp("serving"))
    done = subprocess.run([*KGQA, "registry", "approve", "qa/v1", "--workspace", str(settings.paths.root)],
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    server = Server(settings.paths.root)
    server.wait_ready()
    yield settings, server
    assert server.stop() == 0


# ------------------------------------------------------------------ the handler, called directly


def test_the_four_handler_functions(tiny_qa):
    from kgqa_cli.mlops.registry import Registry

    version = Registry(tiny_qa.paths.registry_dir).get("qa")
    model = model_fn(str(version.path / "model"), tiny_qa)
    try:
        data = input_fn(b'{"question": "\xe4\xb8\x89\xe5\xba\xa6\xe8\xaf\xb1\xe6\x83\x91\xe7\x9a\x84\xe5\xaf\xbc\xe6\xbc\x94\xe6\x98\xaf\xe8\xb0\x81"}',
                        "application/json; charset=utf-8")
        assert data.questions == ["三度诱惑的导演是谁"] and not data.batch
        single = json.loads(output_fn(predict_fn(data, model), "application/json"))
        assert single["answers"] == ["何藩"] and single["model_version"] == "qa/v1"
        assert {"intent", "confidence", "slots", "entities", "query", "answers", "reason"} <= set(single)
        batch = input_fn(json.dumps({"questions": ["李嘉欣和谁结婚了", "三度诱惑的导演是谁"]}), "application/json")
        answers = json.loads(output_fn(predict_fn(batch, model), None))["answers"]
        assert [a["answers"] for a in answers] == [["许晋亨"], ["何藩"]]
        # A batch answers exactly as questions one by one.
        assert [a["intent"] for a in answers] == [model.answer(q).intent for q in batch.questions]
        assert input_fn("三度诱惑的导演是谁\n".encode(), "text/plain").questions == ["三度诱惑的导演是谁"]
    finally:
        model.close()
    limits = Limits(max_question_chars=10, max_batch=2, max_body_bytes=200)
    for body, content_type, status, words in [
        (b'{"question": ', "application/json", 400, "malformed JSON"),
        (b'["a"]', "application/json", 400, "must be an object"),
        (b'{"question": 3}', "application/json", 400, "must be a string"),
        (b'{"question": "  "}', "application/json", 400, "is empty"),
        (b'{"qustion": "x"}', "application/json", 400, "unknown key(s) 'qustion'"),
        (b'{"question": "x", "questions": ["y"]}', "application/json", 400, "not both"),
        (b'{"questions": []}', "application/json", 400, "non-empty list"),
        (b'{"questions": ["a", "b", "c"]}', "application/json", 413, "over the limit of 2"),
        ('{"question": "%s"}' % ("长" * 11), "application/json", 413, "11 characters"),
        (b"x" * 201, "text/plain", 413, "201 bytes"),
        (b"\xff\xfe", "text/plain", 400, "not valid UTF-8"),
        (b"abc", "text/plain; charset=latin-1", 415, "send UTF-8"),
        (b"abc", "image/png", 415, "'image/png' is not supported"),
        (b"abc", None, 415, "'none' is not supported"),
    ]:
        with pytest.raises(BadRequest) as caught:
            input_fn(body.encode() if isinstance(body, str) else body, content_type, limits)
        assert caught.value.status == status and words in caught.value.message, (body, caught.value.message)
    with pytest.raises(BadRequest) as caught:
        output_fn({"batch": False, "answers": [{}]}, "text/html")
    assert caught.value.status == 406


# ------------------------------------------------------------------ the server


def test_ping_says_503_until_loaded_then_200(served):
    _, server = served
    assert 503 in server.pings and server.pings[-1] == 200  # the model loads after the port opens
    assert server.pings.index(503) < server.pings.index(200)


def test_json_text_and_batch_requests_and_custom_attributes(served):
    _, server = served
    status, headers, body = ask(server.base, "三度诱惑的导演是谁",
                                **{"X-Amzn-SageMaker-Custom-Attributes": "trace=abc, tenant=7"})
    assert status == 200 and json.loads(body)["answers"] == ["何藩"]
    assert headers["x-amzn-sagemaker-custom-attributes"] == "trace=abc, tenant=7"
    assert headers["content-type"] == "application/json"
    status, _, body = request(f"{server.base}/invocations", "李嘉欣和谁结婚了".encode(), {"Content-Type": "text/plain"})
    assert status == 200 and json.loads(body)["answers"] == ["许晋亨"]
    batch = json.dumps({"questions": ["三度诱惑的导演是谁", "许晋亨的配偶是谁", "你好"]}).encode()
    status, _, body = request(f"{server.base}/invocations", batch, {"Content-Type": "application/json"})
    answers = json.loads(body)["answers"]
    assert status == 200 and [a["answers"] for a in answers] == [["何藩"], ["李嘉欣"], []]
    assert answers[2]["reason"]


def test_a_session_id_keeps_the_conversation(served):
    _, server = served
    session = {"X-Amzn-SageMaker-Session-Id": "chat-1"}
    status, headers, body = ask(server.base, "三度诱惑的导演是谁", **session)
    assert status == 200 and json.loads(body)["answers"] == ["何藩"]
    assert headers["x-amzn-sagemaker-session-id"] == "chat-1"
    follow_up = json.loads(ask(server.base, "他还导演了哪些电影", **session)[2])
    assert follow_up["context"] == {"reference": "他", "entity": "何藩"} and follow_up["answers"] == ["三度诱惑"]
    # Another session, or none, has no context.
    assert json.loads(ask(server.base, "他还导演了哪些电影", **{"X-Amzn-SageMaker-Session-Id": "chat-2"})[2])["context"] is None
    assert json.loads(ask(server.base, "他还导演了哪些电影")[2])["context"] is None
    # A batch in one session is a conversation in order.
    batch = json.dumps({"questions": ["许晋亨的妻子是谁", "那她的丈夫是谁"]}).encode()
    status, _, body = request(f"{server.base}/invocations", batch,
                              {"Content-Type": "application/json", "X-Amzn-SageMaker-Session-Id": "chat-3"})
    assert status == 200 and [a["answers"] for a in json.loads(body)["answers"]] == [["李嘉欣"], ["许晋亨"]]
    status, _, body = ask(server.base, "你好", **{"X-Amzn-SageMaker-Session-Id": "x" * 300})
    assert status == 400 and "Session-Id" in json.loads(body)["error"]


def test_every_bad_request_gets_a_4xx_naming_it_and_the_server_survives(served):
    _, server = served
    url = f"{server.base}/invocations"
    json_type = {"Content-Type": "application/json"}
    cases = [
        (b'{"question": "x"', json_type, 400, "malformed JSON"),
        (b"question=x", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "not supported"),
        (b'{"question": ""}', json_type, 400, "is empty"),
        (json.dumps({"question": "长" * 501}).encode(), json_type, 413, "over the limit of 500"),
        (json.dumps({"questions": ["三度诱惑的导演是谁"] * 65}).encode(), json_type, 413, "over the limit of 64"),
        (b'{"question": "x"}', {**json_type, "Accept": "text/html"}, 406, "application/json"),
        (b'{"question": "x"}', {**json_type, "X-Amzn-SageMaker-Custom-Attributes": "caf\xc3\xa9"}, 400, "ASCII"),
        (b"\xc3\x28", {"Content-Type": "text/plain"}, 400, "not valid UTF-8"),
    ]
    for body, headers, status, words in cases:
        got, _, answer = request(url, body, headers)
        assert got == status and words in json.loads(answer)["error"], (body[:30], got, answer)
    assert request(url, method="GET")[0] == 405
    assert request(f"{server.base}/nowhere")[0] == 404
    assert ask(server.base, "三度诱惑的导演是谁")[0] == 200  # still serving
    stats = json.loads(request(f"{server.base}/stats")[2])
    assert stats["server_errors"] == 0 and stats["client_errors"] >= len(cases)


def test_openapi_document_describes_invocations(served):
    _, server = served
    document = json.loads(request(f"{server.base}/openapi.json")[2])
    body = document["paths"]["/invocations"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "text/plain"}


def test_capture_lines_follow_the_contract(served):
    _, server = served
    assert ask(server.base, "三度诱惑的导演是谁", **{"X-Amzn-SageMaker-Inference-Id": "inf-42"})[0] == 200
    question = "许晋亨的配偶是谁？"  # asked only here
    assert request(f"{server.base}/invocations", question.encode(), {"Content-Type": "text/plain"})[0] == 200

    def ours() -> list[tuple[Path, dict]]:
        found = []
        for path, line in server.capture_lines():
            data = line["captureData"]["endpointInput"]
            if line["eventMetadata"].get("inferenceId") == "inf-42" or (
                    data["encoding"] == "BASE64" and base64.b64decode(data["data"]).decode() == question):
                found.append((path, line))
        return found

    deadline = time.monotonic() + 10
    while len(ours()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # the writer flushes every second
    lines = ours()
    assert len(lines) == 2
    (path, with_id), (_, plain) = lines
    assert set(with_id) == {"captureData", "eventMetadata", "eventVersion"} and with_id["eventVersion"] == "0"
    inp, out = with_id["captureData"]["endpointInput"], with_id["captureData"]["endpointOutput"]
    assert inp == {"observedContentType": "application/json", "mode": "INPUT",
                   "data": json.dumps({"question": "三度诱惑的导演是谁"}, ensure_ascii=False), "encoding": "JSON"}
    assert out["mode"] == "OUTPUT" and out["encoding"] == "JSON" and out["observedContentType"] == "application/json"
    assert json.loads(out["data"])["answers"] == ["何藩"]
    meta = with_id["eventMetadata"]
    assert meta["inferenceId"] == "inf-42" and len(meta["eventId"]) == 36
    when = time.strptime(meta["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert path.parent.relative_to(server.workspace / "datacapture" / "kgqa-local" / "AllTraffic").as_posix() == \
        time.strftime("%Y/%m/%d/%H", when)  # the hour folder of the inference time
    assert "inferenceId" not in plain["eventMetadata"]
    text_in = plain["captureData"]["endpointInput"]
    assert text_in["encoding"] == "BASE64" and text_in["observedContentType"] == "text/plain"
    assert base64.b64decode(text_in["data"]).decode() == question


@pytest.mark.slow
def test_the_endpoint_follows_a_graph_replaced_under_load(served, tmp_path):
    """Clients ask all along while `bulkload --replace` swaps in a graph whose film has another
    director, then the old graph again: every answer comes from one graph or the other, a
    request after each load answers from the new file, and no client goes back to the old one."""
    settings, server = served
    from qa_fixtures import write_corpus

    old = write_corpus(tmp_path / "raw")
    assert "王家卫" not in old.read_text(encoding="utf-8")
    new = tmp_path / "new.jsonl"  # the same corpus but for 三度诱惑's director
    new.write_text(old.read_text(encoding="utf-8").replace("何藩", "王家卫"), encoding="utf-8")
    question = "三度诱惑的导演是谁"
    status, _, body = ask(server.base, question)
    assert status == 200 and json.loads(body)["answers"] == ["何藩"]  # the graph served so far
    results: dict[int, list[tuple[int, list]]] = {}
    stop = threading.Event()

    def client(number: int) -> None:
        mine = results.setdefault(number, [])
        while not stop.is_set():
            status, _, body = ask(server.base, question)
            mine.append((status, json.loads(body).get("answers") if status == 200 else body))

    def load(corpus: Path) -> None:
        done = subprocess.run([*KGQA, "bulkload", str(corpus), "--replace", "--workspace", str(settings.paths.root)],
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr

    threads = [threading.Thread(target=client, args=(number,)) for number in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        load(new)
        after_new = ask(server.base, question)  # asked after the load returned: the new graph only
        time.sleep(0.5)
        load(old)
        after_old = ask(server.base, question)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert (after_new[0], json.loads(after_new[2])["answers"]) == (200, ["王家卫"])
    assert (after_old[0], json.loads(after_old[2])["answers"]) == (200, ["何藩"])
    every = [result for mine in results.values() for result in mine]
    assert len(every) > 20
    assert all(result in ((200, ["何藩"]), (200, ["王家卫"])) for result in every), \
        [r for r in every if r not in ((200, ["何藩"]), (200, ["王家卫"]))][:3]
    assert (200, ["王家卫"]) in every  # the clients saw the new graph too, not only the two asks above
    for mine in results.values():  # old, new, old again: each client's answers change at most twice
        answers = [tuple(result[1]) for result in mine]
        changes = sum(1 for earlier, later in zip(answers, answers[1:], strict=False) if earlier != later)
        assert changes <= 2, answers


# ------------------------------------------------------------------ lifecycle and approval


@pytest.mark.slow
def test_sigterm_answers_in_flight_and_writes_every_capture(tiny_qa, tmp_path):
    """100 requests answered before the signal wait in the capture queue (30 s flush interval);
    one more is in flight when SIGTERM comes: its headers and half its body are in, the rest is
    sent a second after the server has stopped accepting connections. It is answered 200 and,
    with the 100, captured before the server exits 0."""
    settings = copy_workspace(tiny_qa, tmp_path)
    server = Server(settings.paths.root, "--allow-unapproved", "--serve.capture.flush_seconds", "30")
    server.wait_ready()
    statuses: list[int] = []

    def client(count: int) -> None:
        for _ in range(count):
            statuses.append(ask(server.base, "三度诱惑的导演是谁")[0])

    threads = [threading.Thread(target=client, args=(25,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 100

    body = json.dumps({"question": "李嘉欣和谁结婚了"}, ensure_ascii=False).encode()
    half_sent, rest = threading.Event(), threading.Event()
    slow: dict = {}

    def slow_client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            connection.putrequest("POST", "/invocations")
            for name, value in (("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                ("X-Amzn-SageMaker-Inference-Id", "in-flight-1")):
                connection.putheader(name, value)
            connection.endheaders(body[: len(body) // 2])
            half_sent.set()
            rest.wait(timeout=60)
            connection.send(body[len(body) // 2:])
            response = connection.getresponse()
            slow["status"], slow["body"] = response.status, response.read()
        except Exception as exc:  # noqa: BLE001 - reported by the asserts below
            slow["error"] = repr(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_client)
    thread.start()
    try:
        assert half_sent.wait(timeout=30)
        time.sleep(0.5)  # the server has read the headers: the request is in flight
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while True:  # the signal has taken hold: no new connection is accepted
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            except OSError:
                break
            assert time.monotonic() < deadline, "the server still accepts connections 20 s after SIGTERM"
            time.sleep(0.05)
        time.sleep(1)  # the server drains: it waits for the request in flight, however long it takes
        assert server.process.poll() is None, server.log.read_text()
    finally:
        rest.set()
        thread.join(timeout=90)
    assert server.stop() == 0, server.log.read_text()
    assert "error" not in slow, slow
    assert slow["status"] == 200 and json.loads(slow["body"])["answers"] == ["许晋亨"], slow
    # With a 30 s flush interval nothing need be on disk yet: SIGTERM must write it all.
    lines = [line for _, line in server.capture_lines()]
    assert len(lines) == 101
    in_flight = [line for line in lines if line["eventMetadata"].get("inferenceId") == "in-flight-1"]
    assert len(in_flight) == 1
    assert json.loads(in_flight[0]["captureData"]["endpointOutput"]["data"])["answers"] == ["许晋亨"]
    log = server.log.read_text()
    assert log.count('"POST /invocations" 200') == 101  # one access-log line per request


@pytest.mark.slow
def test_unapproved_model_is_refused_with_the_approve_command(tiny_qa, tmp_path):
    settings = copy_workspace(tiny_qa, tmp_path)
    workspace = str(settings.paths.root)
    assert subprocess.run([*KGQA, "registry", "reject", "qa/v1", "--workspace", workspace]).returncode == 0
    refused = subprocess.run([*KGQA, "deploy", "--workspace", workspace, "--port", "0"], capture_output=True, timeout=60)
    assert refused.returncode == 4
    assert "no qa version is Approved" in refused.stderr.decode()
    subprocess.run([*KGQA, "registry", "approve", "qa/v1", "--workspace", workspace], check=True)
    named = subprocess.run([*KGQA, "deploy", "--model", "v1", "--workspace", workspace, "--port", "0",
                            "--graph.path", str(tmp_path / "none.db")], capture_output=True, timeout=60)
    assert named.returncode == 4 and "no graph here yet" in named.stderr.decode()  # approved: on to the graph


@pytest.mark.slow
def test_registry_approve_reject_round_trip(tiny_qa, tmp_path):
    settings = copy_workspace(tiny_qa, tmp_path)
    workspace = ["--workspace", str(settings.paths.root)]

    def registry(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*KGQA, "registry", *args, *workspace], capture_output=True, timeout=60,
                              env={**os.environ, "USER": "reviewer"})

    assert registry("reject", "qa/v1", "--reason", "answers 你好 wrongly").returncode == 0
    listed = json.loads(registry("list", "--json").stdout)
    assert [(row["name"], row["status"]) for row in listed] == [("qa/v1", "Rejected")]
    # Never evaluated: the key metrics are the dev scores its training wrote, under their own names.
    trained = json.loads((settings.paths.model_dir("qa") / "metrics.json").read_text())
    scores = ("dev_intent_accuracy", "dev_slot_f1", "dev_sentence_accuracy")
    assert listed[0]["metrics"] == {name: trained[name] for name in scores}
    assert listed[0]["metrics"]["dev_intent_accuracy"] > 0.5
    refused = subprocess.run([*KGQA, "ask", "三度诱惑的导演是谁", *workspace], capture_output=True, timeout=60)
    # ask names a qa version with --qa-model: the hint says so
    assert refused.returncode == 4 and "`--qa-model v1` for ask" in refused.stderr.decode().replace("\n", " ")
    result = registry("approve", "qa/v1", "--reason", "checked by hand")
    assert result.returncode == 0 and "Rejected -> Approved" in result.stdout.decode()
    shown = json.loads(registry("show", "qa/v1", "--json").stdout)
    assert shown["status"] == "Approved"
    assert [(h["status"], h["by"], h["reason"]) for h in shown["history"][-2:]] == [
        ("Rejected", "reviewer", "answers 你好 wrongly"), ("Approved", "reviewer", "checked by hand")]
    assert (settings.paths.registry_dir / "qa" / "v1" / "model").is_dir()  # a status change, no copy
    assert registry("approve", "qa/v9").returncode == 4
    assert registry("approve", "v1").returncode == 2  # GROUP/VERSION is required
