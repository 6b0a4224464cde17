"""Config section ``aws``: where the workspace lives on S3 (more settings come with SageMaker)."""

from __future__ import annotations

from pydantic import Field, field_validator

from kgqa_cli.config import StrictModel


class AwsConfig(StrictModel):
    """Section ``aws``. Credentials come only from boto3's standard chain (environment, shared
    files, instance roles), never from this file."""

    region: str | None = Field(None, description="AWS region; null: boto3's default (AWS_REGION, ~/.aws/config)")
    bucket: str | None = Field(None, description="S3 bucket of the workspace")
    prefix: str = Field("kgqa", description="key prefix: the workspace maps one to one onto s3://bucket/prefix/")
    tags: dict[str, str] = Field(default_factory=dict, description="tags put on what kgqa creates")

    @field_validator("prefix")
    @classmethod
    def _no_slashes_at_ends(cls, value: str) -> str:
        return value.strip("/")
