"""Rendering shared by the `--target sagemaker` commands: following a job, printing what was submitted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig


@contextmanager
def following(what: str, enabled: bool) -> Iterator[tuple[Any, Any]]:
    """``(on_status, on_log)`` for a job being followed: a spinner with the job's status on
    stderr, each status change and CloudWatch log line printed above it; ``(None, None)`` when
    not enabled (``--json``)."""
    if not enabled:
        yield None, None
        return
    from kgqa_cli.ui import stderr

    with stderr.status(f"{what}: starting") as spinner:
        def on_status(state: str, detail: str) -> None:
            shown = f"{state} {detail}" if detail and detail != state else state
            spinner.update(f"{what}: {shown}")
            stderr.print(f"  {shown}", markup=False, highlight=False)

        def on_log(line: str) -> None:
            stderr.print(f"  | {line}", markup=False, highlight=False)

        yield on_status, on_log


def print_submitted(kind: str, result: dict, wait: bool) -> None:
    """One line for a submitted job (and how to follow it), one more when it was waited for."""
    from kgqa_cli.ui import stdout

    stdout.print(f"submitted SageMaker {kind} job {result['job_name']} ({result['image']})", highlight=False)
    if wait:
        stdout.print(f"{result['job_name']}: {result['status']}", highlight=False)
    else:
        stdout.print(f"follow it: aws sagemaker describe-{kind}-job --{kind}-job-name {result['job_name']}",
                     highlight=False)


def show_plan(settings: KgqaConfig, json_output: bool, make: Any) -> None:
    """Run ``make()`` in plan mode and print the plan: the requests it would send (in order),
    what they would create, change or delete, the cost estimate and what the plan assumed."""
    from kgqa_cli.aws.cost import summary
    from kgqa_cli.aws.plan import planning, resource_name
    from kgqa_cli.ui import print_json, stdout

    with planning(settings.aws) as planner:
        make()
    report = planner.report()
    if json_output:
        print_json(report)
        return
    stdout.print(f"plan: {len(report['requests'])} request(s) would be sent (none was)", highlight=False)
    for request in report["requests"]:
        stdout.print(f"  {request['service']} {request['operation']} {resource_name(request)}", highlight=False)
        definition = request["params"].get("PipelineDefinition")
        if isinstance(definition, dict):
            from kgqa_cli.aws.pipeline_definitions import layout

            stdout.print(f"    definition: {layout(definition)}", highlight=False)
    if report["resources"]:
        stdout.print("would:", highlight=False)
        for row in report["resources"]:
            stdout.print(f"  {row['effect']} {row['name'] or row['operation']} ({row['service']} {row['operation']})",
                         highlight=False)
    for assumption in report["assumed"]:
        stdout.print(f"assumes {assumption}", highlight=False)
    for note in report["notes"]:
        stdout.print(f"note: {note}", highlight=False)
    stdout.print(summary(report["cost"]), highlight=False)
    stdout.print("--plan --json prints every request in full", highlight=False)

