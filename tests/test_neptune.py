"""Amazon Neptune: the cluster, instances and loader role against the moto server, and
`kgqa bulkload --target neptune` against a stand-in for the loader's HTTP API (tests/neptune_loader.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from neptune_loader import LoaderStandIn

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]


def clients(moto_server, *services):
    import boto3

    common = {"endpoint_url": moto_server["AWS_ENDPOINT_URL"], "region_name": "us-east-1",
              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return [boto3.client(service, **common) for service in services]


def run(moto_server, workspace, *args, stdin: str | None = None):
    return subprocess.run([*KGQA, *args, "--workspace", str(workspace)], capture_output=True, text=True,
                          input=stdin, timeout=300, env={**os.environ, **moto_server})


def test_neptune_csv_reads_back_what_it_writes():
    from conftest import film_records

    from kgqa_cli.data.records import Record
    from kgqa_cli.graph.model import build_graph_data
    from kgqa_cli.graph.neptune_csv import (
        CsvRowError,
        edges_csv,
        read_edges_csv,
        read_vertices_csv,
        vertices_csv,
    )

    data = build_graph_data([Record.parse(r) for r in film_records(20)], source="films")
    assert read_vertices_csv(vertices_csv(data)) == data.sorted_vertices()
    assert read_edges_csv(edges_csv(data)) == data.sorted_edges()
    lines = edges_csv(data).split("\r\n")
    broken = "\r\n".join([*lines[:2], "not,enough", *lines[2:]])  # line 3 of the file
    with pytest.raises(CsvRowError) as error:
        read_edges_csv(broken, "edges.csv")
    assert error.value.line == 3 and str(error.value).startswith("edges.csv:3: ")


def test_graph_create_gets_or_creates_and_delete_tears_down(moto_server, tmp_path):
    neptune, iam, s3 = clients(moto_server, "neptune", "iam", "s3")
    s3.create_bucket(Bucket="kgqa-neptune-create")
    # moto refuses EnableIAMDatabaseAuthentication on any engine but Aurora: the flag is sent off here.
    options = ["--target", "neptune", "--aws.bucket", "kgqa-neptune-create", "--aws.neptune.cluster_id",
               "kgqa-create-test", "--aws.neptune.loader_role_name", "kgqa-loader-create-test",
               "--aws.neptune.instance_class", "db.r6g.xlarge", "--aws.neptune.poll_seconds", "0.1",
               "--aws.neptune.iam_auth", "false"]
    workspace = tmp_path / "ws"
    first = run(moto_server, workspace, "graph", "create", "--json", *options)
    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)
    assert created["created"] == ["role kgqa-loader-create-test", "cluster kgqa-create-test",
                                  "instance kgqa-create-test-1", "instance kgqa-create-test-2",
                                  "the role's association with the cluster"]
    cluster = neptune.describe_db_clusters(DBClusterIdentifier="kgqa-create-test")["DBClusters"][0]
    assert cluster["IAMDatabaseAuthenticationEnabled"] is False and cluster["Engine"] == "neptune"
    role = iam.get_role(RoleName="kgqa-loader-create-test")["Role"]
    assert [r["RoleArn"] for r in cluster["AssociatedRoles"]] == [role["Arn"]]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "rds.amazonaws.com"}
    policy = iam.get_role_policy(RoleName="kgqa-loader-create-test", PolicyName="kgqa-bulkload-read")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    assert policy["Statement"][0] == {"Effect": "Allow", "Action": "s3:GetObject",
                                      "Resource": "arn:aws:s3:::kgqa-neptune-create/kgqa/bulkload/*"}
    instances = neptune.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": ["kgqa-create-test"]}])
    assert sorted((i["DBInstanceIdentifier"], i["DBInstanceClass"]) for i in instances["DBInstances"]) == [
        ("kgqa-create-test-1", "db.r6g.xlarge"), ("kgqa-create-test-2", "db.r6g.xlarge")]
    state = json.loads((workspace / "graph" / "neptune.json").read_text())
    assert state["endpoint"] == cluster["Endpoint"] and state["loader_role_arn"] == role["Arn"]
    # A rerun changes nothing and says so.
    again = run(moto_server, workspace, "graph", "create", *options)
    assert again.returncode == 0 and "nothing to change" in again.stdout
    # delete asks first; no means no.
    kept = run(moto_server, workspace, "graph", "delete", *options, stdin="n\n")
    assert kept.returncode == 1 and neptune.describe_db_clusters(DBClusterIdentifier="kgqa-create-test")["DBClusters"]
    gone = run(moto_server, workspace, "graph", "delete", "--yes", "--json", *options)
    assert gone.returncode == 0, gone.stderr
    assert "cluster kgqa-create-test" in json.loads(gone.stdout)["removed"]
    assert not [c for c in neptune.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == "kgqa-create-test"]
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"] == "kgqa-loader-create-test"]
    assert not (workspace / "graph" / "neptune.json").exists()
    local = run(moto_server, workspace, "graph", "create")
    assert local.returncode == 2 and "--target neptune" in local.stderr


@pytest.mark.slow
def test_bulkload_to_neptune_through_the_loader(moto_server, tiny_qa, tmp_path, monkeypatch):
    (s3,) = clients(moto_server, "s3")
    s3.create_bucket(Bucket="kgqa-neptune-load")
    workspace = tmp_path / "ws"
    corpus = tiny_qa.paths.root.parent / "raw" / "duie_train.json"
    graph_file = tmp_path / "neptune-standin.db"
    options = ["--target", "neptune", "--aws.bucket", "kgqa-neptune-load", "--aws.neptune.cluster_id",
               "kgqa-load-test", "--aws.neptune.loader_role_name", "kgqa-loader-load-test",
               "--aws.neptune.poll_seconds", "0.1", "--aws.neptune.iam_auth", "false"]
    no_cluster = run(moto_server, workspace, "bulkload", str(corpus), *options)
    assert no_cluster.returncode == 4 and "kgqa graph create --target neptune" in no_cluster.stderr
    assert run(moto_server, workspace, "graph", "create", *options).returncode == 0
    with LoaderStandIn(graph_file, s3) as loader:
        load = [*options, "--aws.neptune.loader_url", loader.url]
        done = run(moto_server, workspace, "bulkload", str(corpus), "--json", *load)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["status"] == "LOAD_COMPLETED" and result["skipped"] is False
        assert result["counts"]["totalRecords"] == result["vertices"] + result["edges"]
        request = loader.requests[-1]
        role = json.loads((workspace / "graph" / "neptune.json").read_text())["loader_role_arn"]
        assert request == {"source": f"s3://kgqa-neptune-load/kgqa/bulkload/{result['hash']}/", "format": "csv",
                           "region": "us-east-1", "iamRoleArn": role, "mode": "AUTO", "failOnError": True,
                           "parallelism": "HIGH", "updateSingleCardinalityProperties": False}
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="kgqa-neptune-load")["Contents"]}
        assert {f"kgqa/bulkload/{result['hash']}/vertices.csv", f"kgqa/bulkload/{result['hash']}/edges.csv"} <= keys
        # What the loader loaded answers through kgqa's traversals.
        facts = run(moto_server, workspace, "graph", "--about", "三度诱惑", "--json", "--graph.path", str(graph_file))
        assert facts.returncode == 0, facts.stderr
        assert {"subject": "三度诱惑", "predicate": "导演", "object": "何藩"} in [
            {k: f[k] for k in ("subject", "predicate", "object")} for f in json.loads(facts.stdout)["about"]["三度诱惑"]]
        # The same graph again: a no-op, no new load.
        again = run(moto_server, workspace, "bulkload", str(corpus), *load)
        assert again.returncode == 0 and "already loaded" in again.stdout and len(loader.requests) == 1

        # A failing feed: a malformed row in a file of the load's folder fails the load ...
        more = tmp_path / "more.jsonl"
        more.write_text(corpus.read_text(encoding="utf-8") + json.dumps({"text": "何藩是香港导演", "spo_list": [{
            "subject": "何藩", "predicate": "国籍", "object": {"@value": "中国"}, "subject_type": "人物",
            "object_type": {"@value": "国家"}}]}, ensure_ascii=False) + "\n", encoding="utf-8")
        for key, value in moto_server.items():
            monkeypatch.setenv(key, value)
        from kgqa_cli.aws.neptune_load import content_hash, csv_files
        from kgqa_cli.settings import load_settings

        settings = load_settings(None, {"workspace": str(tmp_path / "scratch")})
        digest = content_hash(csv_files(settings, more)[0])
        bad_key = f"kgqa/bulkload/{digest}/a-edges.csv"
        s3.put_object(Bucket="kgqa-neptune-load", Key=bad_key, Body=b"~id,~from\r\nonly,two\r\n")
        failed = run(moto_server, workspace, "bulkload", str(more), *load)
        assert failed.returncode == 6, failed.stderr
        assert "LOAD_FAILED" in failed.stderr and "PARSING_ERROR" in failed.stderr and "a-edges.csv" in failed.stderr
        # ... and once it is fixed, --resume continues that load (RESUME mode) to the end.
        s3.delete_object(Bucket="kgqa-neptune-load", Key=bad_key)
        resumed = run(moto_server, workspace, "bulkload", str(more), "--resume", "--json", *load)
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout)["status"] == "LOAD_COMPLETED" and loader.requests[-1]["mode"] == "RESUME"
        facts = run(moto_server, workspace, "graph", "--about", "何藩", "--json", "--graph.path", str(graph_file))
        assert "中国" in {f["object"] for f in json.loads(facts.stdout)["about"]["何藩"]}
    assert Path(graph_file).exists()


def test_the_pipelines_bulkload_step_loads_the_transform_output(moto_server, tmp_path):
    """The kg pipeline's NeptuneBulkload step, run as its container runs it: the Processing entry's
    neptune-load task on the transform's output and the state RetrieveOrCreateNeptuneDB left."""
    from conftest import film_records, write_lines

    (s3,) = clients(moto_server, "s3")
    s3.create_bucket(Bucket="kgqa-neptune-step")
    options = ["--target", "neptune", "--aws.bucket", "kgqa-neptune-step", "--aws.neptune.cluster_id",
               "kgqa-step-test", "--aws.neptune.loader_role_name", "kgqa-loader-step-test",
               "--aws.neptune.poll_seconds", "0.1", "--aws.neptune.iam_auth", "false"]
    local = tmp_path / "local"
    assert run(moto_server, local, "graph", "create", *options).returncode == 0
    root = tmp_path / "opt-ml-processing"
    (root / "workspace" / "graph").mkdir(parents=True)
    (root / "workspace" / "graph" / "neptune.json").write_bytes((local / "graph" / "neptune.json").read_bytes())
    records = [{"text": r["text"], "spo_list": r["spo_list"]} for r in film_records(4)]
    write_lines(root / "workspace" / "extract" / "transform" / "exec-1" / "input.txt.out",
                [*records, {"text": None, "error": "line 9: invalid JSON"}])
    graph_file = tmp_path / "neptune-standin.db"
    with LoaderStandIn(graph_file, s3) as loader:
        config = {"aws": {"bucket": "kgqa-neptune-step", "region": "us-east-1",
                          "neptune": {"loader_url": loader.url, "poll_seconds": 0.1}}}
        (root / "input" / "config").mkdir(parents=True)
        (root / "input" / "config" / "kgqa.json").write_text(json.dumps(config), encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "kgqa_cli.entrypoints.processing", "--root", str(root),
                               "--region", "us-east-1", "neptune-load"], capture_output=True, text=True, timeout=300,
                              env={**os.environ, **moto_server})
        assert done.returncode == 0, done.stderr
        assert "LOAD_COMPLETED" in done.stdout and len(loader.requests) == 1
    facts = run(moto_server, local, "graph", "--about", "第2号电影", "--json", "--graph.path", str(graph_file))
    assert [f["object"] for f in json.loads(facts.stdout)["about"]["第2号电影"]] == ["导演甲2"]


def test_queries_reach_the_cluster_over_wss_signed_with_sigv4(moto_server, tiny_qa, tmp_path, monkeypatch):
    """`ask` and `graph` with --target neptune go to the cluster the workspace knows, over wss://,
    with the handshake signed for neptune-db (no Neptune here: the signature, and the URL named
    when the server cannot be reached)."""
    from qa_fixtures import copy_workspace

    from kgqa_cli.graph.sigv4 import gremlin_headers

    for key, value in moto_server.items():
        monkeypatch.setenv(key, value)
    headers = gremlin_headers("wss://kgqa.cluster-x.us-east-1.neptune.amazonaws.com:8182/gremlin", "us-east-1")
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/us-east-1/neptune-db/aws4_request" in headers["Authorization"] and "X-Amz-Date" in headers
    assert headers["Host"] == "kgqa.cluster-x.us-east-1.neptune.amazonaws.com:8182"
    workspace = copy_workspace(tiny_qa, tmp_path).paths.root
    unknown = run(moto_server, workspace, "ask", "三度诱惑的导演是谁", "--target", "neptune")
    assert unknown.returncode == 4 and "kgqa graph create --target neptune" in unknown.stderr
    (workspace / "graph" / "neptune.json").write_text(json.dumps({"endpoint": "127.0.0.1", "port": 9,
                                                                 "iam_auth": True}), encoding="utf-8")
    for command in (["ask", "三度诱惑的导演是谁"], ["graph"]):
        unreachable = run(moto_server, workspace, *command, "--target", "neptune")
        assert unreachable.returncode == 6, unreachable.stderr
        assert "wss://127.0.0.1:9/gremlin" in unreachable.stderr
