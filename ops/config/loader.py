"""Layered loading of ``proofyard.yaml`` with provenance and precise errors.

Layers, lowest first: schema defaults, the file, the ``environments.<name>`` overlay,
``PROOFYARD__SECTION__KEY`` environment variables, ``--set key=value`` options, ``--target``.
"""

from __future__ import annotations

import difflib
import os
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ops.config import yamlsafe
from ops.config.schema import ProofyardConfig
from ops.interpreter import Interpreter, InterpreterError, choose
from ops.usage import UsageError

ENV_PREFIX = "PROOFYARD__"
DEFAULT_FILE = "proofyard.yaml"
KeyPath = tuple[str | int, ...]
SECTION = "<section>"  # marks the origin entry of a mapping itself, next to its leaves


class ConfigError(UsageError):
    """A user mistake in the configuration; its message is meant to be shown as is."""


@dataclass(frozen=True)
class LoadedConfig:
    """The validated configuration and where each value came from."""

    config: ProofyardConfig
    path: Path | None
    target_root: Path
    env_name: str | None = None
    origins: Mapping[KeyPath, str] = field(default_factory=dict)
    environments: tuple[str, ...] = ()  # the overlays the file defines
    python: Interpreter = field(default_factory=Interpreter.harness)  # runs the project's code

    def origin_of(self, key_path: KeyPath) -> str:
        """The layer that set the value at ``key_path``; ``default`` when no layer did."""
        return self.origins.get(tuple(key_path), "default")

    def resolve(self, relative: str) -> Path:
        """A path from the config, relative to the target root."""
        return (self.target_root / relative).resolve()

    def reports_dir(self, option: str | None = None) -> Path:
        """``--reports-dir`` (relative to the working directory), else ``reports.dir``."""
        return Path(option).resolve() if option else self.resolve(self.config.reports.dir)


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env_name: str | None = None,
    sets: Iterable[str] = (),
    target: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    venv_built: bool = True,
) -> LoadedConfig:
    """Load, layer and validate the configuration; raise ConfigError naming file and key.
    ``venv_built=False`` accepts a ``target.venv`` that does not exist yet."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    config_path = _choose_file(path, environ, cwd, target)
    env_name = env_name or environ.get("PROOFYARD_ENV") or None
    origins: dict[KeyPath, str] = {}
    merged: dict[str, Any] = {}
    marks: dict[KeyPath, tuple[int, int]] = {}
    environments: Any = {}
    if config_path is None and target is not None and Path(cwd, target).is_dir():
        # a project without a file of its own: what its files say, never the harness's config
        from ops.init import detect

        folder = Path(cwd, target).resolve()
        label = f"detected in {folder}"
        _merge(merged, detect(folder, environ).config, lambda _p: label, origins, ())
    if config_path is not None:
        data, marks = _read_yaml(config_path)
        environments = data.pop("environments", {})
        _merge(merged, data, _file_origin(config_path, marks), origins, ())
        if env_name is not None:
            overlay = _pick_environment(environments, env_name, config_path)
            _merge(merged, overlay, _file_origin(config_path, marks, env_name), origins, ())
    elif env_name is not None:
        raise ConfigError(f"--env {env_name}: no configuration file to take it from")
    for key_path, value, label in _environment_layer(environ):
        _merge(merged, _nest(key_path, value), lambda _p, label=label: label, origins, ())
    for key_path, value, label in _set_layer(sets):
        _merge(merged, _nest(key_path, value), lambda _p, label=label: label, origins, ())
    if target is not None:
        _merge(
            merged, {"target": {"root": str(Path(cwd, target))}}, lambda _p: "--target", origins, ()
        )
    try:
        config = ProofyardConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe_errors(exc, config_path, origins)) from None
    base_dir = config_path.parent if config_path is not None else cwd
    target_root = (base_dir / config.target.root).resolve()
    if not target_root.is_dir():
        where = _origin_label(origins, ("target", "root"))
        raise ConfigError(f"{where}: target.root: directory {target_root} does not exist")
    names = tuple(map(str, environments)) if isinstance(environments, dict) else ()
    try:
        python = choose(config.target.python, config.target.venv, target_root, venv_built)
    except InterpreterError as exc:
        key = ("target", "python" if config.target.python is not None else "venv")
        raise ConfigError(f"{_origin_label(origins, key)}: {exc}") from None
    return LoadedConfig(config, config_path, target_root, env_name, dict(origins), names, python)


def effective_values(loaded: LoadedConfig) -> list[tuple[str, Any, str]]:
    """Every leaf of the effective config as (key path, value, origin), in schema order."""
    rows: list[tuple[str, Any, str]] = []

    def walk(value: Any, key_path: KeyPath) -> None:
        if isinstance(value, dict) and value:
            for key, sub in value.items():
                walk(sub, (*key_path, key))
        else:
            rows.append((_dotted(key_path), value, loaded.origin_of(key_path)))

    walk(loaded.config.model_dump(mode="json"), ())
    return rows


def _choose_file(
    path: str | os.PathLike[str] | None,
    environ: Mapping[str, str],
    cwd: Path,
    target: str | os.PathLike[str] | None,
) -> Path | None:
    """The file named, else the target's own ``proofyard.yaml``, else the one in ``cwd``
    (when no target is named)."""
    chosen = path or environ.get("PROOFYARD_CONFIG")
    if chosen:
        candidate = Path(cwd, chosen)
        if not candidate.is_file():
            raise ConfigError(f"{candidate}: configuration file not found")
        return candidate.resolve()
    default = Path(cwd, target or ".") / DEFAULT_FILE
    return default.resolve() if default.is_file() else None


def _read_yaml(path: Path) -> tuple[dict[str, Any], dict[KeyPath, tuple[int, int]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    try:
        node = yamlsafe.compose(text)
        data = yamlsafe.construct(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        kind = "refused YAML" if isinstance(exc, yamlsafe.UnsafeYAML) else "malformed YAML"
        raise ConfigError(f"{where}: {kind}: {problem}") from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1:1: expected a mapping of sections, got {type(data).__name__}")
    marks: dict[KeyPath, tuple[int, int]] = {}
    _collect_marks(node, (), marks)
    return data, marks


def _collect_marks(node: yaml.Node, key_path: KeyPath, marks: dict) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            sub = (*key_path, key_node.value)
            marks[sub] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _collect_marks(value_node, sub, marks)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            sub = (*key_path, index)
            marks[sub] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _collect_marks(item, sub, marks)


def _file_origin(path: Path, marks: dict[KeyPath, tuple[int, int]], env_name: str | None = None):
    def origin(key_path: KeyPath) -> str:
        lookup = ("environments", env_name, *key_path) if env_name else key_path
        line = marks.get(lookup, (1, 1))[0]
        suffix = f" (environments.{env_name})" if env_name else ""
        return f"{path}:{line}{suffix}"

    return origin


def _pick_environment(environments: Any, env_name: str, path: Path) -> dict[str, Any]:
    if not isinstance(environments, dict):
        raise ConfigError(f"{path}: environments: expected a mapping of name to overlay")
    if env_name not in environments:
        known = ", ".join(sorted(map(str, environments))) or "none defined"
        raise ConfigError(f"{path}: environments.{env_name}: no such environment ({known})")
    overlay = environments[env_name] or {}
    if not isinstance(overlay, dict):
        raise ConfigError(f"{path}: environments.{env_name}: expected a mapping of sections")
    return overlay


def _environment_layer(environ: Mapping[str, str]) -> list[tuple[KeyPath, Any, str]]:
    layer = []
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX):
            key_path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
            if not all(key_path):
                raise ConfigError(f"env {name}: empty key segment (use SECTION__KEY)")
            layer.append((key_path, _parse_scalar(environ[name]), f"env {name}"))
    return layer


def _set_layer(sets: Iterable[str]) -> list[tuple[KeyPath, Any, str]]:
    layer = []
    for option in sets:
        key, sep, raw = option.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--set {option}: expected KEY=VALUE, for example smoke.imports.timeout_s=5"
            )
        key_path = tuple(key.strip().split("."))
        if not all(key_path):
            raise ConfigError(f"--set {option}: empty key segment")
        layer.append((key_path, _parse_scalar(raw), f"--set {key.strip()}"))
    return layer


def _parse_scalar(raw: str) -> Any:
    """Values from the environment or --set are YAML scalars: 5, true, [a, b]; else the text."""
    try:
        return yamlsafe.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        return raw


def _nest(key_path: KeyPath, value: Any) -> dict[str, Any]:
    for key in reversed(key_path):
        value = {key: value}
    return value


def _merge(base: dict, overlay: dict, origin, origins: dict, key_path: KeyPath) -> None:
    for key, value in overlay.items():
        sub = (*key_path, key)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, origin, origins, sub)
        else:
            for stale in [path for path in origins if path[: len(sub)] == sub]:
                del origins[stale]
            base[key] = value
            _record_leaves(value, sub, origin, origins)


def _record_leaves(value: Any, key_path: KeyPath, origin, origins: dict) -> None:
    """Record the origin of every leaf; a mapping's own key is kept as a ``SECTION`` entry so
    errors about a whole section (an unknown key in it, say) can still name its line."""
    if isinstance(value, dict) and value:
        origins[(*key_path, SECTION)] = origin(key_path)
        for key, sub in value.items():
            _record_leaves(sub, (*key_path, key), origin, origins)
    else:
        origins[key_path] = origin(key_path)


def _origin_label(origins: Mapping[KeyPath, str], key_path: KeyPath) -> str:
    for end in range(len(key_path), 0, -1):
        for candidate in (key_path[:end], (*key_path[:end], SECTION)):
            if candidate in origins:
                return origins[candidate]
    return "default"


def _describe_errors(exc: ValidationError, path: Path | None, origins: Mapping) -> str:
    lines = [f"invalid configuration{f' in {path}' if path else ''}:"]
    for error in exc.errors():
        loc = tuple(error["loc"])
        where = _origin_label(origins, loc)
        if error["type"] == "extra_forbidden":
            message = f"unknown key '{loc[-1]}'"
            hint = _closest_key(loc)
            if hint:
                message += f" (did you mean '{hint}'?)"
        else:
            message = f"{error['msg']} (got {error.get('input')!r})"
        lines.append(f"  {where}: {_dotted(loc)}: {message}")
    return "\n".join(lines)


def _closest_key(loc: KeyPath) -> str | None:
    model = _model_at(ProofyardConfig, loc[:-1])
    if model is None:
        return None
    fields = list(model.model_fields)
    if model is ProofyardConfig:
        fields.append("environments")
    matches = difflib.get_close_matches(str(loc[-1]), fields, n=1, cutoff=0.5)
    return matches[0] if matches else None


def _model_at(model: type[BaseModel], loc: KeyPath) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field_info = current.model_fields.get(part)
        if field_info is None:
            return None
        current = _unwrap(field_info.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    for arg in typing.get_args(annotation) or (annotation,):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        inner = typing.get_args(arg)
        if inner:
            return _unwrap(arg)
    return annotation


def _dotted(key_path: KeyPath) -> str:
    return ".".join(str(part) for part in key_path) or "<root>"
