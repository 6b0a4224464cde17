"""Shared test helpers: the CLI runner and tiny DuIE records built in the tests themselves."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgqa_cli.cli.main import app

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
AWS_SITE = Path(__file__).resolve().parent / "aws_site"


def pytest_configure(config):
    """Record every AWS operation kgqa makes during the run, in this process and in the ones the
    tests start (tests/aws_site/sitecustomize.py), for the IAM check that runs last."""
    import importlib.util
    import os
    import tempfile

    if "KGQA_AWS_CALL_LOG" not in os.environ:
        config.kgqa_call_log_dir = tempfile.mkdtemp(prefix="kgqa-aws-calls-")  # removed at the end
        os.environ["KGQA_AWS_CALL_LOG"] = str(Path(config.kgqa_call_log_dir) / "calls.jsonl")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(AWS_SITE), os.environ.get("PYTHONPATH")]))
    spec = importlib.util.spec_from_file_location("kgqa_aws_call_recorder", AWS_SITE / "sitecustomize.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))  # hooks this process's botocore sessions
    config.addinivalue_line("markers", "after_suite: reads what the whole run recorded; runs last")


def pytest_unconfigure(config):
    import shutil

    if getattr(config, "kgqa_call_log_dir", None):
        shutil.rmtree(config.kgqa_call_log_dir, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``after_suite`` run after every other test. A test on the moto server (an AWS
    flow through real processes) is ``slow`` as the tests marked so by hand: `make test-fast`
    leaves them out, and with them the server's start."""
    for item in items:
        if "moto_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.get_closest_marker("after_suite") is not None)


def spo(subject, predicate, obj, subject_type="影视作品", object_type="人物", **slots):
    """One DuIE 2.0 triple; slots go beside @value in object and object_type."""
    return {
        "predicate": predicate,
        "object_type": {"@value": object_type, **{k: v[1] for k, v in slots.items()}},
        "subject_type": subject_type,
        "object": {"@value": obj, **{k: v[0] for k, v in slots.items()}},
        "subject": subject,
    }


SCHEMA_LINES = [
    {"object_type": {"@value": "人物"}, "predicate": "导演", "subject_type": "影视作品"},
    {"object_type": {"@value": "人物"}, "predicate": "主演", "subject_type": "影视作品"},
    {"object_type": {"@value": "人物"}, "predicate": "妻子", "subject_type": "人物"},
    {"object_type": {"@value": "人物", "inWork": "影视作品"}, "predicate": "饰演", "subject_type": "娱乐人物"},
]


def write_lines(path: Path, items) -> Path:
    """Write JSON objects (or raw strings as they are) one per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join((item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)) + "\n" for item in items),
        encoding="utf-8",
    )
    return path


def film_records(count: int, start: int = 0) -> list[dict]:
    """Distinct, valid records about invented films."""
    records = []
    for i in range(start, start + count):
        film, director = f"第{i}号电影", f"导演甲{i}"
        records.append({"text": f"《{film}》是{director}执导的作品", "spo_list": [spo(film, "导演", director)]})
    return records


@pytest.fixture
def cli(tmp_path):
    """Invoke the real CLI in-process with the workspace in a temp folder; returns the Result."""
    runner = CliRunner()

    def invoke(*args: str, workspace: Path | None = None):
        workspace = workspace or tmp_path / "ws"
        return runner.invoke(app, [*args, "--workspace", str(workspace)], catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def tiny_qa(tmp_path_factory):
    """Corpus, gold graph and a trained tiny question model, built once per test session.

    Tests only read it; a test that writes (a graph load, captured traffic) takes a private copy
    with ``qa_fixtures.copy_workspace``.
    """
    from qa_fixtures import build_workspace

    return build_workspace(tmp_path_factory.mktemp("tiny-qa"))


@pytest.fixture
def planted(tiny_qa, tmp_path):
    """A private copy of the tiny workspace whose graph also holds the planted extractions
    (``helpers.review.PLANTED``): (settings, the extraction file)."""
    from helpers.review import load_planted

    return load_planted(tiny_qa, tmp_path)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """A moto server on a free 127.0.0.1 port for the session; yields the environment variables
    that point boto3 at it (endpoint, dummy credentials, region), for the processes a test
    starts. This process's own environment is left alone. Stopped at the end."""
    import shutil
    import socket
    import subprocess
    import time
    import urllib.request

    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if binary is None:
        pytest.fail("moto_server is missing: `make test` installs moto[server] with the dev extra")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    process = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=log.open("wb"),
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"moto server did not start: {log.read_text()}")
            time.sleep(0.1)
    try:
        yield {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
               # What kgqa calls in the processes a test starts is recorded for the IAM check.
               "KGQA_AWS_CALL_LOG": os.environ["KGQA_AWS_CALL_LOG"], "PYTHONPATH": os.environ["PYTHONPATH"]}
    finally:
        process.terminate()
        process.wait(timeout=30)
