"""Each system's connector config class, for the one question asked of all of them: are
they configured (does the config validate from the app settings)?"""

from __future__ import annotations

from shared.connectors.creatio.config import CreatioConfig
from shared.connectors.dataverse.config import DataverseConfig
from shared.connectors.intacct.config import IntacctConfig
from shared.connectors.settings import ConnectorConfig
from shared.settings import Settings

CONFIGS: dict[str, type[ConnectorConfig]] = {
    "creatio": CreatioConfig,
    "intacct": IntacctConfig,
    "dataverse": DataverseConfig,
}


def connection_configured(settings: Settings, system: str) -> bool:
    config = CONFIGS.get(system)
    return config is not None and config.configured(settings)


def secret_settings() -> set[str]:
    """Env names of the connector settings that hold secrets."""
    return {name for config in CONFIGS.values() for name in config.secret_names()}
