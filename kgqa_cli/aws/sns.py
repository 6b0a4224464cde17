"""Alerts on the SNS topic ``aws.sns_topic_arn`` (failed gates, monitor violations)."""

from __future__ import annotations

import json


def publish_alert(topic: str, region: str | None, subject: str, body: dict) -> None:
    """One SNS message: the alert's JSON, under a subject SNS accepts (under 100 characters)."""
    from kgqa_cli.aws.s3 import aws_session

    aws_session(region).client("sns").publish(
        TopicArn=topic, Subject=subject[:99], Message=json.dumps(body, ensure_ascii=False, indent=1))
