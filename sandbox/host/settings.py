"""App settings the way `func start` provides them: local.settings.json into the environment,
and `%NAME%` placeholders in bindings resolved from it."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandbox.host.errors import HostError

log = logging.getLogger("shuttle.host")

SETTINGS_FILES = ("local.settings.json", "local.settings.example.json")
_PLACEHOLDER = re.compile(r"%([^%\s]+)%")


class SettingsError(HostError):
    """A settings file or a placeholder that cannot be used; the message says which."""


class HostSection(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    local_http_port: int | None = Field(default=None, alias="LocalHttpPort", ge=0, le=65535)


class LocalSettings(BaseModel):
    """The shape of local.settings.json. Values must be strings, as Core Tools requires."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    is_encrypted: bool = Field(default=False, alias="IsEncrypted")
    values: dict[str, str] = Field(default_factory=dict, alias="Values")
    host: HostSection = Field(default_factory=HostSection, alias="Host")
    source: Path | None = Field(default=None, exclude=True)


def find_settings_file(app_dir: Path) -> Path | None:
    for name in SETTINGS_FILES:
        path = app_dir / name
        if path.is_file():
            return path
    return None


def load_local_settings(app_dir: Path) -> LocalSettings:
    """local.settings.json if present, else local.settings.example.json, else nothing."""
    path = find_settings_file(app_dir)
    if path is None:
        return LocalSettings()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        settings = LocalSettings.model_validate(raw)
    except (json.JSONDecodeError, ValidationError) as exc:
        raise SettingsError(f"{path} is not a valid local settings file: {exc}") from exc
    if settings.is_encrypted:
        # Core Tools encrypts with a machine key we cannot read; ask for plain text instead.
        raise SettingsError(f"{path} is encrypted; run `func settings decrypt` or recreate it")
    settings.source = path
    return settings


def apply_settings(
    values: Mapping[str, str], environ: MutableMapping[str, str] | None = None
) -> list[str]:
    """Copy settings into the environment where a key is not set yet (the environment wins,
    as with `func start`). Returns the keys that were applied, never their values."""
    target = os.environ if environ is None else environ
    applied = []
    for key, value in values.items():
        if key not in target:
            target[key] = value
            applied.append(key)
    return applied


def load_and_apply(app_dir: Path) -> LocalSettings:
    settings = load_local_settings(app_dir)
    if settings.source is not None:
        applied = apply_settings(settings.values)
        log.info(
            "settings: %d of %d values from %s (the rest already set in the environment)",
            len(applied),
            len(settings.values),
            settings.source.name,
        )
    return settings


def get_setting(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """An app setting by name; case-insensitive as on Azure (Windows env semantics)."""
    env = os.environ if environ is None else environ
    if name in env:
        return env[name]
    lowered = name.lower()
    for key, value in env.items():
        if key.lower() == lowered:
            return value
    return None


def resolve_placeholders(
    text: str, *, function: str, what: str, environ: Mapping[str, str] | None = None
) -> str:
    """Replace every `%NAME%` with the app setting NAME; a missing setting is an error that
    names the function and the setting, so a typo fails at startup rather than silently."""

    def replace(match: re.Match[str]) -> str:
        value = get_setting(match[1], environ)
        if value is None:
            raise SettingsError(
                f"function '{function}': {what} {text!r} refers to app setting "
                f"'{match[1]}', which is not set (add it to local.settings.json or the "
                "environment)"
            )
        return value

    return _PLACEHOLDER.sub(replace, text)
