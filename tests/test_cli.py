"""The command line through Typer's CliRunner: output streams, exit codes, start-up weight."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import SCHEMA_LINES, film_records, write_lines


def test_preprocess_json_on_stdout(cli, tmp_path):
    path = write_lines(tmp_path / "train.json", film_records(40))
    result = cli("preprocess", str(path), "--json", "--preprocess.seed", "3")
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["splits"]["train"]["sentences"] == 32
    assert stats["predicates"]["导演"] == {"train": 32, "dev": 4, "test": 4}
    assert (tmp_path / "ws" / "data" / "corpus" / "schema.jsonl").exists()


def test_preprocess_table_and_bad_line_report(cli, tmp_path):
    lines = [*film_records(6), "{not json", *film_records(3, start=50)]
    path = write_lines(tmp_path / "duie_train.json", lines)
    result = cli("preprocess", str(path))
    assert result.exit_code == 0
    assert "导演" in result.stdout and "Corpus splits" in result.stdout
    assert f"{path}:7: invalid JSON" in result.stderr.replace("\n", "")
    assert "invalid json" in result.stdout  # the "Records not used" table


def test_errors_are_one_line_with_documented_exit_codes(cli, tmp_path):
    missing = cli("preprocess", str(tmp_path / "nothing.json"))
    assert missing.exit_code == 3
    assert missing.stderr.strip() == f"error: {tmp_path / 'nothing.json'}: input not found"

    bad_override = cli("preprocess", "--preprocess.dev_ratio", "lots")
    assert bad_override.exit_code == 2
    assert "override --preprocess.dev_ratio" in bad_override.stderr
    assert len(bad_override.stderr.strip().splitlines()) == 1

    folder = tmp_path / "strict"
    write_lines(folder / "duie_train.json", [*film_records(3), {"text": "x", "spo_list": [{"subject": "y"}]}])
    write_lines(folder / "duie_schema.json", SCHEMA_LINES)
    stopped = cli("preprocess", str(folder), "--preprocess.on_error", "stop")
    assert stopped.exit_code == 3
    assert f"{folder / 'duie_train.json'}:4:" in stopped.stderr


def test_config_file_errors_name_the_file_and_line(cli, tmp_path):
    config = tmp_path / "mine.yaml"
    config.write_text("preprocess:\n  seed: 1\n  ratio: 2\n", encoding="utf-8")
    result = cli("preprocess", "-c", str(config))
    assert result.exit_code == 2
    assert f"{config}:3: preprocess.ratio: unknown key" in result.stderr


def test_help_is_light_and_lists_working_commands():
    code = (
        "import sys; from kgqa_cli.cli.main import app; "
        "heavy = [m for m in ('torch', 'transformers', 'gremlin_python', 'gremlite', 'boto3', 'sagemaker', "
        "'fastapi', 'uvicorn', 'textual', 'sklearn', 'matplotlib', 'scipy') if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    shown = subprocess.run([sys.executable, "-m", "kgqa_cli", "--help"], capture_output=True, text=True, check=True)
    assert "preprocess" in shown.stdout
