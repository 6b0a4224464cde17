"""Config section ``aws``: where the workspace lives on S3 (more settings come with SageMaker)."""

from __future__ import annotations

from pydantic import Field, field_validator

from kgqa_cli.config import StrictModel


class TrainingJobConfig(StrictModel):
    """Section ``aws.training``: the SageMaker training jobs of `kgqa train --target sagemaker`."""

    instance_type: str = Field("ml.m5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(1, ge=1, le=1, description="one instance (data-parallel training is not built yet)")
    volume_gb: int = Field(30, ge=1)
    max_runtime_seconds: int = Field(86_400, ge=60)
    image: str | None = Field(None, description="training image URI; null: the PyTorch DLC of framework_version")
    framework_version: str = Field("2.5.1", description="PyTorch version of the Deep Learning Container")
    python_version: str = Field("py311")
    cuda_version: str = Field("cu124", description="CUDA tag of the GPU image (ml.p*/ml.g* instances)")


class AwsConfig(StrictModel):
    """Section ``aws``. Credentials come only from boto3's standard chain (environment, shared
    files, instance roles), never from this file."""

    region: str | None = Field(None, description="AWS region; null: boto3's default (AWS_REGION, ~/.aws/config)")
    bucket: str | None = Field(None, description="S3 bucket of the workspace")
    prefix: str = Field("kgqa", description="key prefix: the workspace maps one to one onto s3://bucket/prefix/")
    tags: dict[str, str] = Field(default_factory=dict, description="tags put on what kgqa creates")
    role_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$",
                                 description="execution role of SageMaker jobs")
    training: TrainingJobConfig = TrainingJobConfig()
    package_group_prefix: str = Field("kgqa", pattern=r"^[A-Za-z0-9](-*[A-Za-z0-9])*$", max_length=56,
                                      description="SageMaker model package groups <prefix>-kg and <prefix>-qa")

    @field_validator("prefix")
    @classmethod
    def _no_slashes_at_ends(cls, value: str) -> str:
        return value.strip("/")
