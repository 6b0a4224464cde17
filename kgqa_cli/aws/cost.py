"""What a planned run would cost: instance type x instances x expected minutes x hourly price.

Jobs bill per second from start to end, endpoints and Neptune instances every hour they run.
The expected minutes are what each stage took on the demo workspace plus the few minutes of
instance and image start-up that dominate small jobs; the prices are on-demand prices in
us-east-1 (``aws.hourly_prices`` overrides or adds types: take them from your region's list).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kgqa_cli.aws.config import AwsConfig

# USD an hour, on demand, us-east-1: SageMaker training/processing/transform/hosting, Neptune.
HOURLY_PRICES = {
    "ml.t3.medium": 0.05, "ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922, "ml.c5.xlarge": 0.204, "ml.c5.2xlarge": 0.408, "ml.g4dn.xlarge": 0.736,
    "ml.g5.xlarge": 1.408, "ml.p3.2xlarge": 3.825,
    "db.r6g.large": 0.359, "db.r6g.xlarge": 0.718, "db.r5.large": 0.348, "db.t4g.medium": 0.078,
}
# Minutes a job of each stage is expected to run, start-up included (the demo workspace).
EXPECTED_MINUTES = {"preprocess": 5, "evaluate": 6, "train-kg": 15, "train-qa": 12, "transform": 8,
                    "monitor": 6, "questions": 5, "bulkload": 5}


def price(aws: AwsConfig | None, instance_type: str) -> float | None:
    """USD an hour of one instance, or None when unknown."""
    return (getattr(aws, "hourly_prices", None) or {}).get(instance_type, HOURLY_PRICES.get(instance_type))


def job(aws: AwsConfig | None, stage: str, instance_type: str, count: int = 1,
        minutes: float | None = None) -> dict:
    """One job's line: it bills ``count`` instances for its expected minutes."""
    minutes = minutes if minutes is not None else EXPECTED_MINUTES[stage]
    hourly = price(aws, instance_type)
    return {"what": stage, "instance_type": instance_type, "instances": count, "minutes": minutes,
            "usd_per_hour": hourly, "usd": None if hourly is None else round(hourly * count * minutes / 60, 4)}


def hourly(aws: AwsConfig | None, what: str, instance_type: str, count: int) -> dict:
    """A line for something that bills while it runs (an endpoint, a Neptune instance)."""
    each = price(aws, instance_type)
    return {"what": what, "instance_type": instance_type, "instances": count, "per": "hour",
            "usd_per_hour": None if each is None else round(each * count, 4)}


def total(lines: list[dict]) -> dict:
    """The lines and their sums: once for jobs, per hour for what keeps running."""
    once = [line for line in lines if line.get("per") != "hour"]
    running = [line for line in lines if line.get("per") == "hour"]
    unknown = sorted({line["instance_type"] for line in lines if line.get("usd_per_hour") is None})
    return {"lines": lines, "usd_once": round(sum(line["usd"] or 0 for line in once), 2),
            "usd_per_hour_running": round(sum(line["usd_per_hour"] or 0 for line in running), 3),
            "unknown_prices": unknown}


def summary(cost: dict) -> str:
    """One line: ``cost: about USD 0.06 once (...), USD 0.115 an hour while running (...)``."""
    parts = []
    once = [line for line in cost["lines"] if line.get("per") != "hour"]
    if once:
        shown = "; ".join(f"{line['what']} {line['instance_type']} x{line['instances']} ~{line['minutes']:g} min"
                          for line in once)
        parts.append(f"about USD {cost['usd_once']:.2f} once ({shown})")
    running = [line for line in cost["lines"] if line.get("per") == "hour"]
    if running:
        shown = "; ".join(f"{line['what']} {line['instance_type']} x{line['instances']}" for line in running)
        parts.append(f"USD {cost['usd_per_hour_running']:.3f} an hour while it runs ({shown})")
    if cost["unknown_prices"]:
        parts.append(f"no price known for {', '.join(cost['unknown_prices'])} (set aws.hourly_prices)")
    return "cost: " + (", ".join(parts) if parts else "nothing billed by the hour or the job")
