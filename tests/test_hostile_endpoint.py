"""A hostile client against `kgqa deploy`: a real server process on 127.0.0.1, raw HTTP.

Huge and endless bodies, deep JSON, oversized headers, q-values, a busy port, an unwritable
capture folder, a graph merged into under a running endpoint, and generated requests of every
shape (hypothesis): the endpoint answers 2xx or 4xx, its memory stays bounded, and every answer
is captured.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from helpers.server import KGQA, Server, ask, request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qa_fixtures import copy_workspace

MB = 1024 * 1024
# What one hostile request may add to the server's resident memory (the limit on a body is 1 MB).
MEMORY_BOUND = 50 * MB


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


class PeakMemory:
    """Samples a process's resident memory every few milliseconds while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = self.peak = self.after = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> PeakMemory:
        self.before = self.peak = rss_bytes(self.pid)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.after = rss_bytes(self.pid)
        self.peak = max(self.peak, self.after)

    def report(self, what: str) -> str:
        return (f"{what}: server RSS {self.before / MB:.1f} MB before, peak {self.peak / MB:.1f} MB, "
                f"{self.after / MB:.1f} MB after")


def raw_response(sock: socket.socket) -> tuple[int, dict]:
    """Status and JSON body of the response waiting on ``sock``."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, json.loads(response.read() or b"{}")


def open_request(port: int, headers: dict[str, str], path: str = "/invocations") -> socket.socket:
    """A connection with the request line and headers of a POST to ``path`` sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall((head + "\r\n").encode("latin-1"))
    return sock


@pytest.fixture(scope="module")
def served(tiny_qa, tmp_path_factory):
    """A private copy of the tiny workspace, served for the module."""
    settings = copy_workspace(tiny_qa, tmp_path_factory.mktemp("hostile"))
    server = Server(settings.paths.root, "--allow-unapproved")
    server.wait_ready()
    yield settings, server
    assert server.stop() == 0


# ------------------------------------------------------------------ bodies


def test_a_300_mb_chunked_body_gets_413_and_the_server_stays_small(served):
    _, server = served
    chunk = b"[" * MB
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sock = open_request(server.port, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    with PeakMemory(server.process.pid) as memory:
        sent = 0
        try:
            for _ in range(300):
                sock.sendall(framed)
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may close once it has answered; the answer is still there to read
        status, body = raw_response(sock)
    sock.close()
    print(f"\n{memory.report(f'chunked body of {sent / MB:.0f} MB')}")
    assert status == 413 and "over the limit of 1000000 bytes" in body["error"]
    assert memory.peak - memory.before < MEMORY_BOUND, memory.report("chunked 300 MB body")
    assert ask(server.base, "三度诱惑的导演是谁")[0] == 200  # still serving


@pytest.mark.parametrize("path", ["/invocations", "/feedback"])
def test_a_declared_300_mb_body_is_refused_before_it_is_read(served, path):
    _, server = served
    sock = open_request(server.port, {"Content-Type": "application/json", "Content-Length": str(300 * MB)}, path)
    sock.settimeout(10)  # not a byte of the body is sent: the answer must come without it
    with PeakMemory(server.process.pid) as memory:
        status, body = raw_response(sock)
    sock.close()
    assert status == 413 and f"the body has {300 * MB} bytes" in body["error"]
    assert memory.peak - memory.before < MEMORY_BOUND


def test_json_nested_a_thousand_deep_gets_400_not_500(served):
    _, server = served
    for body in (b"[" * 1000 + b"]" * 1000, b'{"question": ' * 1000 + b'"x"' + b"}" * 1000, b"[" * 900_000):
        status, _, answer = request(f"{server.base}/invocations", body, {"Content-Type": "application/json"})
        assert status == 400 and "nested" in json.loads(answer)["error"], (status, answer[:200])
    # Brackets inside a question are text, not nesting.
    status, _, _ = ask(server.base, "[" * 100 + "三度诱惑的导演是谁")
    assert status == 200
    stats = json.loads(request(f"{server.base}/stats")[2])
    assert stats["server_errors"] == 0


# ------------------------------------------------------------------ headers


def test_an_oversized_or_unprintable_inference_id_is_refused_and_never_captured(served):
    _, server = served
    refused = ["x" * 60_000, "x" * 65, "caf\xe9", "tab\there"]
    for value in refused:
        status, _, answer = ask(server.base, "三度诱惑的导演是谁", **{"X-Amzn-SageMaker-Inference-Id": value})
        assert status == 400 and "X-Amzn-SageMaker-Inference-Id" in json.loads(answer)["error"], (value[:20], status)
    longest = "i" * 63 + "d"
    assert ask(server.base, "三度诱惑的导演是谁", **{"X-Amzn-SageMaker-Inference-Id": longest})[0] == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ids = [line["eventMetadata"].get("inferenceId") for _, line in server.capture_lines()]
        if longest in ids:
            break
        time.sleep(0.1)  # the writer flushes every second
    assert longest in ids
    assert all(len(i) <= 64 for i in ids if i is not None)


def test_accept_with_q_zero_is_not_acceptable(served):
    _, server = served
    cases = {
        "application/json;q=0": 406,
        "application/json; q=0.000": 406,
        "application/json;q=0, */*": 406,  # the most specific range decides
        "text/html, application/*;q=0": 406,
        "*/*;q=0, application/json": 200,
        "text/html, application/json;q=0.1": 200,
        "application/*;q=0.5": 200,
        "*/*": 200,
    }
    for accept, expected in cases.items():
        status, _, _ = ask(server.base, "三度诱惑的导演是谁", Accept=accept)
        assert status == expected, (accept, status)


# ------------------------------------------------------------------ pages


def test_no_page_loads_anything_from_another_host(served):
    _, server = served
    assert request(f"{server.base}/docs")[0] == 404  # Swagger UI would come from a CDN
    assert request(f"{server.base}/redoc")[0] == 404
    assert request(f"{server.base}/openapi.json")[0] == 200
    status, _, page = request(f"{server.base}/")
    assert status == 200
    texts = [page.decode()]
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', texts[0]):
        status, _, body = request(f"{server.base}{asset}")
        assert status == 200, asset
        texts.append(body.decode())
    assert len(texts) >= 2  # the page's script at least
    for text in texts:
        hosts = re.findall(r"(?:https?:)?//([A-Za-z0-9.-]+\.[A-Za-z]{2,})", text)
        assert not hosts, hosts


# ------------------------------------------------------------------ the command line


def test_an_unwritable_capture_destination_exits_7_before_serving(tiny_qa, tmp_path):
    workspace = str(tiny_qa.paths.root)  # nothing is written: the check fails first
    done = subprocess.run([*KGQA, "deploy", "--allow-unapproved", "--port", "0", "--workspace", workspace,
                           "--serve.capture.destination", "/proc/nope"], capture_output=True, timeout=60)
    stderr = done.stderr.decode()
    assert done.returncode == 7, stderr
    assert "/proc/nope" in stderr and "error:" in stderr and "serving" not in stderr


def test_a_port_in_use_is_refused_before_the_model_loads(tiny_qa):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run([*KGQA, "deploy", "--allow-unapproved", "--port", str(port), "--workspace",
                               str(tiny_qa.paths.root), "--serve.capture.enabled", "false"],
                              capture_output=True, timeout=60)
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == [line for line in lines if line.startswith("error:")] and len(lines) == 1, stderr
    assert f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0]
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_port_0_prints_the_port_it_serves_on(tiny_qa, tmp_path):
    log = tmp_path / "deploy.log"
    process = subprocess.Popen([*KGQA, "deploy", "--allow-unapproved", "--port", "0", "--workspace",
                                str(tiny_qa.paths.root), "--serve.capture.enabled", "false"],
                               stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        deadline = time.monotonic() + 60
        port = None
        while port is None and time.monotonic() < deadline and process.poll() is None:
            found = re.search(r"on http://127\.0\.0\.1:(\d+)", log.read_text())
            port = int(found.group(1)) if found else None
            time.sleep(0.05)
        assert port, log.read_text()
        assert port != 0
        base = f"http://127.0.0.1:{port}"
        status = 0
        while status != 200 and time.monotonic() < deadline:
            try:
                status = request(f"{base}/ping")[0]
            except OSError:
                status = 0
            time.sleep(0.05)
        assert status == 200
        assert json.loads(ask(base, "三度诱惑的导演是谁")[2])["answers"] == ["何藩"]
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0


# ------------------------------------------------------------------ a graph merged into under a reader

# A film whose name the tiny model tags in pieces: only the scan of the graph's names finds it.
NEW_FILM = "海天月歌"
NEW_FILM_QUESTION = f"{NEW_FILM}的导演是谁"


def _new_film_file(folder: Path) -> Path:
    record = {"text": f"{NEW_FILM}是何藩导演的电影", "spo_list": [{
        "subject": NEW_FILM, "subject_type": "影视作品", "predicate": "导演",
        "object": {"@value": "何藩"}, "object_type": {"@value": "人物"}}]}
    path = folder / "extra.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_the_endpoint_answers_about_an_entity_merged_while_it_runs(tiny_qa, tmp_path):
    settings = copy_workspace(tiny_qa, tmp_path)
    server = Server(settings.paths.root, "--allow-unapproved", "--serve.capture.enabled", "false")
    try:
        server.wait_ready()
        status, _, body = ask(server.base, NEW_FILM_QUESTION)
        assert status == 200 and json.loads(body)["answers"] == []
        done = subprocess.run([*KGQA, "bulkload", str(_new_film_file(tmp_path)), "--merge", "--workspace",
                               str(settings.paths.root)], capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        status, _, body = ask(server.base, NEW_FILM_QUESTION)
        assert status == 200 and json.loads(body)["answers"] == ["何藩"], body
    finally:
        assert server.stop() == 0


def test_a_long_lived_answerer_sees_a_merge(tiny_qa, tmp_path):
    from kgqa_cli.answering.pipeline import NOT_IN_GRAPH, Answerer
    from kgqa_cli.graph.bulkload import run_bulkload
    from kgqa_cli.graph.store import GraphStore

    settings = copy_workspace(tiny_qa, tmp_path)
    with Answerer(settings) as answerer:
        assert answerer.answer(NEW_FILM_QUESTION).reason == NOT_IN_GRAPH
        merge = settings.graph.model_copy(update={"mode": "merge"})
        run_bulkload(merge, settings.paths, _new_film_file(tmp_path), show_progress=False)
        answer = answerer.answer(NEW_FILM_QUESTION)
        assert answer.answers == ["何藩"], (answer.reason, answer.detail)
        counted = answerer.store.changes()
        assert counted >= 1
        # The same merge again adds nothing, and counts no change.
        run_bulkload(merge, settings.paths, _new_film_file(tmp_path), show_progress=False)
        assert answerer.store.changes() == counted
    # A replacement goes on counting from the graph it replaces.
    run_bulkload(settings.graph.model_copy(update={"mode": "replace"}), settings.paths,
                 _new_film_file(tmp_path), show_progress=False)
    reader = GraphStore(settings.graph, settings.paths, create=False)
    try:
        assert reader.changes() == counted + 1
    finally:
        reader.close()


# ------------------------------------------------------------------ generated requests

CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "application/json; charset=latin-1",
                 "APPLICATION/JSON", "text/plain", "text/plain; charset=utf-8", "", "application/octet-stream",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "*/*", "application/json;;;=",
                 "text/plain; charset", "application/json; charset=\"utf-8\""]
ACCEPTS = [None, "application/json", "*/*", "text/html", "application/json;q=0", "*/*;q=0.5", "application/*",
           "", ";;;", "application/json;q=nan", "text/*, application/json;q=0.0001"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=80).map(lambda q: json.dumps({"question": q}, ensure_ascii=False).encode()),
    st.lists(st.text(max_size=30), max_size=70).map(lambda qs: json.dumps({"questions": qs}).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(990_000, 1_010_000).map(lambda n: b"x" * n),  # either side of the 1 MB limit
    st.sampled_from([b"", b"\x00", b"\xff\xfe", b'{"question": "\\ud800"}', b'"question"', b"{}"]),
)
# Any value HTTP lets a header carry (tab, visible ASCII, space, obs-text bytes 0x80-0xFF); other
# control characters make a malformed message that the HTTP server itself refuses.
header_text = st.text(st.sampled_from("\t") | st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                                              blacklist_characters="\x7f"), max_size=80)
requests_ = st.fixed_dictionaries({
    "body": bodies,
    "content_type": st.sampled_from(CONTENT_TYPES) | header_text,
    "accept": st.sampled_from(ACCEPTS) | header_text,
    "chunked": st.booleans(),
    "attributes": st.none() | header_text | st.just("a" * 2000),
    "session": st.none() | header_text,
    "hostile_id": st.none() | header_text | st.just("x" * 60_000),
})


def send(port: int, spec: dict, inference_id: str) -> int:
    """Status of one generated request; a dropped connection raises."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.putrequest("POST", "/invocations", skip_accept_encoding=True)
        headers = {"Content-Type": spec["content_type"], "Accept": spec["accept"],
                   "X-Amzn-SageMaker-Custom-Attributes": spec["attributes"],
                   "X-Amzn-SageMaker-Session-Id": spec["session"],
                   "X-Amzn-SageMaker-Inference-Id": spec["hostile_id"] if spec["hostile_id"] is not None else inference_id}
        for name, value in headers.items():
            if value is not None:
                connection.putheader(name, value.strip(" \t"))
        body = spec["body"]
        if spec["chunked"]:
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for start in range(0, len(body), 65536):
                piece = body[start:start + 65536]
                connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            connection.send(b"0\r\n\r\n")
        else:
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_generated_requests_get_2xx_or_4xx_bounded_memory_and_a_capture_each(served):
    _, server = served
    answered: list[str] = []
    statuses: list[int] = []
    counter = iter(range(10**9))

    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests_)
    def check(spec):
        inference_id = f"fuzz-{next(counter)}"
        status = send(server.port, spec, inference_id)
        statuses.append(status)
        assert 200 <= status < 300 or 400 <= status < 500, (status, {k: str(v)[:60] for k, v in spec.items()})
        if 200 <= status < 300:
            assert spec["hostile_id"] is None or spec["hostile_id"].strip(" \t") == spec["hostile_id"]
            answered.append(spec["hostile_id"] if spec["hostile_id"] is not None else inference_id)

    with PeakMemory(server.process.pid) as memory:
        check()
    print(f"\n{memory.report(f'{len(statuses)} generated requests')}")
    assert memory.after - memory.before < MEMORY_BOUND, memory.report("generated requests")
    assert answered, statuses  # the generator does reach the answering path
    deadline = time.monotonic() + 10
    while True:
        captured = {line["eventMetadata"].get("inferenceId") for _, line in server.capture_lines()}
        missing = [i for i in answered if i not in captured]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # the writer flushes every second
    assert not missing, missing[:5]
    stats = json.loads(request(f"{server.base}/stats")[2])
    assert stats["server_errors"] == 0 and stats["capture"]["dropped"] == 0
