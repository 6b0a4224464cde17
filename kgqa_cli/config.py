"""Configuration: YAML files validated by pydantic, with dotted command-line overrides.

One file (``configs/kgqa.yaml`` by default) holds every section; each stage reads its own. Unknown
keys are rejected, and every error names the file, the line and the key path at fault.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from kgqa_cli.errors import ConfigError

DEFAULT_CONFIG = Path("configs/kgqa.yaml")


def _is_number_type(annotation: Any) -> bool:
    """Whether a field's type is a number (``int``, ``float``, or either made optional)."""
    if annotation in (int, float):
        return True
    args = get_args(annotation)
    return bool(args) and all(arg in (int, float, type(None)) for arg in args) and any(a in (int, float) for a in args)


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, assignments are validated.

    Numbers are strict about booleans: YAML's ``true`` is not taken as 1 for a count or a
    threshold (pydantic's lax mode would).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            field = cls.model_fields.get(info.field_name)
            if field is not None and _is_number_type(field.annotation):
                raise ValueError("a number is needed here, not a boolean")
        return value


M = TypeVar("M", bound=BaseModel)


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """Turn ``["--kg.train.epochs", "3", "--workspace=ws"]`` into ``{"kg.train.epochs": 3, ...}``.

    Values are read as JSON when they parse as JSON, else as a YAML scalar, else kept as text, so
    numbers, booleans, ``null`` and lists work without quoting.
    """
    overrides: dict[str, Any] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if not arg.startswith("--") or len(arg) == 2:
            raise ConfigError(
                f"unexpected argument {arg!r}",
                hint="config overrides look like --section.key value",
            )
        key = arg[2:]
        if "=" in key:
            key, raw = key.split("=", 1)
        else:
            if index + 1 >= len(args):
                raise ConfigError(f"override --{key} has no value")
            index += 1
            raw = args[index]
        overrides[key.replace("-", "_")] = _parse_value(raw)
        index += 1
    return overrides


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        value, _ = _load_yaml_node(raw)
    except (yaml.YAMLError, RecursionError):
        return raw
    # A YAML mapping from "a: b" text is almost never what a user meant on a command line.
    return raw if isinstance(value, dict) or value is None and raw.strip() else value


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set each dotted key in a copy of ``data``; intermediate sections are created as needed."""
    result = json.loads(json.dumps(data))
    for dotted, value in overrides.items():
        node = result
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override --{dotted}: {part!r} is a value, not a section")
            node = child
        node[parts[-1]] = value
    return result


# Far more values than any real config or templates file holds (both have under 2,000), far fewer
# than an alias bomb expands to: nine nested aliases of nine already make 387 million.
MAX_YAML_VALUES = 100_000


class YamlExpansionError(yaml.MarkedYAMLError):
    """A YAML document whose aliases expand past :data:`MAX_YAML_VALUES` values, or refer to themselves."""


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many values ``node`` stands for once every alias in it is copied out; refuses past the bound.

    Aliases share their anchor's node, so each node is sized once and the work stays linear in the
    text, however far the aliases would expand.
    """
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise YamlExpansionError(problem="an alias refers to the collection it is in", problem_mark=node.start_mark)
    open_nodes.add(key)
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    else:
        children = []
    size = 1
    for child in children:
        size += _expanded_size(child, sizes, open_nodes)
        if size > MAX_YAML_VALUES:
            raise YamlExpansionError(
                problem=f"aliases expand to more than {MAX_YAML_VALUES:,} values (an alias bomb?)",
                problem_mark=node.start_mark,
            )
    open_nodes.discard(key)
    sizes[key] = size
    return size


def _load_yaml_node(text: str) -> tuple[Any, yaml.Node | None]:
    """Safe-load one YAML document, refusing alias expansion past the bound; the data and its node tree."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _expanded_size(root, {}, set())
        return loader.construct_document(root), root
    finally:
        loader.dispose()


def _describe_yaml_error(exc: Exception, source: Path | str) -> str:
    """One line naming the file and, where known, the line of a YAML problem."""
    if isinstance(exc, RecursionError):
        return f"{source}: refused: collections nested too deeply"
    mark = getattr(exc, "problem_mark", None)
    where = f"{source}:{mark.line + 1}" if mark else str(source)
    problem = getattr(exc, "problem", None) or exc
    if isinstance(exc, YamlExpansionError):
        return f"{where}: refused: {problem}"
    return f"{where}: not valid YAML: {problem}"


def load_yaml(text: str, source: Path | str) -> Any:
    """Safe-load YAML a user wrote: plain data only, alias bombs and runaway nesting refused.

    Raises :class:`ConfigError` naming ``source`` and the line at fault.
    """
    try:
        return _load_yaml_node(text)[0]
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(_describe_yaml_error(exc, source)) from exc


def load_config(
    model: type[M],
    path: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> M:
    """Read ``path`` (or the default config if it exists), apply overrides and validate."""
    explicit = path is not None
    path = Path(path) if path is not None else DEFAULT_CONFIG
    data: dict[str, Any] = {}
    lines: dict[tuple[str, ...], int] = {}
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
            loaded, root = _load_yaml_node(text)
            lines = _key_lines(root)
        except (yaml.YAMLError, RecursionError) as exc:
            raise ConfigError(_describe_yaml_error(exc, path)) from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not a YAML config (not UTF-8 text: byte {exc.start} cannot be decoded)") from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        data = loaded
    elif explicit:
        raise ConfigError(f"{path}: config file not found")
    overrides = overrides or {}
    data = apply_overrides(data, overrides)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, lines, overrides)) from exc


def _describe(
    exc: ValidationError, path: Path, lines: dict[tuple[str, ...], int], overrides: dict[str, Any]
) -> str:
    errors = exc.errors()
    first = errors[0]
    loc = tuple(str(part) for part in first["loc"])
    dotted = ".".join(loc)
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    else:
        message = first["msg"].removeprefix("Value error, ")
        if "input" in first and not isinstance(first["input"], dict):
            message += f" (got {first['input']!r})"
    culprit = next(
        (key for key in overrides if key == dotted or key.startswith(dotted + ".") or dotted.startswith(key + ".")),
        None,
    )
    if culprit is not None:
        where = f"override --{culprit}"
    else:
        # The innermost key written in the file gives the line; a missing key points at its section.
        line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
        where = f"{path}:{line}" if line else str(path)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {dotted}: {message}{more}"


def _key_lines(node: yaml.Node | None, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """Map each key path of a composed YAML document to its 1-based line number."""
    found: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*prefix, str(key_node.value))
            found[key] = key_node.start_mark.line + 1
            found.update(_key_lines(value_node, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            key = (*prefix, str(index))
            found[key] = item.start_mark.line + 1
            found.update(_key_lines(item, key))
    return found

