"""Config files and dotted overrides: a table of good and bad cases."""

from __future__ import annotations

import pytest

from kgqa_cli.config import apply_overrides, parse_overrides
from kgqa_cli.errors import ConfigError
from kgqa_cli.settings import load_settings

GOOD = [
    ("", [], lambda c: c.preprocess.seed == 13 and str(c.workspace) == "workspace"),
    ("preprocess:\n  seed: 5\n", [], lambda c: c.preprocess.seed == 5),
    ("preprocess:\n  seed: 5\n", ["--preprocess.seed", "7"], lambda c: c.preprocess.seed == 7),
    ("", ["--preprocess.seed=8"], lambda c: c.preprocess.seed == 8),
    ("", ["--preprocess.dev_ratio", "0.25"], lambda c: c.preprocess.dev_ratio == 0.25),
    ("", ["--preprocess.on_error", "stop"], lambda c: c.preprocess.on_error == "stop"),
    ("", ["--preprocess.schema_file", "null"], lambda c: c.preprocess.schema_file is None),
    ("", ["--workspace", "/tmp/elsewhere"], lambda c: str(c.paths.corpus_dir) == "/tmp/elsewhere/data/corpus"),
    ("", ["--preprocess.max-reported", "3"], lambda c: c.preprocess.max_reported == 3),
]


@pytest.mark.parametrize(("text", "args", "check"), GOOD)
def test_good_configs(tmp_path, text, args, check):
    path = tmp_path / "kgqa.yaml"
    path.write_text(text, encoding="utf-8")
    assert check(load_settings(path, parse_overrides(args)))


BAD = [
    ("preprocess:\n  seed: 1\n  tset_ratio: 0.2\n", [], "kgqa.yaml:3: preprocess.tset_ratio: unknown key"),
    ("preprocess:\n  seed: abc\n", [], "kgqa.yaml:2: preprocess.seed: Input should be a valid integer"),
    ("preprocess:\n  on_error: ignore\n", [], "kgqa.yaml:2: preprocess.on_error: Input should be 'skip' or 'stop'"),
    ("preprocess:\n  dev_ratio: 0.6\n  test_ratio: 0.5\n", [], "kgqa.yaml:1: preprocess: dev_ratio + test_ratio"),
    ("preprocess:\n  dev_ratio: 1.5\n", [], "kgqa.yaml:2: preprocess.dev_ratio: Input should be less than 1"),
    ("bogus: 1\n", [], "kgqa.yaml:1: bogus: unknown key"),
    ("preprocess: [1, 2\n", [], "kgqa.yaml:2: not valid YAML"),
    ("- a\n- b\n", [], "the top level must be a mapping"),
    ("", ["--preprocess.seeds", "3"], "override --preprocess.seeds: preprocess.seeds: unknown key"),
    ("", ["--preprocess.seed", "x"], "override --preprocess.seed: preprocess.seed: Input should be a valid integer"),
    ("", ["--workspace.sub", "x"], "override --workspace.sub: workspace: Input is not a valid path"),
    ("workspace: w\n", ["--workspace.sub", "x"], "override --workspace.sub: 'workspace' is a value, not a section"),
    ("", ["--preprocess.seed"], "override --preprocess.seed has no value"),
    ("", ["stray"], "unexpected argument 'stray'"),
]


@pytest.mark.parametrize(("text", "args", "message"), BAD)
def test_bad_configs_name_file_line_and_key(tmp_path, text, args, message):
    path = tmp_path / "kgqa.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, parse_overrides(args))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_explicit_config_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_overrides_do_not_touch_the_original():
    data = {"preprocess": {"seed": 1}}
    assert apply_overrides(data, {"preprocess.seed": 2}) == {"preprocess": {"seed": 2}}
    assert data == {"preprocess": {"seed": 1}}


def test_override_values_are_typed():
    assert parse_overrides(["--a.b", "3", "--a.c", "1e-3", "--a.d", "true", "--a.e", "ws://h:8182/gremlin"]) == {
        "a.b": 3, "a.c": 0.001, "a.d": True, "a.e": "ws://h:8182/gremlin",
    }


def test_shipped_config_is_valid():
    from pathlib import Path

    config = load_settings(Path(__file__).resolve().parents[1] / "configs" / "kgqa.yaml")
    assert config.preprocess.on_error == "skip"
