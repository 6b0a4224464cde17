"""Roles kgqa makes for the AWS services that act for it (trigger targets, the API's function)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kgqa_cli.aws.jobs import AwsContext


def ensure_role(context: AwsContext, name: str, service: str, statements: list[dict], changes: list[str],
                description: str, stage: str) -> str:
    """The role ``name``, trusted by ``service``, whose inline policy ``kgqa`` holds exactly
    ``statements``: made or brought in line only when it differs (``changes`` says what); its ARN."""
    iam = context.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    found = context.call("read a role", iam.get_role, missing=("NoSuchEntity",), RoleName=name)
    role = found["Role"] if found else None
    if role is None:
        role = context.call("create a role", iam.create_role, RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                            Description=description, Tags=context.tags(stage))["Role"]
        changes.append(f"role {name}")
    policy = {"Version": "2012-10-17", "Statement": statements}
    found = context.call("read a role's policy", iam.get_role_policy, missing=("NoSuchEntity",), RoleName=name,
                         PolicyName="kgqa")
    current = found["PolicyDocument"] if found else None
    current = json.loads(current) if isinstance(current, str) else current
    if current != policy:
        context.call("set a role's policy", iam.put_role_policy, RoleName=name, PolicyName="kgqa",
                     PolicyDocument=json.dumps(policy))
        changes.append(f"policy of {name}")
    return role["Arn"]
