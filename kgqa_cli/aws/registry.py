"""The model registry on SageMaker: model package groups ``<aws.package_group_prefix>-kg`` and
``-qa``, whose package versions mirror the local ``kg/vN``, ``qa/vN`` (boto3).

Listing, showing, approving and rejecting map onto ``list_model_packages``,
``describe_model_package`` and ``update_model_package``; a model trained by a SageMaker job is
registered with ``create_model_package`` (its model data URL, its image, kgqa's metadata), pending
approval, as locally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kgqa_cli.errors import CloudError, ConfigError, MissingArtifactError

if TYPE_CHECKING:
    from kgqa_cli.aws.config import AwsConfig

STATUSES = ("PendingManualApproval", "Approved", "Rejected")


class SageMakerRegistry:
    """Model package groups of one kgqa installation."""

    def __init__(self, aws: AwsConfig, client: Any | None = None) -> None:
        from kgqa_cli.aws.s3 import aws_session

        self.prefix = aws.package_group_prefix
        self.client = client or aws_session(aws.region).client("sagemaker")

    @staticmethod
    def group_name(aws: AwsConfig, kind: str) -> str:
        """The package group of a model kind (``kgqa-qa``) under the config's prefix."""
        return f"{aws.package_group_prefix}-{kind}"

    def group(self, kind: str) -> str:
        """The package group of a model kind (``kgqa-qa``)."""
        return f"{self.prefix}-{kind}"

    def _call(self, what: str, function: Any, **kwargs: Any) -> Any:
        from kgqa_cli.aws.s3 import aws_call

        return aws_call("SageMaker model registry", what, function, **kwargs)

    def versions(self, kind: str) -> list[dict]:
        """Every package of the kind's group, oldest first, as ``registry list`` rows."""
        from botocore.exceptions import ClientError

        from kgqa_cli.aws.s3 import paginated

        try:
            packages = paginated(self.client, "list_model_packages", "ModelPackageSummaryList",
                                 ModelPackageGroupName=self.group(kind), SortBy="CreationTime", SortOrder="Ascending")
        except ClientError as exc:
            if "does not exist" in str(exc) or "ValidationException" in str(exc):
                return []
            raise CloudError(f"SageMaker refused to list {self.group(kind)}: {exc}") from exc
        return [{"name": f"{kind}/v{package['ModelPackageVersion']}", "group": kind,
                 "version": package["ModelPackageVersion"], "status": package["ModelApprovalStatus"],
                 "created": str(package.get("CreationTime", "")), "arn": package["ModelPackageArn"]}
                for package in packages]

    def find(self, name: str) -> dict:
        """The package of ``kind/vN``."""
        kind, _, number = name.partition("/")
        if kind not in ("kg", "qa") or not number.lstrip("v").isdigit():
            raise ConfigError(f"model version {name!r}: name it as GROUP/VERSION, e.g. qa/v1")
        for row in self.versions(kind):
            if row["version"] == int(number.lstrip("v")):
                return row
        from kgqa_cli.aws import plan

        if plan.active() is not None:  # the plan cannot read the registry: it assumes the version is there
            plan.assume(f"{name} in {self.group(kind)}, pending approval")
            return {"name": name, "group": kind, "version": int(number.lstrip("v")), "status": "PendingManualApproval",
                    "created": "", "arn": f"<the package {self.group(kind)}/{number.lstrip('v')}>"}
        raise MissingArtifactError(f"{name} is not in the SageMaker model package group {self.group(kind)}")

    def show(self, name: str) -> dict:
        row = self.find(name)
        package = self._call("describe the package", self.client.describe_model_package, ModelPackageName=row["arn"])
        return {key: (str(value) if key.endswith("Time") else value) for key, value in package.items()
                if key != "ResponseMetadata"}

    def set_status(self, name: str, status: str, reason: str | None = None) -> dict:
        if status not in STATUSES:
            raise ConfigError(f"approval status {status!r} is not one of {', '.join(STATUSES)}")
        row = self.find(name)
        kwargs = {"ModelPackageArn": row["arn"], "ModelApprovalStatus": status}
        if reason:
            kwargs["ApprovalDescription"] = reason[:1024]
        self._call("update the package", self.client.update_model_package, **kwargs)
        return {**row, "previous": row["status"], "status": status}

    def register(self, kind: str, model_data_url: str, image: str, metadata: dict[str, str]) -> dict:
        """A new package version for a model in S3, pending approval (the group made if missing)."""
        from kgqa_cli.aws.s3 import paginated

        groups = self._call("list the groups", paginated, client=self.client, operation="list_model_package_groups",
                            result_key="ModelPackageGroupSummaryList", NameContains=self.group(kind))
        if not any(g["ModelPackageGroupName"] == self.group(kind) for g in groups):
            self._call("create the group", self.client.create_model_package_group,
                       ModelPackageGroupName=self.group(kind),
                       ModelPackageGroupDescription=f"kgqa {kind} models")
        created = self._call("create the package", self.client.create_model_package,
                             ModelPackageGroupName=self.group(kind), ModelApprovalStatus="PendingManualApproval",
                             InferenceSpecification={
                                 "Containers": [{"Image": image, "ModelDataUrl": model_data_url}],
                                 "SupportedContentTypes": ["application/json", "text/plain"],
                                 "SupportedResponseMIMETypes": ["application/json"],
                             },
                             CustomerMetadataProperties={k: str(v)[:256] for k, v in metadata.items() if v})
        return {"arn": created["ModelPackageArn"], "group": self.group(kind)}
