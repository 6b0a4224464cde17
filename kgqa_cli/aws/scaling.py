"""An endpoint that holds its load: Application Auto Scaling on the variant (a target-tracking
policy on SageMakerVariantInvocationsPerInstance) and CloudWatch alarms on its 5xx rate and its
model latency that notify the alerts topic. `kgqa deploy --target sagemaker` sets them up and
``--delete`` takes them down with the endpoint.

Scaling is registered on an InService endpoint only; while an endpoint updates, SageMaker holds
its scaling anyway, so kgqa takes the variant off scaling before an update and puts it back after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kgqa_cli.aws.config import EndpointConfig
    from kgqa_cli.aws.jobs import AwsContext

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def resource_id(endpoint: EndpointConfig) -> str:
    """Application Auto Scaling's name of the endpoint's variant."""
    return f"endpoint/{endpoint.name}/variant/{endpoint.variant_name}"


def policy_name(endpoint: EndpointConfig) -> str:
    return f"{endpoint.name}-invocations-per-instance"


def alarm_names(endpoint: EndpointConfig) -> dict[str, str]:
    """The two alarms of the variant, by what they watch."""
    stem = f"{endpoint.name}-{endpoint.variant_name}"
    return {"errors": f"{stem}-5xx-rate", "latency": f"{stem}-model-latency-p99"}


def scaling_requests(endpoint: EndpointConfig) -> tuple[dict, dict]:
    """``register_scalable_target`` and ``put_scaling_policy``'s arguments."""
    scaling = endpoint.autoscaling
    target = {"ServiceNamespace": NAMESPACE, "ResourceId": resource_id(endpoint), "ScalableDimension": DIMENSION,
              "MinCapacity": scaling.min_instances, "MaxCapacity": scaling.max_instances}
    policy = {
        "PolicyName": policy_name(endpoint), "ServiceNamespace": NAMESPACE, "ResourceId": resource_id(endpoint),
        "ScalableDimension": DIMENSION, "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": scaling.target_invocations_per_minute,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleInCooldown": scaling.scale_in_cooldown_seconds,
            "ScaleOutCooldown": scaling.scale_out_cooldown_seconds,
        },
    }
    return target, policy


def alarm_requests(endpoint: EndpointConfig, topic_arn: str | None, tags: list[dict]) -> list[dict]:
    """``put_metric_alarm``'s arguments for the 5xx-rate and the p99 model-latency alarm."""
    alarms = endpoint.alarms
    names = alarm_names(endpoint)
    dimensions = [{"Name": "EndpointName", "Value": endpoint.name}, {"Name": "VariantName", "Value": endpoint.variant_name}]
    actions = {"AlarmActions": [topic_arn], "OKActions": [topic_arn]} if topic_arn else {}
    common = {"ComparisonOperator": "GreaterThanThreshold", "EvaluationPeriods": alarms.evaluation_periods,
              "DatapointsToAlarm": alarms.datapoints_to_alarm, "TreatMissingData": "notBreaching",
              "ActionsEnabled": bool(topic_arn), "Tags": tags, **actions}

    def stat(metric: str) -> dict:
        return {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": dimensions},
                "Period": alarms.period_seconds, "Stat": "Sum"}

    errors = {
        "AlarmName": names["errors"],
        "AlarmDescription": f"kgqa: more than {alarms.error_rate_percent:g} % of {endpoint.name}'s answers are 5xx",
        "Metrics": [
            {"Id": "errors", "MetricStat": stat("Invocation5XXErrors"), "ReturnData": False},
            {"Id": "invocations", "MetricStat": stat("Invocations"), "ReturnData": False},
            # No invocations: no rate (IF keeps the division from running on zero).
            {"Id": "rate", "Expression": "IF(invocations > 0, 100 * errors / invocations, 0)",
             "Label": "5xx share of invocations (%)", "ReturnData": True},
        ],
        "Threshold": alarms.error_rate_percent, **common,
    }
    latency = {
        "AlarmName": names["latency"],
        "AlarmDescription": f"kgqa: {endpoint.name}'s p99 model latency is above {alarms.latency_p99_ms:g} ms",
        "Namespace": "AWS/SageMaker", "MetricName": "ModelLatency", "Dimensions": dimensions,
        "ExtendedStatistic": "p99", "Period": alarms.period_seconds, "Unit": "Microseconds",
        "Threshold": alarms.latency_p99_ms * 1000,  # ModelLatency is in microseconds
        **common,
    }
    return [errors, latency]


def registered(context: AwsContext, endpoint: EndpointConfig) -> bool:
    """Whether the variant is a scalable target now."""
    found = context.call("read the variant's scaling", context.client("application-autoscaling").describe_scalable_targets,
                         ServiceNamespace=NAMESPACE, ResourceIds=[resource_id(endpoint)], ScalableDimension=DIMENSION)
    return bool(found.get("ScalableTargets"))


def apply_scaling(context: AwsContext, endpoint: EndpointConfig) -> dict:
    """Register the variant with its bounds and put the target-tracking policy (both idempotent)."""
    client = context.client("application-autoscaling")
    target, policy = scaling_requests(endpoint)
    context.call("register the variant for autoscaling", client.register_scalable_target, **target)
    context.call("put the scaling policy", client.put_scaling_policy, **policy)
    return {"min": target["MinCapacity"], "max": target["MaxCapacity"], "policy": policy["PolicyName"],
            "target_invocations_per_minute": policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]}


def remove_scaling(context: AwsContext, endpoint: EndpointConfig) -> bool:
    """Take the variant off autoscaling (its policy first); whether it was on."""
    if not registered(context, endpoint):
        return False
    client = context.client("application-autoscaling")
    context.call("delete the scaling policy", client.delete_scaling_policy, missing=("ObjectNotFoundException",),
                 PolicyName=policy_name(endpoint), ServiceNamespace=NAMESPACE, ResourceId=resource_id(endpoint),
                 ScalableDimension=DIMENSION)
    context.call("deregister the variant from autoscaling", client.deregister_scalable_target,
                 missing=("ObjectNotFoundException",), ServiceNamespace=NAMESPACE, ResourceId=resource_id(endpoint),
                 ScalableDimension=DIMENSION)
    return True


def apply_alarms(context: AwsContext, endpoint: EndpointConfig) -> list[str]:
    """Put both alarms (a put replaces one of the same name); their names."""
    cloudwatch = context.client("cloudwatch")
    requests = alarm_requests(endpoint, context.aws.sns_topic_arn, context.tags("deploy"))
    for request in requests:
        context.call("put an alarm", cloudwatch.put_metric_alarm, **request)
    return [request["AlarmName"] for request in requests]


def remove_alarms(context: AwsContext, endpoint: EndpointConfig) -> list[str]:
    """Delete the variant's alarms that exist; their names."""
    cloudwatch = context.client("cloudwatch")
    names = list(alarm_names(endpoint).values())
    found = context.call("read the alarms", cloudwatch.describe_alarms, AlarmNames=names).get("MetricAlarms", [])
    present = [alarm["AlarmName"] for alarm in found]
    if present:
        context.call("delete the alarms", cloudwatch.delete_alarms, AlarmNames=present)
    return present
