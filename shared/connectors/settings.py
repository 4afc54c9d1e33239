"""A connector's config from the app settings, by one rule: the setting field
`<system>_<name>` of shared/settings.py (env var named by its alias) is the config's field
`<name>`. So a connector setting is declared once in Settings (its env name), its meaning and
checks once in the connector's config class, and "configured" means "the config validates"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory
from shared.settings import Settings

C = TypeVar("C", bound="ConnectorConfig")


class ConnectorConfig(BaseModel):
    """Base of each connector's config (shared/connectors/*/config.py)."""

    @classmethod
    def conditional_missing(cls, values: Mapping[str, Any]) -> list[str]:
        """Env names of settings needed only in some cases (an auth mode's credentials)."""
        return []


def env_name(system: str, field: str) -> str:
    info = Settings.model_fields.get(f"{system}_{field}")
    return info.alias if info is not None and info.alias else f"{system.upper()}_{field.upper()}"


def settings_values(settings: Settings, system: str, config: type[BaseModel]) -> dict[str, Any]:
    """`system`'s settings as `config`'s fields; unset ones left out (the defaults stand)."""
    prefix = f"{system}_"
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        field = name.removeprefix(prefix)
        if name.startswith(prefix) and field in config.model_fields:
            value = getattr(settings, name)
            if value is not None:
                values[field] = value
    return values


def config_from_settings(
    config: type[C], settings: Settings, system: str, title: str, overrides: Mapping[str, Any]
) -> C:
    """The config, or an auth error `not_configured` naming every setting still missing."""
    values = {**settings_values(settings, system, config), **overrides}
    missing = [
        env_name(system, name)
        for name, info in config.model_fields.items()
        if info.is_required() and _blank(values.get(name))
    ]
    missing += config.conditional_missing(values)
    if missing:
        raise ConnectorError(
            f"{title} is not configured: set {', '.join(missing)} in the app settings",
            category=ErrorCategory.AUTH,
            system=system,
            code="not_configured",
        )
    return config.model_validate(values)


def configured(config: type[ConnectorConfig], settings: Settings, system: str) -> bool:
    """Whether the settings make a valid config (not whether the system answers)."""
    try:
        config_from_settings(config, settings, system, system, {})
    except (ConnectorError, ValidationError):
        return False
    return True


def _blank(value: Any) -> bool:
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    return value is None or value == ""
