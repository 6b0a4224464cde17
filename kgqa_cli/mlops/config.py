"""Configuration of the MLOps pieces: section ``alerts``."""

from __future__ import annotations

from pydantic import Field

from kgqa_cli.config import StrictModel


class AlertsConfig(StrictModel):
    """Section ``alerts``: where failed gates and monitor violations are sent."""

    webhook: str | None = Field(None, description="URL that gets an HTTP POST of the alert's JSON; null: none")
    command: str | None = Field(None, description="shell command that gets the alert's JSON on stdin; null: none")
    timeout_seconds: float = Field(10.0, gt=0, le=300, description="per sink")
