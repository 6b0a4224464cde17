"""`kgqa bulkload --target neptune`: the graph's Neptune CSV files uploaded under
``bulkload/<content hash>/`` and loaded by Neptune's bulk loader (boto3 ``neptunedata``) into the
cluster of :mod:`kgqa_cli.aws.neptune`, followed to its end. The loads done are kept, by content
hash, in the workspace's ``graph/neptune.json``: the same graph again is not reloaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.aws.neptune import state_or_assumed, state_path, write_state
from kgqa_cli.errors import GraphError, MissingArtifactError

if TYPE_CHECKING:
    from kgqa_cli.aws.jobs import AwsContext
    from kgqa_cli.settings import KgqaConfig

RUNNING = ("LOAD_NOT_STARTED", "LOAD_IN_QUEUE", "LOAD_IN_PROGRESS")
DONE = "LOAD_COMPLETED"


class NeptuneLoadError(GraphError):
    """A bulk load that ended other than completed; ``details`` is the load's result, counts and
    status included (`kgqa bulkload --json` prints it)."""

    def __init__(self, message: str, *, hint: str | None = None, details: dict[str, Any]) -> None:
        super().__init__(message, hint=hint)
        self.details = details


def csv_files(settings: KgqaConfig, input_path: Path | None) -> tuple[dict[str, bytes], dict]:
    """The Neptune CSVs of the input (written under <workspace>/bulkload/ as a local load does)
    and a summary of what they hold."""
    from kgqa_cli.errors import InputDataError
    from kgqa_cli.graph.bulkload import input_file, read_graph_data
    from kgqa_cli.graph.neptune_csv import write_neptune_csv
    from kgqa_cli.graph.reviews import reviews_file

    path = input_file(settings.graph, settings.paths, input_path)
    data = read_graph_data(settings.graph, path, reviews_file(settings.paths))  # people's verdicts too
    if not data.edges:
        raise InputDataError(f"{path}: no triples to load ({data.triples_read} read)")
    written = write_neptune_csv(data, settings.paths.bulkload_dir)
    files = {name: written[name].read_bytes() for name in ("vertices", "edges")}
    return files, {"input": str(path), "vertices": len(data.vertices), "edges": len(data.edges),
                   "triples_read": data.triples_read}


def content_hash(files: dict[str, bytes]) -> str:
    """Sixteen hex digits naming the files' content: the load's folder and its key in the state."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()[:16]


def loader_client(settings: KgqaConfig, state: dict) -> Any:
    """A boto3 ``neptunedata`` client on the cluster's loader endpoint (or ``aws.neptune.loader_url``)."""
    from kgqa_cli.aws.s3 import aws_session

    url = settings.aws.neptune.loader_url or f"https://{state['endpoint']}:{state.get('port', 8182)}"
    session = aws_session(settings.aws.region or state.get("region"))
    return session.client("neptunedata", endpoint_url=url)


def bulkload_neptune(settings: KgqaConfig, input_path: Path | None, *, resume: bool = False,
                     on_status: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Write and upload the CSVs under ``bulkload/<content hash>/``, start Neptune's loader on
    them and poll it to a terminal status. A graph already loaded is not loaded again;
    ``resume`` continues the last load of this content (the loader's RESUME mode)."""
    from kgqa_cli.aws.jobs import AwsContext

    state = state_or_assumed(settings)
    if not state.get("endpoint") and not settings.aws.neptune.loader_url:
        raise MissingArtifactError(f"{state_path(settings)}: no Neptune cluster known to this workspace",
                                   hint="run `kgqa graph create --target neptune` first")
    if not state.get("loader_role_arn"):
        raise MissingArtifactError("no loader role known to this workspace",
                                   hint="run `kgqa graph create --target neptune` first")
    files, summary = csv_files(settings, input_path)
    digest = content_hash(files)
    loads = state.setdefault("loads", {})
    previous = loads.get(digest, {})
    if previous.get("status") == DONE and not resume:
        return {**summary, "hash": digest, "load_id": previous.get("load_id"), "status": DONE, "skipped": True,
                "counts": previous.get("counts", {})}
    context = AwsContext(settings, need_role=False)
    source = _upload_csv(settings, context, files, digest)
    config = settings.aws.neptune
    mode = "RESUME" if resume else config.mode
    client = loader_client(settings, state)
    started = context.call("start the Neptune loader", client.start_loader_job,
                           source=source, format="csv", s3BucketRegion=context.region,
                           iamRoleArn=state["loader_role_arn"], mode=mode, failOnError=config.fail_on_error,
                           parallelism=config.parallelism,
                           updateSingleCardinalityProperties=config.update_single_cardinality_properties)
    load_id = started["payload"]["loadId"]
    loads[digest] = {"load_id": load_id, "status": "LOAD_IN_QUEUE", "source": source}
    write_state(settings, state)  # an interrupted wait can be resumed: the load id is kept
    status = wait_for_load(context, client, load_id, config.poll_seconds, on_status)
    overall = status.get("overallStatus", {})
    counts = {key: overall.get(key, 0) for key in ("totalRecords", "totalDuplicates", "parsingErrors",
                                                  "datatypeMismatchErrors", "insertErrors")}
    loads[digest] = {**loads[digest], "status": overall.get("status"), "counts": counts}
    write_state(settings, state)
    result = {**summary, "hash": digest, "load_id": load_id, "mode": mode, "source": source,
              "status": overall.get("status"), "counts": counts, "skipped": False}
    if overall.get("status") != DONE:
        logs = (status.get("errors") or {}).get("errorLogs") or []
        first = "; ".join(f"{e.get('errorCode')}: {e.get('errorMessage')} ({e.get('fileName')}:{e.get('recordNum')})"
                          for e in logs[:3])
        raise NeptuneLoadError(f"Neptune load {load_id} ended {overall.get('status')}: "
                               + (first or "no error log given"),
                               hint="fix the input and load again, or continue with `kgqa bulkload --target neptune "
                               "--resume`", details=result)
    return result


def _upload_csv(settings: KgqaConfig, context: AwsContext, files: dict[str, bytes], digest: str) -> str:
    """The CSV files under ``bulkload/<digest>/`` (those already there with the same MD5 left);
    the folder's URL, the loader's source."""
    folder = f"{settings.paths.relative(settings.paths.bulkload_dir)}/{digest}"
    present = context.bucket.remote_checksums(folder)
    for name, data in files.items():
        relative = f"{folder}/{name}.csv"
        if present.get(relative) != hashlib.md5(data, usedforsecurity=False).hexdigest():
            context.put_bytes(relative, data)
    return context.url(folder) + "/"


def wait_for_load(context: AwsContext, client: Any, load_id: str, poll_seconds: float,
                  on_status: Callable[[dict], None] | None = None) -> dict:
    """Poll ``get_loader_job_status`` until the load leaves the running states, at most
    ``aws.wait_timeout_minutes``; its payload."""
    from kgqa_cli.aws.plan import active
    from kgqa_cli.aws.waiting import Deadline

    if active() is not None:  # a plan does not wait: it shows the load as it would end
        return {"overallStatus": {"status": DONE}}
    deadline = Deadline(context.aws.wait_timeout_minutes, f"the Neptune load {load_id}",
                        hint=f"it goes on in Neptune; the loader's /loader/{load_id} shows it")
    while True:
        answer = context.call("read the load's status", client.get_loader_job_status, loadId=load_id,
                              details=True, errors=True)
        payload = answer.get("payload") or {}
        if on_status:
            on_status(payload.get("overallStatus", {}))
        if payload.get("overallStatus", {}).get("status") not in RUNNING:
            return payload
        deadline.sleep(poll_seconds)
