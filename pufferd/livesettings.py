"""Settings changed at run time: database overrides over flags > environment > pufferd.toml > defaults.

The configured Settings (what load_settings built from flags, environment, file and defaults) are
kept as they are. The settings in effect (`current`, the object on ctx.settings) start as the
configured ones with every stored override applied; after an override commits, the runtime
settings among the changes (config.RUNTIME_SETTINGS) are written into `current` in place, so every
reader sees them on its next look-up. Overrides of config.RESTART_SETTINGS are stored and take
effect when the server next starts. Every value is validated by the Settings model itself.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from pydantic import SecretStr, TypeAdapter, ValidationError

from pufferd.config import RESTART_SETTINGS, RUNTIME_SETTINGS, Settings

log = logging.getLogger("pufferd.settings")

CHANGEABLE = RUNTIME_SETTINGS | RESTART_SETTINGS


class InvalidSettings(Exception):
    """Values the Settings model refuses: {setting name: message}."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def is_secret(name: str) -> bool:
    info = Settings.model_fields[name]
    return "SecretStr" in str(info.annotation)


def listed() -> list[str]:
    """Every setting an administrator may see (secrets are never shown), in declaration order."""
    return [name for name in Settings.model_fields if not is_secret(name)]


def to_json(name: str, value: Any) -> Any:
    """VALUE of setting NAME as JSON data (paths as strings, secrets never)."""
    if isinstance(value, SecretStr):
        raise ValueError(f"{name} is a secret")
    return _adapter(name).dump_python(value, mode="json")


_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _adapter(name: str) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(name)
    if adapter is None:
        adapter = _ADAPTERS[name] = TypeAdapter(cast(Any, Settings.model_fields[name].annotation))
    return adapter


def validate(configured: Settings, overrides: Mapping[str, Any]) -> Settings:
    """The configured settings with OVERRIDES applied, checked by the Settings model; raise
    InvalidSettings naming each refused setting. Names outside CHANGEABLE are refused too."""
    problems = {name: ("cannot be changed over the API: set it in pufferd.toml, the environment or a flag"
                       if name in Settings.model_fields else "no such setting; it cannot be changed over the API")
                for name in overrides if name not in CHANGEABLE}
    values = {name: getattr(configured, name) for name in Settings.model_fields}
    values.update((name, value) for name, value in overrides.items() if name in CHANGEABLE)
    try:
        # every value given by field name (populate_by_name), so the environment is not consulted
        candidate = Settings(**values)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            name = str(err["loc"][0]) if err["loc"] else "settings"
            problems.setdefault(name, str(err["msg"]).removeprefix("Value error, "))
    if problems:
        raise InvalidSettings(problems)
    return candidate


@dataclass
class LiveSettings:
    """The configured settings, the overrides stored in the database, and the settings in effect."""

    configured: Settings
    stored: dict[str, Any]  # setting name -> JSON value, as in settings_overrides
    current: Settings       # ctx.settings; runtime overrides are written into it in place

    @classmethod
    def start(cls, configured: Settings, stored_json: Mapping[str, str]) -> LiveSettings:
        """Apply every stored override that is still a valid, changeable setting; log the others
        (written by another version, say) and leave them out, rather than refusing to start."""
        stored: dict[str, Any] = {}
        for name, raw in stored_json.items():
            try:
                stored[name] = json.loads(raw)
                validate(configured, {name: stored[name]})
            except (ValueError, InvalidSettings) as exc:
                stored.pop(name, None)
                log.warning("ignoring the stored setting %s: %s", name, exc)
        valid = validate(configured, stored)
        current = configured.model_copy(update={name: getattr(valid, name) for name in stored})
        return cls(configured, stored, current)

    def effective_if(self, changes: Mapping[str, Any | None]) -> tuple[Settings, dict[str, Any]]:
        """Validate CHANGES (a value, or None to drop the override) against what is stored:
        the settings that would hold after a restart, and the JSON to store per changed name."""
        stored = {k: v for k, v in self.stored.items() if k not in changes}
        stored.update({k: v for k, v in changes.items() if v is not None})
        candidate = validate(self.configured, stored)
        return candidate, {name: None if changes[name] is None else to_json(name, getattr(candidate, name))
                           for name in changes}

    def apply(self, stored_changes: Mapping[str, Any | None], candidate: Settings) -> list[str]:
        """After the commit of STORED_CHANGES: remember them and put the runtime ones in effect.
        Return the names whose value in effect waits for a restart."""
        waiting = []
        for name, value in stored_changes.items():
            if value is None:
                self.stored.pop(name, None)
            else:
                self.stored[name] = value
            if name in RUNTIME_SETTINGS:
                setattr(self.current, name, getattr(candidate, name))
            elif getattr(self.current, name) != getattr(candidate, name):
                waiting.append(name)
        return waiting

    def restart_pending(self, name: str) -> bool:
        """A stored override of NAME (or its removal) takes effect only at the next start."""
        if name not in RESTART_SETTINGS:
            return False
        target = self.stored[name] if name in self.stored else to_json(name, getattr(self.configured, name))
        return bool(to_json(name, getattr(self.current, name)) != target)
