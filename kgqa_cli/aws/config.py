"""Config section ``aws``: where the workspace lives on S3 and how each SageMaker stage runs."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kgqa_cli.config import StrictModel

INSTANCE_TYPE = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"
# us-east-1, us-gov-west-1, us-isob-east-1, ...; and the partitions' global endpoints (aws-global).
REGION = r"^([a-z]{2}(-[a-z]+)+-\d+|aws(-[a-z]+)*-global)$"


class JobConfig(StrictModel):
    """The machines of one SageMaker job stage (``aws.training``, ``aws.preprocess``, ...)."""

    instance_type: str = Field("ml.m5.xlarge", pattern=INSTANCE_TYPE)
    instance_count: int = Field(1, ge=1, le=1, description="one instance")
    volume_gb: int = Field(30, ge=1)
    max_runtime_seconds: int = Field(86_400, ge=60)
    image: str | None = Field(None, description="image URI; null: the PyTorch DLC of aws.framework_version for the region")


class TrainingJobConfig(JobConfig):
    """Section ``aws.training``: `kgqa train --target sagemaker`; more than one instance, or more
    than one process per instance, trains data-parallel (DistributedDataParallel under torchrun,
    each process a rank)."""

    instance_count: int = Field(1, ge=1, le=64, description="instances; above 1: data-parallel training")
    processes_per_host: int | None = Field(
        None, ge=1, le=64,
        description="training processes per instance under torchrun; null: one per GPU, one on a CPU instance")


class TransformConfig(StrictModel):
    """Section ``aws.transform``: the Batch Transform job of `kgqa extract --target sagemaker`."""

    instance_type: str = Field("ml.m5.xlarge", pattern=INSTANCE_TYPE)
    instance_count: int = Field(1, ge=1, le=64, description="instances; the input files are sharded across them")
    max_payload_mb: int = Field(6, ge=1, le=100)
    max_concurrent_transforms: int = Field(1, ge=1, le=32)
    image: str | None = Field(None, description="inference image; null: the PyTorch inference DLC for the region")


class EndpointAutoscalingConfig(StrictModel):
    """Section ``aws.endpoint.autoscaling``: Application Auto Scaling of the endpoint's variant,
    a target-tracking policy on SageMakerVariantInvocationsPerInstance."""

    enabled: bool = Field(True, description="register the variant and its policy when the endpoint is InService "
                          "(deploy then waits for it); false: a fixed instance count")
    min_instances: int = Field(1, ge=1, le=32)
    max_instances: int = Field(2, ge=1, le=32)
    questions_per_second: float = Field(
        333.0, gt=0, description="what one instance answers at most: the endpoint measured on 2 vCPUs (an "
        "ml.m5.large has 2) at 8 requests in flight by scripts/bench_serving.py; measure yours and set it")
    utilisation: float = Field(0.5, gt=0, le=1, description="share of that throughput an instance is kept to: the "
                               "policy's target is questions_per_second x 60 x utilisation invocations a minute")
    scale_in_cooldown_seconds: int = Field(300, ge=0, le=3600)
    scale_out_cooldown_seconds: int = Field(60, ge=0, le=3600)

    @model_validator(mode="after")
    def _bounds(self) -> EndpointAutoscalingConfig:
        if self.min_instances > self.max_instances:
            raise ValueError(f"min_instances {self.min_instances} is above max_instances {self.max_instances}")
        return self

    @property
    def target_invocations_per_minute(self) -> float:
        """The policy's target value of SageMakerVariantInvocationsPerInstance (a minute's invocations)."""
        return round(self.questions_per_second * 60 * self.utilisation, 1)


class EndpointAlarmsConfig(StrictModel):
    """Section ``aws.endpoint.alarms``: CloudWatch alarms on the variant that notify aws.sns_topic_arn."""

    enabled: bool = True
    error_rate_percent: float = Field(1.0, gt=0, le=100, description="alarm when 5xx answers exceed this share "
                                      "of invocations")
    latency_p99_ms: float = Field(500.0, gt=0, description="alarm when the model's p99 latency exceeds this")
    period_seconds: int = Field(60, description="one datapoint's length: 10, 30 or a multiple of 60")
    evaluation_periods: int = Field(5, ge=1, le=100, description="datapoints looked at")
    datapoints_to_alarm: int = Field(3, ge=1, le=100, description="of which this many must breach")

    @model_validator(mode="after")
    def _periods(self) -> EndpointAlarmsConfig:
        if self.period_seconds not in (10, 30) and (self.period_seconds < 60 or self.period_seconds % 60):
            raise ValueError("period_seconds must be 10, 30 or a multiple of 60")
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError("datapoints_to_alarm is above evaluation_periods")
        return self


class EndpointConfig(StrictModel):
    """Section ``aws.endpoint``: `kgqa deploy --target sagemaker`."""

    name: str = Field("kgqa-qa", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$", max_length=63)
    variant_name: str = Field("AllTraffic", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
    instance_type: str = Field("ml.m5.large", pattern=INSTANCE_TYPE)
    initial_instance_count: int = Field(1, ge=1, le=32)
    capture_percentage: int = Field(100, ge=0, le=100, description="share of requests captured; 0: capture off")
    image: str | None = Field(None, description="inference image; null: the PyTorch inference DLC for the region")
    autoscaling: EndpointAutoscalingConfig = EndpointAutoscalingConfig()
    alarms: EndpointAlarmsConfig = EndpointAlarmsConfig()

    @model_validator(mode="after")
    def _initial_count_in_bounds(self) -> EndpointConfig:
        scaling = self.autoscaling
        if scaling.enabled and not scaling.min_instances <= self.initial_instance_count <= scaling.max_instances:
            raise ValueError(f"initial_instance_count {self.initial_instance_count} is outside autoscaling's "
                             f"{scaling.min_instances}..{scaling.max_instances}")
        return self


class ScheduleConfig(StrictModel):
    """Section ``aws.schedule``: `kgqa monitor schedule --target sagemaker` (EventBridge Scheduler)."""

    name: str = Field("kgqa-monitor", pattern=r"^[0-9a-zA-Z-_.]+$", max_length=64)
    expression: str = Field("rate(1 day)", description="rate(...) or cron(...) of EventBridge Scheduler")
    timezone: str = Field("UTC")
    role_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$",
                                 description="role the scheduler assumes to start the monitor pipeline")


class NeptuneConfig(StrictModel):
    """Section ``aws.neptune``: `kgqa graph create|delete --target neptune`, `kgqa bulkload --target neptune`."""

    cluster_id: str = Field("kgqa-graph", pattern=r"^[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*$", max_length=60)
    instance_class: str = Field("db.r6g.large", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(2, ge=1, le=16, description="instances; 2 or more: a writer and a failover replica")
    engine_version: str | None = Field(None, description="Neptune engine version; null: the service's default")
    iam_auth: bool = Field(True, description="IAM database authentication (requests signed with SigV4)")
    port: int = Field(8182, ge=1, le=65535)
    subnet_group: str | None = Field(None, description="DB subnet group; null: the default VPC's")
    security_group_ids: list[str] = Field(default_factory=list)
    job_subnet_ids: list[str] = Field(default_factory=list,
                                      description="subnets of the cluster's VPC for the pipeline's bulk-load job")
    loader_role_name: str = Field("kgqa-neptune-loader", pattern=r"^[\w+=,.@-]+$", max_length=64,
                                  description="the role Neptune's loader reads the bulkload prefix with")
    loader_url: str | None = Field(None, pattern=r"^https?://",
                                   description="the loader's HTTP endpoint; null: https://<cluster endpoint>:<port>")
    mode: Literal["AUTO", "NEW", "RESUME"] = "AUTO"
    fail_on_error: bool = True
    parallelism: Literal["LOW", "MEDIUM", "HIGH", "OVERSUBSCRIBE"] = "HIGH"
    update_single_cardinality_properties: bool = False
    poll_seconds: float = Field(10.0, gt=0, le=600, description="between status requests while waiting")


class TriggersConfig(StrictModel):
    """Section ``aws.triggers``: `kgqa triggers install|show|remove [code|data|schedule]`."""

    branch: str = Field("main", description="code: pushes to this branch retrain")
    repository_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:codecommit:[a-z0-9-]+:\d{12}:.+$",
                                       description="code: the CodeCommit repository whose pushes start the build")
    source_type: Literal["CODECOMMIT", "GITHUB", "GITHUB_ENTERPRISE", "BITBUCKET", "GITLAB"] = "CODECOMMIT"
    source_location: str | None = Field(None, description="code: the repository's clone URL CodeBuild reads")
    project_name: str = Field("kgqa-retrain", pattern=r"^[A-Za-z0-9][A-Za-z0-9\-_]{1,254}$")
    build_image: str = "aws/codebuild/standard:7.0"
    compute_type: str = "BUILD_GENERAL1_MEDIUM"
    data_prefix: str = Field("data/raw", description="data: new objects under this workspace path retrain kg")
    trail_name: str = Field("kgqa-data-events", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$")
    trail_bucket: str | None = Field(None, description="data: the bucket CloudTrail writes its logs to (it needs "
                                     "CloudTrail's bucket policy); not needed with s3_event_notifications")
    s3_event_notifications: bool = Field(False, description="data: S3 -> EventBridge notifications instead of a trail")
    schedule_expression: str = Field("rate(7 days)", description="schedule: when both pipelines run")
    role_prefix: str = Field("kgqa-triggers", pattern=r"^[\w+=,.@-]{1,40}$",
                             description="the roles the targets assume: <prefix>-push, -codebuild, -data, -scheduler")


class ApiConfig(StrictModel):
    """Section ``aws.api``: the public API of `kgqa deploy --target sagemaker --api`."""

    function_name: str = Field("kgqa-api", pattern=r"^[a-zA-Z0-9-_]{1,64}$")
    api_name: str = Field("kgqa", min_length=1, max_length=128)
    role_name: str = Field("kgqa-api", pattern=r"^[\w+=,.@-]{1,64}$", description="the function's role (made here)")
    runtime: str = Field("python3.11", pattern=r"^python3\.\d+$")
    memory_mb: int = Field(512, ge=128, le=10240)
    timeout_seconds: int = Field(29, ge=1, le=900)
    burst_limit: int = Field(20, ge=0, description="requests at once the API lets through")
    rate_limit: float = Field(10.0, ge=0, description="requests a second the API lets through, on average")
    subnet_ids: list[str] = Field(default_factory=list, description="the cluster's VPC, for reaching Neptune")
    security_group_ids: list[str] = Field(default_factory=list)


class AwsConfig(StrictModel):
    """Section ``aws``. Credentials come only from boto3's standard chain (environment, shared
    files, instance roles), never from this file."""

    region: str | None = Field(None, description="AWS region such as us-east-1; null: boto3's default "
                               "(AWS_REGION, ~/.aws/config)")
    bucket: str | None = Field(None, description="S3 bucket of the workspace")
    prefix: str = Field("kgqa", description="key prefix: the workspace maps one to one onto s3://bucket/prefix/")
    tags: dict[str, str] = Field(default_factory=dict, description="tags put on what kgqa creates")
    role_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$",
                                 description="execution role of SageMaker jobs, models and pipelines")
    sns_topic_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:.+$",
                                      description="alerts (failed gates, monitor violations) are published here")
    framework_version: str = Field("2.5.1", description="PyTorch version of the Deep Learning Containers")
    python_version: str = Field("py311")
    cuda_version: str = Field("cu124", description="CUDA tag of the GPU images (ml.p*/ml.g* instances)")
    wait_timeout_minutes: float = Field(240.0, gt=0, le=7 * 24 * 60,
                                        description="the longest kgqa waits for a job, endpoint, cluster or load "
                                        "before it gives up (exit 10); what it waited for goes on in AWS")
    hourly_prices: dict[str, float] = Field(default_factory=dict,
                                            description="USD an hour per instance type, for the cost line of --plan; "
                                            "types not named here use kgqa's us-east-1 on-demand prices")
    transfer_concurrency: int = Field(10, ge=1, le=64,
                                      description="files (and parts of large files) `kgqa sync` sends or fetches at once")
    package_group_prefix: str = Field("kgqa", pattern=r"^[A-Za-z0-9](-*[A-Za-z0-9])*$", max_length=40,
                                      description="model package groups and pipelines <prefix>-kg and <prefix>-qa")
    training: TrainingJobConfig = TrainingJobConfig()
    preprocess: JobConfig = JobConfig()
    evaluate: JobConfig = JobConfig()
    monitor: JobConfig = JobConfig(instance_type="ml.t3.medium")
    transform: TransformConfig = TransformConfig()
    endpoint: EndpointConfig = EndpointConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    neptune: NeptuneConfig = NeptuneConfig()
    triggers: TriggersConfig = TriggersConfig()
    api: ApiConfig = ApiConfig()

    @field_validator("region")
    @classmethod
    def _region_name(cls, value: str | None) -> str | None:
        if not value:
            return None  # boto3's default
        if not re.fullmatch(REGION, value):
            raise ValueError("not an AWS region name such as us-east-1 or eu-central-1")
        return value

    @field_validator("prefix")
    @classmethod
    def _plain_key_prefix(cls, value: str) -> str:
        # The prefix is joined to workspace paths to make keys, and keys become paths on download:
        # it names folders below the bucket's top, nothing that climbs or starts at a root.
        prefix = value.rstrip("/")
        if prefix.startswith("/"):
            raise ValueError("must start below the bucket's top, not with /")
        if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
            raise ValueError("must be folder names joined by single slashes, without . or .. parts")
        if "\\" in prefix or "\x00" in prefix:
            raise ValueError("must not hold a backslash or NUL")
        return prefix
