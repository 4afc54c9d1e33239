"""Every app setting the product reads, by env name: Settings' own fields (shared/settings.py)
and each connector config's `AppSetting` fields (shared/connectors/*/config.py)."""

from __future__ import annotations

from pydantic import SecretStr

from shared.connectors.configs import CONFIGS
from shared.settings import Settings


def settings_types() -> dict[str, object]:
    """Each app setting's env name and its field's annotation."""
    own = {info.alias: info.annotation for info in Settings.model_fields.values() if info.alias}
    for config in CONFIGS.values():
        for name in config.setting_fields():
            own[config.env_name(name)] = config.model_fields[name].annotation
    return own


def setting_names() -> set[str]:
    return set(settings_types())


def is_secret(annotation: object) -> bool:
    return SecretStr in getattr(annotation, "__args__", (annotation,))
