"""`kgqa deploy`: serve the approved question model as an HTTP endpoint with data capture."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from kgqa_cli.cli._util import (
    OVERRIDES,
    ConfigOption,
    JsonOption,
    PlanOption,
    Target,
    TargetOption,
    VerboseOption,
    WaitOption,
    app,
    reject_plan,
    reject_wait,
    start,
)

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig


@app.command(**OVERRIDES)
def deploy(
    ctx: typer.Context,
    model: Annotated[
        str | None, typer.Option("--model", help="qa version to serve (3, v3, qa/v3) \\[default: newest Approved]",
                                 show_default=False),
    ] = None,
    allow_unapproved: Annotated[
        bool, typer.Option("--allow-unapproved", help="Serve a version not approved yet (development only).")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Interface to bind; another than loopback only when named.")] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, envvar="SAGEMAKER_BIND_TO_PORT",
                                 help="Port \\[default: SAGEMAKER_BIND_TO_PORT, else serve.port (8080)]", show_default=False),
    ] = None,
    target: TargetOption = Target.local,
    wait: WaitOption = False,
    delete: Annotated[bool, typer.Option("--delete", help="sagemaker: delete the endpoint, its configs and models")] = False,
    api: Annotated[bool, typer.Option("--api", help="sagemaker: also the public API (HTTP API -> Lambda -> the "
                                      "endpoint for intent and slots -> Neptune), created or updated")] = False,
    plan: PlanOption = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Serve the newest Approved qa model: POST /invocations, GET /ping, the chat page at /.

    Every sampled request is captured in SageMaker's format under <workspace>/datacapture.
    SIGTERM (or Ctrl-C) finishes the requests in flight and writes the capture, then exits 0.
    With --target sagemaker: a SageMaker model (the newest Approved qa package, the graph and the
    config in its archive), an endpoint config capturing aws.endpoint.capture_percentage % of the
    traffic to s3://bucket/prefix/datacapture, and the endpoint aws.endpoint.name, created or
    updated in place; --wait until it is InService; --delete removes it.
    Example: kgqa deploy --port 8080, then curl -d '{"question": "三度诱惑的导演是谁"}'
    -H 'Content-Type: application/json' http://127.0.0.1:8080/invocations
    """
    settings = start(ctx, config, verbose)
    if target is Target.sagemaker:
        if plan:
            from kgqa_cli.cli._aws import show_plan

            show_plan(settings, json_output, lambda: _planned_deploy(settings, model, host, port, allow_unapproved,
                                                                     delete, api))
            return
        _deploy_sagemaker(settings, model, host, port, allow_unapproved, wait, delete, json_output, api)
        return
    reject_wait(wait)
    reject_plan(plan)
    if delete or json_output or api:
        from kgqa_cli.errors import ConfigError

        raise ConfigError("--delete, --api and --json apply to --target sagemaker; stop a local endpoint with Ctrl-C")
    _serve_locally(settings, model, allow_unapproved, host, port)


def _serve_locally(settings: KgqaConfig, model: str | None, allow_unapproved: bool, host: str,
                   port: int | None) -> None:
    """Serve the version here until SIGTERM or Ctrl-C; what can fail is checked before the model loads."""
    from kgqa_cli.graph.graph_file import check_graph_file, graph_file
    from kgqa_cli.mlops.registry import Registry
    from kgqa_cli.serving.app import listen, serve
    from kgqa_cli.serving.capture import capture_destination, capture_root
    from kgqa_cli.ui import stderr

    version = Registry(settings.paths.registry_dir).approved("qa", model, allow_unapproved=allow_unapproved)
    if settings.graph.url is None:
        check_graph_file(graph_file(settings.graph, settings.paths))  # fail now, not after the model loads
    chosen = port if port is not None else settings.serve.port
    capture = settings.serve.capture
    where = capture_destination(settings) if capture.enabled else None
    if where is not None:
        from kgqa_cli.workspace import ensure_writable

        ensure_writable([capture_root(settings)])  # exit 7 now, not a server that drops every record
    listening = listen(host, chosen)  # an address in use fails here, before the model loads
    try:
        bound = listening.getsockname()[1]  # the real port when 0 asked for any free one
        stderr.print(
            f"serving {version.name} ({version.status}) on http://{host}:{bound}  page: /  "
            + (f"capture: {where}/{capture.endpoint_name}/{capture.variant_name} ({capture.sampling_percentage:g} %)"
               if where else "capture: off")
        )
        serve(settings, version, host=host, port=bound, listening=listening)
    finally:
        listening.close()


def _planned_deploy(settings: KgqaConfig, model: str | None, host: str, port: int | None, allow_unapproved: bool,
                    delete: bool, api: bool) -> None:
    """What `deploy --target sagemaker` does, without its printing: the body of its plan."""
    from kgqa_cli.aws.endpoint import check_target_options, delete_endpoint, deploy_on_sagemaker

    check_target_options(host, port, allow_unapproved)
    if delete:
        delete_endpoint(settings)
        return
    deploy_on_sagemaker(settings, model, understand=api)
    if api:
        from kgqa_cli.aws.api import deploy_api

        deploy_api(settings)


def _deploy_sagemaker(settings: KgqaConfig, model: str | None, host: str, port: int | None, allow_unapproved: bool,
                      wait: bool, delete: bool, json_output: bool, api: bool = False) -> None:
    """`deploy --target sagemaker`: the endpoint (and with ``api`` the public API) made or
    updated, or with ``delete`` removed; what was done printed."""
    from kgqa_cli.aws.endpoint import check_target_options, delete_endpoint, deploy_on_sagemaker
    from kgqa_cli.cli._aws import following
    from kgqa_cli.ui import print_json, stdout

    check_target_options(host, port, allow_unapproved)
    if delete:
        result = delete_endpoint(settings)
        if json_output:
            print_json(result)
        else:
            stdout.print(f"deleted endpoint {result['endpoint']}, {len(result['endpoint_configs'])} endpoint "
                         f"config(s), {len(result['models'])} model(s), {len(result['alarms'])} alarm(s)"
                         + (" and its autoscaling" if result["autoscaling_removed"] else ""), highlight=False)
        return
    if api:
        from kgqa_cli.aws.neptune import read_state

        if not read_state(settings).get("endpoint") and not settings.graph.url:
            from kgqa_cli.errors import MissingArtifactError

            raise MissingArtifactError("the API's function queries Neptune: no cluster is known to this workspace",
                                       hint="run `kgqa graph create --target neptune` and "
                                       "`kgqa bulkload --target neptune` first")
    # Autoscaling is registered on an InService endpoint: deploy waits for it then.
    waits = wait or settings.aws.endpoint.autoscaling.enabled
    with following(f"endpoint {settings.aws.endpoint.name}", waits and not json_output) as (on_status, _):
        result = deploy_on_sagemaker(settings, model, wait=wait, on_status=on_status, understand=api)
    if api:
        from kgqa_cli.aws.api import deploy_api
        from kgqa_cli.ui import stderr

        with stderr.status("packing and deploying the API's function"):
            result["api"] = deploy_api(settings)
    if json_output:
        print_json(result)
        return
    _print_deployed(result)


def _print_deployed(result: dict[str, Any]) -> None:
    """The endpoint made or updated, its autoscaling and alarms, and the API's URL."""
    from kgqa_cli.ui import stdout

    capture = f"capture to {result['capture']}" if result["capture"] else "capture off"
    stdout.print(f"{result['action']} endpoint {result['endpoint']} with {result['model_version']} "
                 f"({result['endpoint_config']}, {capture}): {result['status']}", highlight=False)
    scaling = result["autoscaling"]
    if scaling:
        stdout.print(f"autoscaling {scaling['min']}..{scaling['max']} instances, target "
                     f"{scaling['target_invocations_per_minute']:g} invocations a minute per instance", highlight=False)
    if result["alarms"]:
        notify = f"notify {result['alarm_topic']}" if result["alarm_topic"] else "notify no one: aws.sns_topic_arn is unset"
        stdout.print(f"alarms {', '.join(result['alarms'])} ({notify})", highlight=False)
    if "api" in result:
        changes = ", ".join(result["api"]["changes"]) or "nothing to change"
        stdout.print(f"API: POST {result['api']['url']} ({changes})", highlight=False)
