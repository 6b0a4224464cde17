"""Alerts on the SNS topic ``aws.sns_topic_arn`` (failed gates, monitor violations)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kgqa_cli.aws.config import AwsConfig


def publish_alert(topic: str, region: str | None, subject: str, body: dict) -> None:
    """One SNS message: the alert's JSON, under a subject SNS accepts (under 100 characters)."""
    from kgqa_cli.aws.s3 import aws_session

    aws_session(region).client("sns").publish(
        TopicArn=topic, Subject=subject[:99], Message=json.dumps(body, ensure_ascii=False, indent=1))


def alert_publishers(aws: AwsConfig) -> dict:
    """The alert publishers of the ``aws`` section: the SNS topic ``aws.sns_topic_arn`` when one
    is set (name -> publisher, as ``kgqa_cli.mlops.alerts.alert_on_failure`` takes them)."""
    if not aws.sns_topic_arn:
        return {}
    topic, region = aws.sns_topic_arn, aws.region

    def publish(subject: str, body: dict) -> None:
        publish_alert(topic, region, subject, body)

    return {f"SNS {topic}": publish}
