"""The run's configuration file: one section per stage, validated with pydantic before any work.

Every stage's section is checked against a pydantic model derived from the stage's own config
dataclass (what ``Stage.configure({})`` returns): unknown settings, values of the wrong type
(``max_age_years: old``) and unknown choices (``text_detector: tesseract2``, declared by the stage
on its config field) are rejected with one clear message naming the section and setting, before a
file is read or written. A stage added to :data:`~radcurate.dags.pipeline.PIPELINE` is covered
automatically. After the types, the stage's
own ``configure`` runs for the checks only it knows (a file that must exist, ...).

Shared by ``radcurate run`` and the Airflow DAG, so neither imports the other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import pydantic

from radcurate.settings import read_settings_file

# Settings every stage section accepts (handled by the runner, not by the stage).
MAX_QUARANTINED_SHARE = "max_quarantined_share"
DEFAULT_MAX_QUARANTINED_SHARE = 0.5
RUNNER_SETTINGS = {MAX_QUARANTINED_SHARE: (float, DEFAULT_MAX_QUARANTINED_SHARE)}

# A stage declares on its config dataclass's fields what only it knows:
#   field(default=..., metadata={"choices": (...)})  -- the value is one of a fixed set
#   field(default=..., metadata={"path": True})      -- a file; relative means relative to the config file

class ConfigError(ValueError):
    """A config file or section that cannot be used; the message names section and setting."""


def load_config(path: str | Path | None, stages: Sequence[Any] | None = None) -> dict[str, dict[str, Any]]:
    """Stage sections from a YAML or JSON file, validated (see :func:`validate_config`)."""
    if not path:
        return {}
    try:
        data = read_settings_file(path)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    stages = _stages(stages)
    if isinstance(data, dict):
        data = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()}
        _resolve_paths(data, Path(path).resolve().parent, stages)
    return validate_config(data, stages)


def _stages(stages: Sequence[Any] | None) -> Sequence[Any]:
    if stages is None:
        from .pipeline import OPTIONAL_STAGES, PIPELINE

        return PIPELINE + OPTIONAL_STAGES
    return stages


def path_settings(stage: Any) -> list[str]:
    """The settings of ``stage`` that name files (``metadata={"path": True}`` on its config field)."""
    cls = _config_class(stage)
    return [f.name for f in dataclasses.fields(cls) if f.metadata.get("path")] if cls is not None else []


def _resolve_paths(config: dict[str, Any], base: Path, stages: Sequence[Any]) -> None:
    """Settings that name files: a relative path means relative to the config file's own folder."""
    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            return str(base / value)
        return str(Path(value).expanduser()) if isinstance(value, str) and value else value

    for stage in stages:
        section = config.get(stage.name)
        if not isinstance(section, dict):
            continue
        for key in path_settings(stage):
            if section.get(key) is None:
                continue
            value = section[key]
            section[key] = [resolve(v) for v in value] if isinstance(value, (list, tuple)) else resolve(value)


def validate_config(data: Any, stages: Sequence[Any] | None = None) -> dict[str, dict[str, Any]]:
    """``{stage: {setting: value}}`` checked against every stage's typed model; returns the
    sections with values coerced to their declared types (e.g. YAML lists to tuples kept as lists
    for hashing). Raises :class:`ConfigError` on the first bad section."""
    stages = _stages(stages)
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping of stage name -> settings")
    by_name = {s.name: s for s in stages}
    unknown = sorted(set(data) - set(by_name))
    if unknown:
        raise ConfigError(
            f"unknown stage section(s): {', '.join(map(str, unknown))} (stages: {', '.join(sorted(by_name))})"
        )
    bad = sorted(k for k, v in data.items() if v is not None and not isinstance(v, Mapping))
    if bad:
        raise ConfigError(f"section(s) {', '.join(bad)} must be mappings of setting -> value")
    config = {}
    for name, section in data.items():
        config[name] = validate_section(by_name[name], dict(section or {}))
    return config


def validate_section(stage: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    """One stage's section: typed check, then the stage's own ``configure``."""
    model = section_model(stage)
    try:
        parsed = model.model_validate(dict(section))
    except pydantic.ValidationError as exc:
        raise ConfigError(_describe(stage.name, model, exc)) from None
    values = parsed.model_dump(exclude_unset=True)
    stage_values = {k: v for k, v in values.items() if k not in RUNNER_SETTINGS}
    if stage.configure is not None:
        try:
            stage.configure(stage_values)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{stage.name}: {exc}") from None
    return _plain(values)


def split_section(section: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the stage's own settings, the runner's settings with defaults filled in)."""
    own = {k: v for k, v in section.items() if k not in RUNNER_SETTINGS}
    runner = {k: section.get(k, default) for k, (_, default) in RUNNER_SETTINGS.items()}
    return own, runner


def section_model(stage: Any) -> type[pydantic.BaseModel]:
    """A pydantic model of the stage's section: its config dataclass's fields and types, the
    choices above, the runner's settings; unknown keys forbidden."""
    fields: dict[str, Any] = {
        MAX_QUARANTINED_SHARE: (
            typing.Annotated[float, pydantic.Field(ge=0.0, le=1.0)],
            DEFAULT_MAX_QUARANTINED_SHARE,
        )
    }
    cls = _config_class(stage)
    if cls is not None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            kind = hints.get(f.name, Any)
            choices = f.metadata.get("choices")
            if choices:
                kind = Literal[tuple(choices)]  # type: ignore[valid-type]
            fields[f.name] = (kind, None)
    config = pydantic.ConfigDict(extra="forbid" if cls is not None else "allow", arbitrary_types_allowed=True)
    return pydantic.create_model(f"{stage.name.title()}Section", __config__=config, **fields)


def _config_class(stage: Any) -> type | None:
    """The dataclass a stage's ``configure`` builds (from its defaults), or None if unknown."""
    if stage.configure is None:
        return None
    try:
        parsed = stage.configure({})
    except Exception:
        return None
    return type(parsed) if dataclasses.is_dataclass(parsed) else None


def _describe(stage: str, model: type[pydantic.BaseModel], exc: pydantic.ValidationError) -> str:
    """``deid.max_age_years: Input should be a valid integer (got 'old')`` — one line per error."""
    lines = []
    extra = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden"]
    if extra:
        known = sorted(model.model_fields)
        lines.append(f"unknown {stage} setting(s): {', '.join(extra)}" + (f" (known: {', '.join(known)})" if known else ""))
    for err in exc.errors():
        if err["type"] == "extra_forbidden":
            continue
        where = ".".join(str(p) for p in (stage, *err["loc"]))
        got = err.get("input")
        shown = repr(got) if isinstance(got, (str, int, float, bool)) or got is None else type(got).__name__
        lines.append(f"{where}: {err['msg']} (got {shown[:60]})")
    return "; ".join(lines)


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-able values (tuples as lists), so config hashes are stable."""
    return json.loads(json.dumps(dict(values), default=list))


def effective_config(stage: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    """The stage's settings with its defaults filled in (what is hashed and put in the manifest),
    the runner's own settings (e.g. ``max_quarantined_share``) included."""
    own, settings = split_section(section)
    if stage.configure is None:
        return {**own, **settings}
    parsed = stage.configure(own)
    if hasattr(parsed, "to_dict"):
        values = parsed.to_dict()
    elif dataclasses.is_dataclass(parsed):
        values = dataclasses.asdict(parsed)
    else:
        values = dict(own)
    return {**values, **settings}


def config_hash(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]
