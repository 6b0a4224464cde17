"""Amazon Neptune: get-or-create the cluster, its instances and the loader role, and tear them
down (boto3 ``neptune`` and ``iam``); :mod:`kgqa_cli.aws.neptune_load` bulk-loads the graph.

What kgqa knows about the cluster is kept in ``<workspace>/graph/neptune.json``: its endpoint,
port, loader role and the loads done (by the content hash of the CSV files), so `kgqa bulkload
--target neptune` needs no URL in the config and a reload of the same graph is a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.errors import CloudError, ConfigError, MissingArtifactError

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig

STATE_FILE = "neptune.json"
LOADER_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def state_path(settings: KgqaConfig) -> Path:
    return settings.paths.graph_dir / STATE_FILE


def read_state(settings: KgqaConfig) -> dict:
    """What the workspace knows of the Neptune cluster ({} when nothing)."""
    path = state_path(settings)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc})", hint="delete it and run `kgqa graph create --target neptune`") \
            from exc


def state_or_assumed(settings: KgqaConfig) -> dict:
    """:func:`read_state`; in a plan, a cluster not made yet is assumed made (and said so)."""
    from kgqa_cli.aws import plan

    state = read_state(settings)
    if plan.active() is not None and not (state.get("endpoint") and state.get("loader_role_arn")):
        config = settings.aws.neptune
        plan.assume(f"the Neptune cluster {config.cluster_id} and its loader role, made by `kgqa graph create "
                    "--target neptune`")
        # A host name of the cluster endpoint's form, its generated part unknown until the cluster exists.
        endpoint = f"{config.cluster_id}.cluster-xxxxxxxxxxxx.{settings.aws.region or 'us-east-1'}.neptune.amazonaws.com"
        state = {**state, "endpoint": endpoint, "port": config.port,
                 "iam_auth": config.iam_auth, "loader_role_arn": f"<the ARN of the role {config.loader_role_name}>"}
    return state


def write_state(settings: KgqaConfig, state: dict) -> None:
    from kgqa_cli.aws.plan import active
    from kgqa_cli.io import write_json

    if active() is None:  # a plan changes nothing, here either
        write_json(state_path(settings), state)


def loader_policy(settings: KgqaConfig) -> dict[str, Any]:
    """Read access to the bulkload prefix of the workspace bucket, nothing else."""
    aws, folder = settings.aws, settings.paths.relative(settings.paths.bulkload_dir)
    prefix = f"{aws.prefix}/{folder}/" if aws.prefix else f"{folder}/"
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{aws.bucket}/{prefix}*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{aws.bucket}",
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}}},
    ]}


class Neptune:
    """The cluster of ``aws.neptune`` and the calls that make, describe and remove it."""

    def __init__(self, settings: KgqaConfig, on_status: Callable[[str], None] | None = None) -> None:
        from kgqa_cli.aws.jobs import AwsContext

        self.settings = settings
        self.config = settings.aws.neptune
        self.context = AwsContext(settings, need_role=False)
        self.neptune = self.context.client("neptune")
        self.iam = self.context.client("iam")
        self.say = on_status or (lambda message: None)

    def call(self, what: str, function: Callable, **kwargs: Any) -> Any:
        return self.context.call(what, function, **kwargs)

    # -- describing ------------------------------------------------------------------------------

    def cluster(self) -> dict | None:
        found = self.call("describe the cluster", self.neptune.describe_db_clusters, missing=("DBClusterNotFoundFault",),
                          DBClusterIdentifier=self.config.cluster_id)
        return found["DBClusters"][0] if found and found["DBClusters"] else None

    def instances(self) -> list[dict]:
        pages = self.neptune.get_paginator("describe_db_instances").paginate(Filters=self._cluster_filter())
        found = self.call("list the instances", lambda: [i for page in pages for i in page["DBInstances"]])
        return [i for i in found if i.get("DBClusterIdentifier") == self.config.cluster_id]

    def _cluster_filter(self) -> list[dict]:
        return [{"Name": "db-cluster-id", "Values": [self.config.cluster_id]}]

    def _wait_instances(self, waiter: str, names: list[str], what: str, poll: float) -> None:
        """boto3's Neptune waiter on each named instance, all within one ``aws.wait_timeout_minutes``.
        One instance at a time: a filtered listing that comes back empty never satisfies a waiter."""
        from kgqa_cli.aws.waiting import Deadline, wait_with_waiter

        deadline = Deadline(self.settings.aws.wait_timeout_minutes, what)
        for name in names:
            if deadline.remaining() <= 0:
                raise deadline.error()
            wait_with_waiter(self.neptune, waiter, what, deadline.remaining() / 60, poll,
                             hint="it goes on in Neptune; `kgqa graph create --target neptune` waits again "
                             "(it makes nothing that is there)", DBInstanceIdentifier=name)

    def role(self) -> dict | None:
        found = self.call("read the loader role", self.iam.get_role, missing=("NoSuchEntity",),
                          RoleName=self.config.loader_role_name)
        return found["Role"] if found else None

    # -- get or create ---------------------------------------------------------------------------

    def get_or_create(self, wait: bool = True) -> dict:
        """The cluster, its instances and the loader role: each created only when missing.
        Returns the state written to the workspace, with ``created`` listing what was made."""
        config = self.config
        created: list[str] = []
        tags = self.context.tags("neptune")
        role = self.role()
        if role is None:
            role = self.call("create the loader role", self.iam.create_role, RoleName=config.loader_role_name,
                             AssumeRolePolicyDocument=json.dumps(LOADER_TRUST),
                             Description="kgqa: Neptune's bulk loader reads the bulkload prefix", Tags=tags)["Role"]
            created.append(f"role {config.loader_role_name}")
            self.say(f"created the loader role {role['Arn']}")
        # The policy is put every time: the bucket or prefix may have changed (the call is idempotent).
        self.call("set the loader role's policy", self.iam.put_role_policy, RoleName=config.loader_role_name,
                  PolicyName="kgqa-bulkload-read", PolicyDocument=json.dumps(loader_policy(self.settings)))
        cluster = self.cluster()
        if cluster is None:
            request = {"DBClusterIdentifier": config.cluster_id, "Engine": "neptune", "Port": config.port,
                       "EnableIAMDatabaseAuthentication": config.iam_auth, "StorageEncrypted": True, "Tags": tags}
            if config.engine_version:
                request["EngineVersion"] = config.engine_version
            if config.subnet_group:
                request["DBSubnetGroupName"] = config.subnet_group
            if config.security_group_ids:
                request["VpcSecurityGroupIds"] = config.security_group_ids
            cluster = self.call("create the cluster", self.neptune.create_db_cluster, **request)["DBCluster"]
            created.append(f"cluster {config.cluster_id}")
            self.say(f"creating the cluster {config.cluster_id}")
        present = {i["DBInstanceIdentifier"] for i in self.instances()}
        for number in range(1, config.instance_count + 1):
            name = f"{config.cluster_id}-{number}"
            if name not in present:
                self.call("create an instance", self.neptune.create_db_instance, DBInstanceIdentifier=name,
                          DBInstanceClass=config.instance_class, Engine="neptune",
                          DBClusterIdentifier=config.cluster_id, Tags=tags)
                created.append(f"instance {name}")
                self.say(f"creating the instance {name} ({config.instance_class})")
        if wait:
            cluster = self.wait_available()
        roles = {r["RoleArn"] for r in cluster.get("AssociatedRoles", [])}
        if role["Arn"] not in roles:
            self.call("add the loader role to the cluster", self.neptune.add_role_to_db_cluster,
                      DBClusterIdentifier=config.cluster_id, RoleArn=role["Arn"])
            created.append("the role's association with the cluster")
            self.say("added the loader role to the cluster")
        previous = read_state(self.settings)
        state = {
            "cluster": config.cluster_id, "endpoint": cluster.get("Endpoint"),
            "reader_endpoint": cluster.get("ReaderEndpoint"), "port": cluster.get("Port", config.port),
            "iam_auth": cluster.get("IAMDatabaseAuthenticationEnabled", config.iam_auth),
            "region": self.context.region, "loader_role_arn": role["Arn"],
            "instances": sorted({i["DBInstanceIdentifier"] for i in self.instances()}),
            "loads": previous.get("loads", {}) if previous.get("cluster") == config.cluster_id else {},
        }
        write_state(self.settings, state)
        return {**state, "created": created, "status": cluster.get("Status")}

    def wait_available(self, poll_seconds: float | None = None) -> dict:
        """Wait until every instance (boto3's ``db_instance_available`` waiter) and the cluster
        are available, at most ``aws.wait_timeout_minutes``; the cluster's description."""
        from kgqa_cli.aws.plan import active
        from kgqa_cli.aws.waiting import Deadline

        if active() is not None:  # a plan does not wait
            return self.cluster() or {}
        poll = poll_seconds if poll_seconds is not None else self.config.poll_seconds
        what = f"the Neptune cluster {self.config.cluster_id}"
        deadline = Deadline(self.settings.aws.wait_timeout_minutes, what)
        last = None
        while True:
            cluster = self.cluster()
            if cluster is None:
                raise CloudError(f"the Neptune cluster {self.config.cluster_id} disappeared while waiting for it")
            statuses = {self.config.cluster_id: cluster.get("Status")}
            statuses.update({i["DBInstanceIdentifier"]: i.get("DBInstanceStatus") for i in self.instances()})
            shown = ", ".join(f"{name} {status}" for name, status in sorted(statuses.items()))
            if shown != last:
                self.say(shown)
                last = shown
            failed = [n for n, s in statuses.items() if s in ("failed", "incompatible-parameters", "storage-full")]
            if failed:
                raise CloudError(f"Neptune: {', '.join(failed)} failed ({shown})")
            if all(status == "available" for status in statuses.values()):
                return cluster
            waiting = [name for name, status in statuses.items() if name != self.config.cluster_id and status != "available"]
            if waiting:
                self._wait_instances("db_instance_available", waiting, f"the instances of {what}", poll)
            else:
                deadline.sleep(poll)  # instances up, the cluster still settling: no waiter for clusters

    # -- teardown --------------------------------------------------------------------------------

    def delete(self) -> dict:
        """Delete the instances (waiting until they are gone: a cluster with instances cannot be
        deleted), the cluster (no final snapshot; its role associations go with it) and the
        loader role."""
        config = self.config
        removed = []
        for instance in self.instances():
            if instance.get("DBInstanceStatus") != "deleting":
                self.call("delete an instance", self.neptune.delete_db_instance,
                          DBInstanceIdentifier=instance["DBInstanceIdentifier"], SkipFinalSnapshot=True)
            removed.append(f"instance {instance['DBInstanceIdentifier']}")
        from kgqa_cli.aws.plan import active

        if removed and active() is None:
            names = [name.split()[-1] for name in removed]
            self.say(", ".join(f"{name} deleting" for name in names))
            self._wait_instances("db_instance_deleted", names,
                                 f"the instances of the Neptune cluster {config.cluster_id} to go", self.config.poll_seconds)
        if self.cluster() is not None:
            self.call("delete the cluster", self.neptune.delete_db_cluster, DBClusterIdentifier=config.cluster_id,
                      SkipFinalSnapshot=True)
            removed.append(f"cluster {config.cluster_id}")
        if self.role() is not None:
            self.call("remove the loader role's policy", self.iam.delete_role_policy, missing=("NoSuchEntity",),
                      RoleName=config.loader_role_name, PolicyName="kgqa-bulkload-read")
            self.call("delete the loader role", self.iam.delete_role, RoleName=config.loader_role_name)
            removed.append(f"role {config.loader_role_name}")
        state_path(self.settings).unlink(missing_ok=True)
        return {"cluster": config.cluster_id, "removed": removed}


# -- queries over the cluster -------------------------------------------------------------------

def use_cluster(settings: KgqaConfig) -> None:
    """Point ``settings.graph`` at the workspace's Neptune cluster: wss:// on its endpoint, signed
    with SigV4 when the cluster uses IAM authentication (`ask` and `graph` with --target neptune)."""
    state = read_state(settings)
    if not state.get("endpoint"):
        raise MissingArtifactError(f"{state_path(settings)}: no Neptune cluster known to this workspace",
                                   hint="run `kgqa graph create --target neptune` first")
    settings.graph.url = f"wss://{state['endpoint']}:{state.get('port', 8182)}/gremlin"
    settings.graph.sigv4 = bool(state.get("iam_auth"))
