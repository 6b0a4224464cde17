"""The root config: one YAML file, one section per stage, paths under one workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from kgqa_cli.answering.config import AskConfig
from kgqa_cli.aws.config import AwsConfig
from kgqa_cli.config import StrictModel, load_config
from kgqa_cli.data.config import PreprocessConfig
from kgqa_cli.extraction.config import KgConfig
from kgqa_cli.graph.config import GraphConfig
from kgqa_cli.mlops.config import AlertsConfig
from kgqa_cli.monitoring.config import MonitorConfig
from kgqa_cli.serving.config import ServeConfig
from kgqa_cli.understanding.config import QaConfig
from kgqa_cli.workspace import Workspace


class KgqaConfig(StrictModel):
    """Everything ``configs/kgqa.yaml`` may hold."""

    workspace: Path = Field(Path("workspace"), description="root folder of every output")
    preprocess: PreprocessConfig = PreprocessConfig()
    kg: KgConfig = KgConfig()
    qa: QaConfig = QaConfig()
    ask: AskConfig = AskConfig()
    graph: GraphConfig = GraphConfig()
    serve: ServeConfig = ServeConfig()
    monitor: MonitorConfig = MonitorConfig()
    alerts: AlertsConfig = AlertsConfig()
    aws: AwsConfig = AwsConfig()

    @property
    def paths(self) -> Workspace:
        """The workspace layout resolved against the configured root."""
        return Workspace(self.workspace)


def load_settings(path: Path | None = None, overrides: dict[str, Any] | None = None) -> KgqaConfig:
    """Load and validate the project config (``configs/kgqa.yaml`` unless ``path`` is given)."""
    return load_config(KgqaConfig, path, overrides)
