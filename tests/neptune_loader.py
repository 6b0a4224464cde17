"""A stand-in for Neptune's bulk-loader HTTP API, for the tests (moto has no ``neptunedata``).

It answers ``POST /loader`` and ``GET /loader/<loadId>`` as Neptune does (the shapes boto3's
``neptunedata`` client sends and parses), reads the CSV files under the ``source`` prefix from the
moto S3 bucket, and loads them into a gremlite file through kgqa's own loader. Each file is a
feed: a malformed row fails its feed (``failOnError`` stops the load there), and ``mode=RESUME``
skips the feeds a previous load of the same source completed. Loads run in a thread, so a client
sees ``LOAD_IN_PROGRESS`` before the end.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse


class LoaderStandIn:
    """Start with ``with LoaderStandIn(graph_file, s3_client) as loader:``; ``loader.url`` is
    what ``aws.neptune.loader_url`` takes."""

    def __init__(self, graph_file: Path, s3: object, step_seconds: float = 0.2) -> None:
        self.graph_file, self.s3, self.step_seconds = Path(graph_file), s3, step_seconds
        self.jobs: dict[str, dict] = {}
        self.done_feeds: dict[str, set[str]] = {}  # source -> files loaded completely
        self.requests: list[dict] = []
        self.arrivals: list[float] = []  # time.time() of each start request
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                if urlparse(self.path).path != "/loader":
                    return self._answer(404, {"code": "NotFound", "message": self.path})
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                stand_in.arrivals.append(time.time())
                stand_in.requests.append(body)
                missing = [k for k in ("source", "format", "region", "iamRoleArn") if k not in body]
                if missing or body["format"] != "csv":
                    return self._answer(400, {"code": "BadRequestException",
                                              "message": f"missing {missing} or format not csv"})
                return self._answer(200, {"status": "200 OK", "payload": {"loadId": stand_in.start(body)}})

            def do_GET(self) -> None:  # noqa: N802
                parsed = urlparse(self.path)
                load_id = parsed.path.rsplit("/", 1)[-1]
                job = stand_in.jobs.get(load_id)
                if not parsed.path.startswith("/loader/") or job is None:
                    return self._answer(404, {"code": "LoadNotFoundException", "message": load_id})
                query = parse_qs(parsed.query)
                with stand_in.lock:
                    payload = {"overallStatus": dict(job["overall"]), "failedFeeds": list(job["failed_feeds"])}
                    if query.get("errors", ["false"])[0].lower() == "true":
                        payload["errors"] = {"startIndex": 1, "endIndex": len(job["errors"]), "loadId": load_id,
                                             "errorLogs": list(job["errors"])}
                return self._answer(200, {"status": "200 OK", "payload": payload})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> LoaderStandIn:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the loads ---------------------------------------------------------------------------------

    def start(self, request: dict) -> str:
        load_id = str(uuid.uuid4())
        self.jobs[load_id] = {"overall": {"fullUri": request["source"], "runNumber": 1, "retryNumber": 0,
                                          "status": "LOAD_NOT_STARTED", "totalTimeSpent": 0,
                                          "startTime": int(time.time()), "totalRecords": 0, "totalDuplicates": 0,
                                          "parsingErrors": 0, "datatypeMismatchErrors": 0, "insertErrors": 0},
                              "failed_feeds": [], "errors": []}
        threading.Thread(target=self._run, args=(load_id, request), daemon=True).start()
        return load_id

    def _set(self, load_id: str, **overall: object) -> None:
        with self.lock:
            self.jobs[load_id]["overall"].update(overall)

    def _run(self, load_id: str, request: dict) -> None:
        from kgqa_cli.graph.config import GraphConfig
        from kgqa_cli.graph.load import load_graph_data
        from kgqa_cli.graph.model import GraphData
        from kgqa_cli.graph.neptune_csv import CsvRowError, read_edges_csv, read_vertices_csv
        from kgqa_cli.graph.store import open_graph
        from kgqa_cli.workspace import Workspace

        job = self.jobs[load_id]
        source = request["source"]
        bucket, _, prefix = source.removeprefix("s3://").partition("/")
        time.sleep(self.step_seconds)
        self._set(load_id, status="LOAD_IN_PROGRESS")
        time.sleep(self.step_seconds)
        keys = sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))
        done = self.done_feeds.setdefault(source, set()) if request.get("mode") == "RESUME" else set()
        if request.get("mode") != "RESUME":
            self.done_feeds[source] = done
        # Vertex files first: edges name their endpoints.
        feeds = sorted(keys, key=lambda key: ("edge" in key.rsplit("/", 1)[-1], key))
        data = GraphData()
        loaded_feeds = []
        failed = False
        for key in feeds:
            text = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
            name = key.rsplit("/", 1)[-1]
            try:
                if "edge" in name:
                    records = read_edges_csv(text, f"s3://{bucket}/{key}")
                    if key not in done:
                        data.edges.update((e.uid, e) for e in records)
                else:
                    records = read_vertices_csv(text, f"s3://{bucket}/{key}")
                    data.vertices.update((v.uid, v) for v in records)  # a resumed load needs the ids again
            except CsvRowError as exc:
                with self.lock:
                    job["overall"]["parsingErrors"] += 1
                    job["errors"].append({"errorCode": "PARSING_ERROR", "errorMessage": str(exc),
                                          "fileName": f"s3://{bucket}/{key}", "recordNum": exc.line - 1})
                    job["failed_feeds"].append({"fullUri": f"s3://{bucket}/{key}", "status": "LOAD_FAILED"})
                failed = True
                if request.get("failOnError", True):
                    break
                continue
            if key not in done:
                loaded_feeds.append(key)
        with open_graph(GraphConfig(path=self.graph_file), Workspace(self.graph_file.parent)) as store:
            counts, _ = load_graph_data(store, data, 1000, loader="direct")
        self.done_feeds[source] = done | set(loaded_feeds)
        added = counts.vertices_added + sum(counts.edges_added.values())
        duplicates = counts.vertices_existing + sum(counts.edges_existing.values())
        stop = failed and request.get("failOnError", True)
        self._set(load_id, totalRecords=added + duplicates, totalDuplicates=duplicates,
                  totalTimeSpent=int(time.time()) - job["overall"]["startTime"],
                  status="LOAD_FAILED" if stop else "LOAD_COMPLETED")
