"""Records every AWS operation kgqa makes, for the IAM check (tests/test_iam_policies.py).

Python imports this module at start-up when this folder is on PYTHONPATH, as it is in the
environment the ``moto_server`` fixture hands to the processes tests start; the test process
installs it too (conftest.py). With ``KGQA_AWS_CALL_LOG`` set, every botocore session gets a
``before-parameter-build`` hook that appends one JSON line per operation to that file: the IAM
prefix and operation, the identity that makes it, and the roles it passes. Only calls made from
kgqa's own code count (a kgqa frame on the stack), never the tests' own set-up and checks.
"""

from __future__ import annotations

import json
import os
import sys

KGQA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "kgqa_cli")
# The processes that run inside AWS under the execution role, by their main module.
EXECUTION_ROLE_MAINS = ("kgqa_cli.entrypoints.processing", "kgqa_cli.entrypoints.container")


# The code that runs inside AWS under a role of its own, by its file.
ROLE_FILES = {os.path.join(KGQA_DIR, "entrypoints", "processing.py"): "execution-role",
              os.path.join(KGQA_DIR, "entrypoints", "container.py"): "execution-role",
              os.path.join(KGQA_DIR, "entrypoints", "lambda_api.py"): "api-function"}


def identity_of_call() -> str | None:
    """Who makes the call on the stack: the execution role (job entry points), the API's function,
    or the person running kgqa; None when no kgqa code is on the stack (a test's own call)."""
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", "") or ""
    found = None
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename in ROLE_FILES:
            return ROLE_FILES[filename]
        if filename.startswith(KGQA_DIR):
            found = "caller"
        frame = frame.f_back
    if found and name in EXECUTION_ROLE_MAINS:
        return "execution-role"
    return found


def _roles(value: object, found: list[str]) -> list[str]:
    """Every IAM role ARN among the request's values."""
    if isinstance(value, str):
        if value.startswith("arn:") and ":iam::" in value and ":role/" in value:
            found.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "PipelineDefinition":  # roles SageMaker passes later, under the execution role
                _roles(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _roles(item, found)
    return found


def _record(params: dict | None = None, model: object = None, **_kwargs: object) -> None:
    path = os.environ.get("KGQA_AWS_CALL_LOG")
    plan = sys.modules.get("kgqa_cli.aws.plan")
    if plan is not None and plan.active() is not None:
        return  # a plan's calls are answered by kgqa itself and never sent
    who = identity_of_call() if path and model is not None else None
    if who is None:
        return
    service = model.service_model
    line = {"identity": who, "service": service.service_name, "signing": service.signing_name,
            "operation": model.name, "method": (model.http or {}).get("method"), "roles": _roles(params or {}, []),
            # Tags on a create: AWS authorises the tagging action too.
            "tagged": any(params.get(key) for key in ("Tags", "tags", "TagList")) if params else False}
    if model.name in ("CreateSchedule", "UpdateSchedule"):
        line["target"] = ((params or {}).get("Target") or {}).get("Arn")
    data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, data)  # one write on O_APPEND: lines from many processes never interleave
    finally:
        os.close(descriptor)


def _hook_sessions(module: object) -> None:
    """Make every botocore session of ``module`` (botocore.session) record its calls."""
    session_class = module.Session
    if getattr(session_class, "_kgqa_recorded", False):
        return
    original = session_class.__init__

    def init(self, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        self.register("before-parameter-build", _record)

    session_class.__init__ = init
    session_class._kgqa_recorded = True


class _WhenBotocoreLoads:
    """Hooks botocore's sessions when (if ever) a process imports botocore.session: importing it
    up front would add a third of a second to every process the tests start."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        if name != "botocore.session":
            return None
        import importlib.util

        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module: object) -> None:
            load(module)
            _hook_sessions(module)

        spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    """Hook every botocore session made from now on (once per process)."""
    if not os.environ.get("KGQA_AWS_CALL_LOG"):
        return
    if "botocore.session" in sys.modules:
        _hook_sessions(sys.modules["botocore.session"])
    elif not any(isinstance(finder, _WhenBotocoreLoads) for finder in sys.meta_path):
        sys.meta_path.insert(0, _WhenBotocoreLoads())


install()
