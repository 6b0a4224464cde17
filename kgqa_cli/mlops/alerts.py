"""Alerts to the team (the original system's AlertDevTeam step): a failed quality gate or a
model-quality violation is sent to every sink the config lists.

Sinks (section ``alerts``): an HTTP ``webhook`` (POST of the JSON body) and a shell ``command``
(the same JSON on its standard input); on AWS also the SNS topic ``aws.sns_topic_arn``. The body says what failed, the figures, the model version
and the report's path. Further sinks (the SNS topic on AWS) are handed in by the caller as
publishers, so this module needs no cloud client. Delivery is best effort: a sink that fails is logged, and never hides or
changes the exit code of the gate or monitor that raised the alert.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from kgqa_cli.mlops.config import AlertsConfig

log = logging.getLogger(__name__)

# A sink the caller adds: called with the alert's subject and body; raising means it failed.
Publisher = Callable[[str, dict], None]


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


def alert_on_failure(config: AlertsConfig, kind: str, exc: Exception, *,
                     publishers: Mapping[str, Publisher] | None = None, **details: Any) -> None:
    """Send the alert of a failed gate or monitor (``exc`` is its error), when sinks are set:
    the ``alerts`` section's, and every publisher the caller hands in (name -> publisher; on
    AWS the SNS topic, see ``kgqa_cli.aws.sns.alert_publishers``)."""
    body = alert_body(kind, str(exc), **details)
    if config.webhook or config.command:
        send_alert(config, body)
    for name, publish in (publishers or {}).items():
        try:
            publish(f"kgqa: {kind}", body)
            log.info("alert %s via %s: sent", kind, name)
        except Exception as exc_pub:  # best effort, as every sink: never hides the gate's own error
            log.warning("alert %s via %s failed: %s", kind, name, exc_pub)
