"""Config of `kgqa deploy`: the endpoint's limits and its data capture."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from kgqa_cli.config import StrictModel


class CaptureConfig(StrictModel):
    """Section ``serve.capture``: SageMaker-format data capture of the endpoint's traffic."""

    enabled: bool = Field(True, description="capture sampled requests and responses")
    sampling_percentage: float = Field(100.0, ge=0, le=100, description="share of requests captured, in percent")
    destination: Path | None = Field(None, description="capture root; null: <workspace>/datacapture")
    endpoint_name: str = Field("kgqa-local", pattern=r"^[A-Za-z0-9](-*[A-Za-z0-9])*$", max_length=63)
    variant_name: str = Field("AllTraffic", pattern=r"^[A-Za-z0-9](-*[A-Za-z0-9])*$", max_length=63)
    queue_size: int = Field(10_000, ge=1, description="requests waiting to be written; beyond it they are dropped, counted")
    flush_seconds: float = Field(1.0, gt=0, le=60, description="the writer flushes at least this often (what a kill -9 can lose)")
    json_content_types: list[str] = Field(["application/json"], description="bodies captured as JSON text; others as BASE64")


class ServeConfig(StrictModel):
    """Section ``serve``: the local endpoint of `kgqa deploy`."""

    port: int = Field(8080, ge=0, le=65535, description="port (SAGEMAKER_BIND_TO_PORT or --port override it)")
    max_question_chars: int = Field(500, ge=1, description="a longer question is refused with 413")
    max_batch: int = Field(64, ge=1, description="most questions in one batch request (413 beyond)")
    max_body_bytes: int = Field(1_000_000, ge=1, description="a larger request body is refused with 413")
    batch_window: int = Field(
        16, ge=1, description="most questions the model answers in one pass when requests arrive together"
    )
    capture: CaptureConfig = CaptureConfig()
