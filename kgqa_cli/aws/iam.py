"""Roles kgqa makes for the AWS services that act for it (trigger targets, the API's function)."""

from __future__ import annotations

import json
from typing import Any

from kgqa_cli.errors import CloudError


def ensure_role(context: Any, name: str, service: str, statements: list[dict], changes: list[str],
                description: str, stage: str) -> str:
    """The role ``name``, trusted by ``service``, whose inline policy ``kgqa`` holds exactly
    ``statements``: made or brought in line only when it differs (``changes`` says what); its ARN."""
    from botocore.exceptions import ClientError

    iam = context.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise CloudError(f"IAM refused to read the role {name}: {exc}") from exc
        role = context.call("create a role", iam.create_role, RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                            Description=description, Tags=context.tags(stage))["Role"]
        changes.append(f"role {name}")
    policy = {"Version": "2012-10-17", "Statement": statements}
    try:
        current = iam.get_role_policy(RoleName=name, PolicyName="kgqa")["PolicyDocument"]
        current = json.loads(current) if isinstance(current, str) else current
    except ClientError:
        current = None
    if current != policy:
        context.call("set a role's policy", iam.put_role_policy, RoleName=name, PolicyName="kgqa",
                     PolicyDocument=json.dumps(policy))
        changes.append(f"policy of {name}")
    return role["Arn"]
