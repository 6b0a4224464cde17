"""The workspace on S3: ``<workspace>/<path>`` is ``s3://<bucket>/<prefix>/<path>``, one to one.

:func:`sync` copies one way, with checksums: a file whose MD5 already matches the other side is
skipped, so a second sync of unchanged files copies nothing. Files go through boto3's transfer
manager, ``aws.transfer_concurrency`` at a time; each is put whole (one request,
so S3's ETag is their MD5; ``kgqa-md5`` metadata carries it for large files sent in parts).
Scratch files stay local: stage stamps, benchmarks, locks, partial graph builds.
A key that would land outside the workspace (a ``..`` part, an absolute path after the prefix) is
never downloaded: the rest of the sync goes on, then it fails naming those keys.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from kgqa_cli.errors import (
    CloudError,
    ConfigError,
    FileSystemError,
    InputDataError,
    KgqaError,
    describe_os_error,
)
from kgqa_cli.io import contained_path

if TYPE_CHECKING:
    from kgqa_cli.aws.config import AwsConfig

log = logging.getLogger(__name__)

INSTALL_HINT = "install the AWS extra: `make install-aws` (pip install -c constraints.txt -e '.[aws]')"

# Local-only files: never uploaded, never deleted by a download.
EXCLUDED = (".stamps/*", "bench/*", "*.lock", "*/.*.building-*", "*.start", "*/.kgqa-write-check.*")

# Bigger files go in parts (S3's ETag is then no MD5: the metadata carries it).
SINGLE_PUT_BYTES = 64 * 1024 * 1024


def boto3_module() -> Any:
    """boto3, or one clear line saying how to install it."""
    try:
        import boto3
    except ImportError as exc:
        raise ConfigError("the AWS path needs boto3, which is not installed", hint=INSTALL_HINT) from exc
    return boto3


def aws_session(region: str | None) -> Any:
    """A boto3 session from the standard credential chain (AWS_ENDPOINT_URL is honoured); in
    plan mode its calls are answered by the plan and never sent."""
    from kgqa_cli.aws import plan

    session = boto3_module().session.Session(region_name=region)
    if plan.active() is not None and session.region_name is None:
        plan.note("no region is set (aws.region, AWS_REGION): planned for us-east-1")
        session = boto3_module().session.Session(region_name="us-east-1")
    plan.attach(session)
    return session


def s3_client(region: str | None) -> Any:
    """An S3 client from boto3's standard credential chain (AWS_ENDPOINT_URL is honoured)."""
    from botocore.exceptions import InvalidRegionError

    try:
        return aws_session(region).client("s3")
    except InvalidRegionError as exc:  # a region from AWS_REGION or ~/.aws/config, which aws.region does not check
        raise ConfigError(f"AWS region {exc.kwargs.get('region_name', region)!r} is not a region name",
                          hint="set aws.region (or AWS_REGION) to one such as us-east-1") from exc


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _excluded(relative: str) -> bool:
    return any(fnmatch.fnmatch(relative, pattern) for pattern in EXCLUDED)


@dataclass
class SyncReport:
    """What a sync copied and skipped."""

    direction: str
    location: str
    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_copied: int = 0

    def to_json(self) -> dict:
        return {"direction": self.direction, "location": self.location, "copied": len(self.copied),
                "unchanged": len(self.skipped), "bytes_copied": self.bytes_copied, "files": self.copied}


def aws_call(where: str, what: str, function: Callable, *, special: Callable[[str], KgqaError | None] | None = None,
             missing: tuple[str, ...] = (), **kwargs: Any) -> Any:
    """Call boto3; its errors become one :class:`CloudError` line naming ``where`` and ``what``
    (``special`` may turn an error code into a more telling error of its own). An error whose
    code is in ``missing`` (a read of something that does not exist) returns None instead."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        return function(**kwargs)
    except NoCredentialsError as exc:
        raise CloudError(f"{where}: no AWS credentials", hint="set them as boto3 reads them "
                         "(AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws/credentials, an instance role)") from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in missing:
            return None
        mapped = special(code) if special else None
        if mapped is not None:
            raise mapped from exc
        raise CloudError(f"{where}: AWS refused to {what}: {code or exc}") from exc
    except BotoCoreError as exc:
        raise CloudError(f"{where}: cannot {what}: {exc}") from exc


def paginated(client: Any, operation: str, result_key: str, limit: int | None = None, **kwargs: Any) -> list:
    """Every item of a listing (boto3's paginator over all its pages), or the first ``limit``."""
    config = {"PaginationConfig": {"MaxItems": limit}} if limit else {}
    pages = client.get_paginator(operation).paginate(**kwargs, **config)
    return [item for page in pages for item in page.get(result_key, [])]


def check_ready(config: AwsConfig) -> None:
    """Raise the one-line error of a missing boto3 or an unset bucket, before any work."""
    if not config.bucket:
        raise ConfigError("aws.bucket is not set", hint="set aws.bucket in the config, or pass --aws.bucket NAME")
    boto3_module()


class WorkspaceBucket:
    """The workspace's place on S3 and the calls that read and write it."""

    def __init__(self, config: AwsConfig, client: Any | None = None) -> None:
        check_ready(config)
        self.bucket = config.bucket
        self.prefix = config.prefix
        self.client = client or s3_client(config.region)

    def key(self, relative: str) -> str:
        """The S3 key of a workspace-relative path."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def url(self, relative: str = "") -> str:
        return f"s3://{self.bucket}/{self.key(relative)}"

    def call(self, what: str, function: Callable, **kwargs: Any) -> Any:
        """An AWS call about this bucket, its errors as one line (a missing bucket named)."""
        def missing_bucket(code: str) -> CloudError | None:
            if code in ("NoSuchBucket", "404") and what == "list":
                return CloudError(f"s3://{self.bucket}: no such bucket", hint="create it (aws s3 mb s3://NAME) or set aws.bucket")
            return None

        return aws_call(self.url(), what, function, special=missing_bucket, **kwargs)

    def listing(self, under: str = "") -> dict[str, dict]:
        """workspace-relative path -> S3's listing entry (ETag, LastModified, Size) of every
        object under the prefix (and ``under``)."""
        found: dict[str, dict] = {}
        start = self.key(under) if under else (f"{self.prefix}/" if self.prefix else "")
        listed = self.call("list", paginated, client=self.client, operation="list_objects_v2", result_key="Contents",
                           Bucket=self.bucket, Prefix=start)
        for item in listed:
            relative = item["Key"][len(self.prefix) + 1:] if self.prefix else item["Key"]
            if under and relative != under and not relative.startswith(under + "/"):
                continue  # a neighbour that only shares the beginning of the name
            found[relative] = item
        return found

    def remote_checksums(self, under: str = "") -> dict[str, str]:
        """workspace-relative path -> MD5 of every object under the prefix (and ``under``)."""
        found: dict[str, str] = {}
        for relative, item in self.listing(under).items():
            etag = item.get("ETag", "").strip('"')
            if "-" in etag:  # sent in parts: the MD5 is in the object's metadata
                head = self.call("read", self.client.head_object, Bucket=self.bucket, Key=item["Key"])
                etag = head.get("Metadata", {}).get("kgqa-md5", etag)
            found[relative] = etag
        return found



class _Done:
    """A transfer already made."""

    def result(self) -> None:
        return None


class Transfers:
    """Files sent to or fetched from the bucket at once through boto3's transfer manager
    (``aws.transfer_concurrency`` at a time, parts of large files included). Leaving the block
    waits for all of them; the first failure is raised after every transfer has settled, and a
    download lands under its name only once complete."""

    def __init__(self, bucket: WorkspaceBucket, concurrency: int) -> None:
        self.bucket, self.concurrency = bucket, concurrency
        self.pending: list[tuple[str, Any, Callable[[], object]]] = []

    def __enter__(self) -> Transfers:
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        # Below the threshold a file goes in one request, so S3's ETag is its MD5.
        config = TransferConfig(max_concurrency=self.concurrency, multipart_threshold=SINGLE_PUT_BYTES,
                                multipart_chunksize=SINGLE_PUT_BYTES // 4)
        self.manager = create_transfer_manager(self.bucket.client, config)
        return self

    def upload(self, path: Path, relative: str, md5: str) -> None:
        from kgqa_cli.aws.plan import active

        if active() is not None:
            # A plan lists the request each file is (one PutObject below the part threshold), in
            # order: the transfer manager's threads would list them in any order.
            with path.open("rb") as body:
                self.bucket.call("write", self.bucket.client.put_object, Bucket=self.bucket.bucket,
                                 Key=self.bucket.key(relative), Body=body, Metadata={"kgqa-md5": md5})
            self.pending.append((relative, _Done(), lambda: None))
            return
        future = self.manager.upload(str(path), self.bucket.bucket, self.bucket.key(relative),
                                     extra_args={"Metadata": {"kgqa-md5": md5}})
        self.pending.append((relative, future, lambda: None))

    def download(self, relative: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.download")
        future = self.manager.download(self.bucket.bucket, self.bucket.key(relative), str(partial))
        self.pending.append((relative, future, lambda: partial.replace(path)))  # a reader never sees half a file

    def settle(self, on_done: Callable[[str], None] | None = None) -> None:
        """Wait for every transfer, in the order they were asked for; raise the first failure."""
        first: BaseException | None = None
        for relative, future, finish in self.pending:
            try:
                self.bucket.call(f"copy {relative}", future.result)
                finish()
            except KgqaError as exc:
                first = first or exc
                continue
            if on_done:
                on_done(relative)
        self.pending.clear()
        if first is not None:
            raise first

    def __exit__(self, *exc_info: object) -> None:
        self.manager.shutdown(cancel=exc_info[0] is not None)


def _local_files(root: Path, paths: Iterable[str]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for selected in paths or [""]:
        base = root / selected
        candidates = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []
        if selected and not candidates:
            raise FileSystemError(f"{base}: no such file or folder in the workspace")
        for path in candidates:
            relative = path.relative_to(root).as_posix()
            if not _excluded(relative):
                files[relative] = path
    return files


def _shown_keys(keys: list[str]) -> str:
    shown = ", ".join(repr(key) for key in keys[:3])
    return shown + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def _relative(path: str) -> str:
    clean = PurePosixPath(path.strip("/"))
    if ".." in clean.parts:
        raise ConfigError(f"{path!r}: paths are relative to the workspace and stay inside it")
    return "" if str(clean) == "." else str(clean)


def sync(config: AwsConfig, workspace_root: Path, direction: str, paths: Iterable[str] = (), *,
         client: Any | None = None, on_file: Callable[[str], None] | None = None) -> SyncReport:
    """Copy the workspace (or ``paths`` under it) ``up`` to S3 or ``down`` from it; files whose
    checksums already match are skipped."""
    if direction not in ("up", "down"):
        raise ConfigError(f"sync direction {direction!r}: up or down")
    bucket = WorkspaceBucket(config, client)
    selected = [_relative(p) for p in paths]
    report = SyncReport(direction, bucket.url())
    try:
        with Transfers(bucket, config.transfer_concurrency) as transfers:
            remote: dict[str, str] = {}
            if direction == "up":
                local = _local_files(workspace_root, selected)
                for under in selected or [""]:
                    remote.update(bucket.remote_checksums(under))
                _upload_changed(transfers, local, remote, report, on_file)
                return report
            for under in selected or [""]:
                remote.update(bucket.remote_checksums(under))
            refused, doubled = _download_changed(transfers, workspace_root, remote, report, on_file)
            report.bytes_copied = sum((workspace_root / relative).stat().st_size for relative in report.copied)
            problems = [f"{len(keys)} key(s) {what}: {_shown_keys(keys)}" for keys, what in (
                (refused, "lead outside the workspace and were not downloaded"),
                (doubled, "name a file another key already fills and were not downloaded")) if keys]
            if problems:
                raise InputDataError(
                    f"s3://{bucket.bucket}: {'; '.join(problems)} ({len(report.copied)} other file(s) copied, "
                    f"{len(report.skipped)} unchanged)", hint="remove or rename those objects")
    except OSError as exc:
        raise FileSystemError(describe_os_error(exc, "cannot sync")) from exc
    return report


def _upload_changed(transfers: Transfers, local: dict[str, Path], remote: dict[str, str], report: SyncReport,
                    on_file: Callable[[str], None] | None) -> None:
    """Upload each local file whose MD5 the bucket does not have already; wait for them all."""
    for relative, path in sorted(local.items()):
        md5 = _md5(path)
        if remote.get(relative) == md5:
            report.skipped.append(relative)
            if on_file:
                on_file(relative)
        else:
            transfers.upload(path, relative, md5)
            report.copied.append(relative)
            report.bytes_copied += path.stat().st_size
    transfers.settle(on_file)


def _download_changed(transfers: Transfers, workspace_root: Path, remote: dict[str, str], report: SyncReport,
                      on_file: Callable[[str], None] | None) -> tuple[list[str], list[str]]:
    """Download each object whose MD5 the local file does not have already; wait for them all.
    The keys not downloaded: those that would land outside the workspace, and a second key naming
    a file another key already fills ("p/a/b" and "p/a/./b": downloads run at once, so two of them
    must never write the same file)."""
    bucket = transfers.bucket
    refused: list[str] = []
    doubled: list[str] = []
    claimed: set[Path] = set()
    for relative, md5 in sorted(remote.items()):
        if relative.endswith("/"):
            continue  # a folder marker (the S3 console's "create folder"), not a file
        try:
            path = contained_path(workspace_root, relative, what=f"{bucket.url(relative)}: workspace path")
        except KgqaError as exc:
            # The rest of the bucket is still worth having; the command fails at the end.
            log.warning("%s; not downloaded", exc)
            refused.append(bucket.key(relative))
            continue
        if _excluded(relative):
            continue
        if path in claimed:
            doubled.append(bucket.key(relative))
            continue
        claimed.add(path)
        if path.is_file() and _md5(path) == md5:
            report.skipped.append(relative)
            if on_file:
                on_file(relative)
        else:
            transfers.download(relative, path)
            report.copied.append(relative)
    transfers.settle(on_file)
    return refused, doubled
