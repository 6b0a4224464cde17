"""The embedded graph under kill -9 and under concurrent readers (real processes, real files).

The drivers live in scripts/reliability.py, which `make bench` also runs on the `make all`
workspace with the real question model.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import reliability  # noqa: E402

pytestmark = pytest.mark.slow  # kills real loads of the 5,000-sentence demo corpus


@pytest.fixture(scope="module")
def demo_corpus(tmp_path_factory) -> Path:
    """The synthetic demo corpus (5,000 sentences), generated as `make demo` does."""
    folder = tmp_path_factory.mktemp("demo")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_demo_corpus.py"), "--out", str(folder)],
                   check=True, capture_output=True)
    return folder / "duie_train.json"


def test_bulkload_replace_killed_at_20_points_leaves_old_or_new_and_reruns_to_a_clean_load(demo_corpus, tmp_path):
    lines = demo_corpus.read_text(encoding="utf-8").splitlines()
    old = tmp_path / "old.jsonl"  # the live graph before: four fifths of the demo corpus
    old.write_text("\n".join(lines[:4000]) + "\n", encoding="utf-8")
    result = reliability.crash_test(old, demo_corpus, tmp_path, kills=20,
                                    extra=["--graph.direct_batch_size", "500"])
    print({key: value for key, value in result.items() if key != "runs"})
    assert result["kills"] == 20 and result["killed"] == 20
    assert result["kills_leaving_old_or_new_graph"] == 20
    assert result["kills_leaving_old_graph"] >= 18  # all but the kills after the rename
    assert result["partial_files_named_and_removed"] == result["partial_files_left_by_kills"] >= 18
    assert result["reruns_identical_to_clean_load"] == 20
    assert result["min_demo_answers"] == 8
    assert result["clean_load"]["edges"] > 6000


def test_a_reader_answers_right_while_the_graph_is_replaced_three_times(demo_corpus, tiny_qa, tmp_path):
    from qa_fixtures import copy_workspace, write_corpus

    settings = copy_workspace(tiny_qa, tmp_path / "tiny")
    both = tmp_path / "both.jsonl"  # the tiny corpus's facts plus the demo graph: a load of seconds
    both.write_text(write_corpus(tmp_path / "raw").read_text(encoding="utf-8")
                    + demo_corpus.read_text(encoding="utf-8"), encoding="utf-8")
    result = reliability.concurrency_test(
        both, settings.paths.root, "三度诱惑的导演是谁", ["何藩"], loads=3,
        reader_args=[],
    )
    print({key: value for key, value in result.items() if key != "examples_wrong"})
    assert result["wrong_or_failed"] == 0, result["examples_wrong"]
    assert result["answers_during_loads"] >= 20
    assert result["graphs_seen"] == 4  # the first graph, then each replacement, without a restart
