"""The documentation site: the generated references are current, and the site builds strictly."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", ["cli", "config"])
def test_generated_reference_is_current(tmp_path: Path, page: str) -> None:
    gen = _gen_docs()
    (written,) = gen.generate(tmp_path, [page])
    relative = written.relative_to(tmp_path)
    committed = ROOT / "docs" / relative
    assert committed.exists(), f"docs/{relative} is missing: run `python scripts/gen_docs.py`"
    assert written.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), (
        f"docs/{relative} is stale: run `python scripts/gen_docs.py` (or `make docs`) and commit it"
    )


def test_cli_reference_names_every_command() -> None:
    import typer

    from kgqa_cli.cli.main import app

    text = _gen_docs().cli_reference()
    root = typer.main.get_command(app)
    for name in root.list_commands(None):
        assert f"`kgqa {name}`" in text
    for heading in ("`kgqa registry approve`", "`kgqa monitor run`", "`kgqa pipeline upsert`", "`--plan`"):
        assert heading in text


def test_config_reference_has_every_leaf_key() -> None:
    from kgqa_cli.settings import KgqaConfig

    text = _gen_docs().config_reference()
    dumped = KgqaConfig().model_dump(mode="json")

    def leaves(value, prefix=""):
        if isinstance(value, dict) and value and prefix.count(".") < 8:
            for key, item in value.items():
                yield from leaves(item, f"{prefix}{key}.")
        else:
            yield prefix.rstrip(".")

    keys = list(leaves(dumped))
    assert len(keys) > 100
    for key in keys:
        # a map's own keys (qa.questions.per_intent.train) are listed under the map's key
        parts = key.split(".")
        prefixes = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
        assert any(f"| `{prefix}` |" in text for prefix in prefixes), key


def test_benchmarks_page_without_bench_files(tmp_path: Path) -> None:
    gen = _gen_docs()
    for source in ("figures.md", "ablation.md"):
        shutil.copy(ROOT / "bench" / source, tmp_path / source)
    text = gen.benchmarks_page(tmp_path)
    assert "2 CPU cores and no GPU" in text
    assert "downloaded separately" in text
    assert "`bench/serving.json` is absent: run `make bench`" in text
    assert "| the eight demo questions | 8/8 | 8/8 |" in text  # the committed figures


def test_benchmarks_page_reads_bench_json(tmp_path: Path) -> None:
    gen = _gen_docs()
    (tmp_path / "serving.json").write_text(json.dumps({"qps": {"c8": 333.5}, "errors": 0}), encoding="utf-8")
    text = gen.benchmarks_page(tmp_path)
    assert "| `qps.c8` | 333.5 |" in text
    assert "| `errors` | 0 |" in text
    assert "`bench/graph.json` is absent" in text


@pytest.mark.skipif(shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None,
                    reason="mkdocs is not installed (the dev extra has it)")
def test_site_builds_strictly(tmp_path: Path) -> None:
    # The whole site, from a copy of docs/ so that the checkout is left alone (a few seconds).
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    _gen_docs().generate(docs)
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")
    mkdocs = Path(sys.executable).parent / "mkdocs"
    done = subprocess.run(
        [str(mkdocs), "build", "--strict", "--quiet", "--site-dir", str(tmp_path / "site")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").exists()
