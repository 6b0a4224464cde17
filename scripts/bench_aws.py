"""AWS-path benchmark against a moto server it starts on 127.0.0.1; writes bench/aws.json.

* ``help_seconds``: `kgqa --help` and `kgqa train --help` wall times with the AWS extra
  installed (boto3 must stay off the start-up path; target 0.3 s);
* ``train_submit_seconds``: from `kgqa train kg --target sagemaker` starting to the training job
  being submitted (packing, upload, create call), on the `make all` workspace's demo corpus,
  first run (inputs and source uploaded) and second run (nothing to upload);
* ``pipeline_seconds``: `kgqa pipeline build kg` (offline) and `kgqa pipeline upsert kg`
  (source, config and inputs uploaded, pipeline created) against the moto server;
* ``neptune_bulkload``: from `kgqa bulkload --target neptune` starting to the load being
  submitted to the loader (tests/neptune_loader.py, the stand-in for Neptune's loader API), and
  to the end of the load, for the demo graph (the `make all` workspace's extracted triples);
* ``sync``: `kgqa sync up` of the `make all` workspace (benchmarks left out, as sync leaves them)
  into an empty bucket, then again with nothing changed (every file skipped by its MD5), and
  `kgqa sync down` into an empty folder; files, bytes and seconds.

Usage: python scripts/bench_aws.py [--workspace DIR] [--only sync]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KGQA = [str(Path(sys.executable).with_name("kgqa"))]


def timed(command: list[str], env: dict | None = None, rounds: int = 5) -> float:
    """Median wall time of a command, in seconds."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def neptune_bulkload(env: dict, scratch: Path, triples: Path) -> dict:
    """`kgqa graph create` against moto, then `kgqa bulkload --target neptune` against the
    loader stand-in: seconds to the load submitted, and to its end."""
    import boto3

    sys.path.insert(0, str(REPO / "tests"))
    from neptune_loader import LoaderStandIn

    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    options = ["--workspace", str(scratch), "--aws.bucket", "kgqa-bench", "--target", "neptune",
               "--aws.neptune.iam_auth", "false", "--aws.neptune.poll_seconds", "0.2"]  # moto: no IAM auth flag
    subprocess.run([*KGQA, "graph", "create", *options], check=True, capture_output=True, env=env)
    with LoaderStandIn(scratch / "neptune-standin.db", s3, step_seconds=0.0) as loader:
        started = time.time()
        done = subprocess.run([*KGQA, "bulkload", str(triples), "--json", *options, "--aws.neptune.loader_url",
                               loader.url], check=True, capture_output=True, text=True, env=env)
        ended = time.time()
    report = json.loads(done.stdout)
    return {"to_submitted_seconds": round(loader.arrivals[0] - started, 2), "to_loaded_seconds": round(ended - started, 2),
            "vertices": report["vertices"], "edges": report["edges"], "status": report["status"]}


def sync_figures(env: dict, workspace: Path, scratch: Path) -> dict:
    """`kgqa sync up` twice (into an empty bucket, then unchanged) and `kgqa sync down` once."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket="kgqa-sync")
    options = ["--aws.bucket", "kgqa-sync", "--json"]
    rows = {}
    for label, direction, root in (("up, empty bucket", "up", workspace), ("up again, unchanged", "up", workspace),
                                   ("down, empty folder", "down", scratch)):
        started = time.perf_counter()
        done = subprocess.run([*KGQA, "sync", direction, "--workspace", str(root), *options], check=True,
                              capture_output=True, text=True, env=env)
        report = json.loads(done.stdout)
        rows[label] = {"seconds": round(time.perf_counter() - started, 2), "copied": report["copied"],
                       "unchanged": report["unchanged"], "bytes_copied": report["bytes_copied"]}
    shutil.rmtree(scratch, ignore_errors=True)
    return rows


def moto(port: int) -> subprocess.Popen:
    """A moto server on 127.0.0.1:port, answering."""
    server = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def aws_env(port: int) -> dict:
    return {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO / "workspace")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "aws.json")
    parser.add_argument("--only", choices=["sync"], help="measure only this")
    args = parser.parse_args()
    if args.only == "sync":
        port = free_port()
        server = moto(port)
        try:
            result = {"sync": sync_figures(aws_env(port), args.workspace, args.workspace / "bench" / "aws" / "down")}
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    result: dict = {"help_seconds": {"kgqa --help": timed([*KGQA, "--help"]),
                                     "kgqa train --help": timed([*KGQA, "train", "--help"])}}
    corpus = args.workspace / "data" / "corpus"
    if not (corpus / "train.jsonl").exists():
        result["train_submit_seconds"] = f"skipped: no {corpus} (run `make all` first)"
    else:
        scratch = args.workspace / "bench" / "aws" / "ws"
        shutil.rmtree(scratch.parent, ignore_errors=True)
        shutil.copytree(corpus, scratch / "data" / "corpus")
        port = free_port()
        server = moto(port)
        env = aws_env(port)
        try:
            import boto3

            boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket="kgqa-bench")
            command = [*KGQA, "train", "kg", "--target", "sagemaker", "--json", "--workspace", str(scratch),
                       "--aws.bucket", "kgqa-bench", "--aws.role_arn", "arn:aws:iam::123456789012:role/kgqa"]
            runs = []
            for _ in range(2):
                started = time.perf_counter()
                done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
                report = json.loads(done.stdout)
                runs.append({"seconds": round(time.perf_counter() - started, 2),
                             "inputs_uploaded": report["inputs_uploaded"], "job": report["job_name"]})
            result["train_submit_seconds"] = runs
            raw = args.workspace / "data" / "raw" / "demo"
            if raw.is_dir():
                shutil.copytree(raw, scratch / "data" / "raw" / "demo")
                pipeline = ["--workspace", str(scratch), "--aws.bucket", "kgqa-bench", "--aws.role_arn",
                            "arn:aws:iam::123456789012:role/kgqa", "--preprocess.input", str(scratch / "data/raw/demo"),
                            "--kg.extract.input", str(scratch / "data/raw/demo/duie_train.json")]
                result["pipeline_seconds"] = {
                    "build kg (no AWS)": timed([*KGQA, "pipeline", "build", "kg", *pipeline], env=env, rounds=3),
                    "upsert kg (first: create)": timed([*KGQA, "pipeline", "upsert", "kg", *pipeline], env=env, rounds=1),
                    "upsert kg (again: update)": timed([*KGQA, "pipeline", "upsert", "kg", *pipeline], env=env, rounds=3),
                }
            triples = args.workspace / "extract" / "triples.jsonl"
            if triples.exists():
                result["neptune_bulkload"] = neptune_bulkload(env, scratch, triples)
            result["sync"] = sync_figures(env, args.workspace, scratch.parent / "down")
        finally:
            server.terminate()
            server.wait(timeout=30)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
