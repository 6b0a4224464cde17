"""What every SageMaker stage shares: the session, the workspace bucket, images, the source
archive, job names and tags, and following a job to its end (boto3 throughout).

A stage builds its request with the helpers here, creates the job and returns its name; with
``--wait`` it follows the job with :meth:`AwsContext.follow`, which polls the job's status and
prints the job's CloudWatch log lines as they come, then reads the outputs back into the
workspace with ``kgqa sync``'s checksums.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kgqa_cli.errors import CloudError, ConfigError

if TYPE_CHECKING:
    from kgqa_cli.aws.config import AwsConfig
    from kgqa_cli.settings import KgqaConfig

log = logging.getLogger(__name__)

# What `--wait` reports as it follows a job: its status changes (status, detail), its log lines.
OnStatus = Callable[[str, str], None] | None
OnLog = Callable[[str], None] | None

DLC_ACCOUNT = "763104351884"  # AWS Deep Learning Containers' registry (most regions)
TERMINAL = ("Completed", "Failed", "Stopped")
# What each kind of job is called in boto3 (describe call, name key, status key, log group).
JOB_KINDS = {
    "training": ("describe_training_job", "TrainingJobName", "TrainingJobStatus", "/aws/sagemaker/TrainingJobs"),
    "processing": ("describe_processing_job", "ProcessingJobName", "ProcessingJobStatus",
                   "/aws/sagemaker/ProcessingJobs"),
    "transform": ("describe_transform_job", "TransformJobName", "TransformJobStatus", "/aws/sagemaker/TransformJobs"),
}


def dlc_image(aws: AwsConfig, region: str, repository: str, instance_type: str, explicit: str | None = None) -> str:
    """An explicit image, else the PyTorch Deep Learning Container ``repository``
    (``pytorch-training`` or ``pytorch-inference``) of ``aws.framework_version`` for the region,
    GPU-tagged on ml.p*/ml.g* instances."""
    if explicit:
        return explicit
    gpu = instance_type.split(".")[1][:1] in ("p", "g")
    device = f"gpu-{aws.python_version}-{aws.cuda_version}" if gpu else f"cpu-{aws.python_version}"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{DLC_ACCOUNT}.dkr.ecr.{region}.{suffix}/{repository}:{aws.framework_version}-{device}"


def job_name(stage: str) -> str:
    """A unique job name such as ``kgqa-preprocess-20261129-120000-1a2b3c`` (63 characters at most)."""
    from kgqa_cli.aws.plan import active

    if active() is not None:  # a plan names the job the same way every time
        return f"kgqa-{stage}-YYYYMMDD-HHMMSS-planned"[:63]
    return f"kgqa-{stage}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"[:63]


class AwsPlan:
    """What a request needs to know about AWS without calling it: the workspace's S3 URLs, the
    region, images and tags. `kgqa pipeline build` plans with it alone; jobs use :class:`AwsContext`."""

    def __init__(self, settings: KgqaConfig, region: str) -> None:
        self.settings = settings
        self.aws = settings.aws
        self.region = region

    def url(self, relative: str = "") -> str:
        """``s3://bucket/prefix/<relative>``."""
        key = f"{self.aws.prefix}/{relative}" if self.aws.prefix else relative
        return f"s3://{self.aws.bucket}/{key}"

    def tags(self, stage: str) -> list[dict]:
        """The config's tags plus ``kgqa:stage``, in SageMaker's shape."""
        return [{"Key": k, "Value": v} for k, v in sorted({"kgqa:stage": stage, **self.aws.tags}.items())]

    def image(self, repository: str, instance_type: str, explicit: str | None = None) -> str:
        return dlc_image(self.aws, self.region, repository, instance_type, explicit)


class AwsContext(AwsPlan):
    """One stage's view of AWS: settings, region, clients and the workspace bucket."""

    def __init__(self, settings: KgqaConfig, *, need_role: bool = True) -> None:
        from kgqa_cli.aws.s3 import WorkspaceBucket, aws_session, check_ready

        check_ready(settings.aws)
        if need_role and not settings.aws.role_arn:
            raise ConfigError("aws.role_arn is not set", hint="the execution role SageMaker runs the job as")
        self.session = aws_session(settings.aws.region)
        super().__init__(settings, self.session.region_name or "us-east-1")
        self.bucket = WorkspaceBucket(self.aws, self.session.client("s3"))
        self._clients: dict[str, Any] = {"s3": self.bucket.client}

    def client(self, service: str) -> Any:
        """A boto3 client of the session (made once)."""
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    @property
    def sagemaker(self) -> Any:
        return self.client("sagemaker")

    def call(self, what: str, function: Callable, **kwargs: Any) -> Any:
        """An AWS call, its errors as one :class:`CloudError` line."""
        from kgqa_cli.aws.s3 import aws_call

        return aws_call(f"AWS ({self.region})", what, function, **kwargs)

    def upload_inputs(self, paths: list[str]) -> int:
        """Upload workspace paths with checksums (unchanged files are skipped); files copied."""
        from kgqa_cli.aws.s3 import sync

        return len(sync(self.aws, self.settings.paths.root, "up", paths, client=self.bucket.client).copied)

    def download_outputs(self, paths: list[str]) -> int:
        """Read workspace paths back from S3 (unchanged files are skipped); files copied."""
        from kgqa_cli.aws.s3 import sync

        return len(sync(self.aws, self.settings.paths.root, "down", paths, client=self.bucket.client).copied)

    def put_bytes(self, relative: str, data: bytes) -> str:
        """Write one object under the workspace prefix; its URL."""
        self.bucket.call("write", self.bucket.client.put_object, Bucket=self.bucket.bucket,
                         Key=self.bucket.key(relative), Body=data)
        return self.url(relative)

    def get_bytes(self, url: str, missing: str | None = None) -> bytes:
        """Read one object by its ``s3://`` URL; ``missing`` is the message when there is none."""
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, _, key = url.removeprefix("s3://").partition("/")
        try:
            return self.bucket.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404") and missing:
                raise CloudError(missing) from exc
            raise CloudError(f"{url}: cannot read it: {code or exc}") from exc
        except BotoCoreError as exc:
            raise CloudError(f"{url}: cannot read it: {exc}") from exc

    def upload_source(self) -> str:
        """The source archive (this installed package, its entry scripts and pinned requirements)
        under ``code/<hash>/``, uploaded once per content; its URL."""
        from kgqa_cli.aws.source import source_archive

        archive, digest = source_archive()
        relative = f"code/{digest[:16]}/sourcedir.tar.gz"
        if relative not in self.bucket.remote_checksums(f"code/{digest[:16]}"):  # the key names its content
            self.put_bytes(relative, archive)
        return self.url(relative)

    def upload_config(self, name: str) -> str:
        """The effective settings (without the workspace root, which is the container's) for a
        job, as ``jobs/<name>/kgqa.json``; the folder's URL. No credential is ever in them."""
        sections = self.settings.model_dump(mode="json", exclude={"workspace"})
        self.put_bytes(f"jobs/{name}/config/kgqa.json", json.dumps(sections, ensure_ascii=False, indent=1).encode())
        return self.url(f"jobs/{name}/config/")

    def follow(self, kind: str, name: str, on_status: OnStatus = None, on_log: OnLog = None,
               poll_seconds: float = 15.0) -> dict[str, Any]:
        """Wait for a job to end, at most ``aws.wait_timeout_minutes``; raise :class:`CloudError`
        unless it completed. With ``on_log`` it polls, reporting status changes and new
        CloudWatch log lines as they come; without, boto3's waiter for the job kind waits."""
        from kgqa_cli.aws.plan import active
        from kgqa_cli.aws.waiting import Deadline, wait_with_waiter

        if active() is not None:
            raise ConfigError("a plan does not follow jobs: leave --wait out of --plan")
        describe, key, status_key, group = JOB_KINDS[kind]
        what = f"the {kind} job {name}"
        hint = f"it goes on in SageMaker; look again with `aws sagemaker {describe.replace('_', '-')} --{key_option(key)} {name}`"
        if on_status:
            on_status("Submitted", name)
        if on_log is None:
            wait_with_waiter(self.sagemaker, f"{kind}_job_completed_or_stopped", what, self.aws.wait_timeout_minutes,
                             poll_seconds, hint=hint, failure_is_an_answer=True, **{key: name})
        deadline = Deadline(self.aws.wait_timeout_minutes, what, hint)
        logs = LogTail(self.client("logs"), group, name) if on_log else None
        last = None
        while True:
            job = self.call(f"read the {kind} job", getattr(self.sagemaker, describe), **{key: name})
            status = job[status_key]
            detail = job.get("SecondaryStatus", "")
            if on_status and (status, detail) != last:
                on_status(status, detail)
                last = (status, detail)
            if logs is not None and on_log is not None:
                for line in logs.new_lines():
                    on_log(line)
            if status in TERMINAL:
                break
            deadline.sleep(poll_seconds)
        if status != "Completed":
            raise CloudError(f"{kind} job {name} {status.lower()}: {job.get('FailureReason', 'no reason given')}",
                             hint=f"its log: CloudWatch group {group}, streams {name}/*")
        return job


def key_option(key: str) -> str:
    """The AWS CLI option of a request key: ``TrainingJobName`` -> ``training-job-name``."""
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower()


class LogTail:
    """New lines of a job's CloudWatch log streams, best effort: a job without streams yet (or
    a role that may not read logs) just has no lines."""

    def __init__(self, client: Any, group: str, job: str) -> None:
        self.client, self.group, self.job = client, group, job
        self.tokens: dict[str, str | None] = {}

    def new_lines(self) -> list[str]:
        lines: list[str] = []
        try:
            from kgqa_cli.aws.s3 import paginated

            streams = paginated(self.client, "describe_log_streams", "logStreams", logGroupName=self.group,
                                logStreamNamePrefix=f"{self.job}/")
            for stream in streams:
                name = stream["logStreamName"]
                kwargs = {"logGroupName": self.group, "logStreamName": name, "startFromHead": True}
                if self.tokens.get(name):
                    kwargs["nextToken"] = self.tokens[name]
                page = self.client.get_log_events(**kwargs)
                lines.extend(event["message"].rstrip("\n") for event in page.get("events", []))
                self.tokens[name] = page.get("nextForwardToken")
        except Exception as exc:  # no group yet, no permission: the status still tells the story
            log.debug("no log lines for %s: %s", self.job, exc)
        return lines
