"""`kgqa monitor schedule --target sagemaker [--delete]`: the monitor on an EventBridge Scheduler
schedule (boto3 ``scheduler``).

SageMaker Model Monitor schedules are closed to new customers, so the monitor is the Processing
job of `kgqa monitor run --target sagemaker`, wrapped in the one-step pipeline ``<prefix>-monitor``
(a pipeline gives every run its own execution, where a job would need a new name each time), and
an EventBridge Scheduler schedule starts that pipeline (the scheduler's SageMaker pipeline target,
with the window as pipeline parameters).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kgqa_cli.errors import ConfigError, MissingArtifactError

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig


def schedule_monitor(settings: KgqaConfig) -> dict:
    """Upsert the monitor pipeline, then create or update the schedule that starts it."""
    from kgqa_cli.aws.jobs import AwsContext
    from kgqa_cli.aws.pipelines import upsert

    schedule = settings.aws.schedule
    if not schedule.role_arn:
        raise ConfigError("aws.schedule.role_arn is not set",
                          hint="a role EventBridge Scheduler assumes, allowed sagemaker:StartPipelineExecution")
    pipeline = upsert(settings, "monitor")
    context = AwsContext(settings)
    scheduler = context.client("scheduler")
    request = {
        "Name": schedule.name, "ScheduleExpression": schedule.expression,
        "ScheduleExpressionTimezone": schedule.timezone, "FlexibleTimeWindow": {"Mode": "OFF"}, "State": "ENABLED",
        "Description": f"kgqa monitor run over the capture of {settings.aws.endpoint.name}",
        "Target": {
            "Arn": pipeline["arn"], "RoleArn": schedule.role_arn,
            "SageMakerPipelineParameters": {"PipelineParameterList": [
                {"Name": "StartOffset", "Value": settings.monitor.start_offset},
                {"Name": "EndOffset", "Value": settings.monitor.end_offset}]},
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
        },
    }
    exists = context.call("read the schedule", scheduler.get_schedule, missing=("ResourceNotFoundException",),
                          Name=schedule.name) is not None
    call = scheduler.update_schedule if exists else scheduler.create_schedule
    arn = context.call("update the schedule" if exists else "create the schedule", call, **request)["ScheduleArn"]
    return {"schedule": schedule.name, "arn": arn, "action": "updated" if exists else "created",
            "expression": schedule.expression, "pipeline": pipeline["arn"]}


def delete_schedule(settings: KgqaConfig) -> dict:
    """Delete the schedule (the monitor pipeline stays, for runs by hand)."""
    from kgqa_cli.aws.jobs import AwsContext

    context = AwsContext(settings, need_role=False)
    name = settings.aws.schedule.name
    if context.call("delete the schedule", context.client("scheduler").delete_schedule,
                    missing=("ResourceNotFoundException",), Name=name) is None:
        raise MissingArtifactError(f"no EventBridge Scheduler schedule named {name}")
    return {"schedule": name, "deleted": True}
