"""Alerts to the team (the original system's AlertDevTeam step): a failed quality gate or a
model-quality violation is sent to every sink the config lists.

Sinks (section ``alerts``): an HTTP ``webhook`` (POST of the JSON body) and a shell ``command``
(the same JSON on its standard input); on AWS also the SNS topic ``aws.sns_topic_arn``. The body says what failed, the figures, the model version
and the report's path. Delivery is best effort: a sink that fails is logged, and never hides or
changes the exit code of the gate or monitor that raised the alert.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

from pydantic import Field

from kgqa_cli.config import StrictModel

log = logging.getLogger(__name__)


class AlertsConfig(StrictModel):
    """Section ``alerts``: where failed gates and monitor violations are sent."""

    webhook: str | None = Field(None, description="URL that gets an HTTP POST of the alert's JSON; null: none")
    command: str | None = Field(None, description="shell command that gets the alert's JSON on stdin; null: none")
    timeout_seconds: float = Field(10.0, gt=0, le=300, description="per sink")


def alert_body(kind: str, summary: str, *, model_version: str | None = None, figures: dict | None = None,
               report: str | None = None) -> dict:
    """The JSON an alert carries."""
    return {
        "source": "kgqa", "kind": kind, "summary": summary, "model_version": model_version,
        "figures": figures or {}, "report": report, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def send_alert(config: AlertsConfig, body: dict) -> dict[str, str]:
    """Deliver ``body`` to every configured sink; returns sink -> "sent" or the failure. Never raises."""
    outcome: dict[str, str] = {}
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    if config.webhook:
        request = urllib.request.Request(config.webhook, data=data, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "kgqa-alert"})
        try:
            with urllib.request.urlopen(request, timeout=config.timeout_seconds) as response:
                outcome["webhook"] = f"sent (HTTP {response.status})"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            outcome["webhook"] = f"failed: {exc}"
    if config.command:
        try:
            done = subprocess.run(config.command, shell=True, input=data, capture_output=True,
                                  timeout=config.timeout_seconds, check=False)
            outcome["command"] = "sent" if done.returncode == 0 else (
                f"failed: exit {done.returncode}: {done.stderr.decode(errors='replace').strip()[:200]}")
        except (OSError, subprocess.SubprocessError) as exc:
            outcome["command"] = f"failed: {exc}"
    for sink, result in outcome.items():
        if result.startswith("failed"):
            log.warning("alert %s via %s %s", body.get("kind"), sink, result)
        else:
            log.info("alert %s via %s: %s", body.get("kind"), sink, result)
    return outcome


def alert_on_failure(config: Any, kind: str, exc: Exception, *, aws: Any = None, **details: Any) -> None:
    """Send the alert of a failed gate or monitor (``exc`` is its error), when sinks are set:
    the ``alerts`` section's, and the SNS topic ``aws.sns_topic_arn`` when ``aws`` has one."""
    body = alert_body(kind, str(exc), **details)
    if config.webhook or config.command:
        send_alert(config, body)
    if aws is not None and aws.sns_topic_arn:
        try:
            from kgqa_cli.aws.sns import publish_alert

            publish_alert(aws.sns_topic_arn, aws.region, f"kgqa: {kind}", body)
            log.info("alert %s via SNS %s: sent", kind, aws.sns_topic_arn)
        except Exception as exc_sns:  # best effort, as every sink: never hides the gate's own error
            log.warning("alert %s via SNS %s failed: %s", kind, aws.sns_topic_arn, exc_sns)
