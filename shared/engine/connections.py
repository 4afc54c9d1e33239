"""One connector per external system per worker, built on first use from the settings, so
sessions, tokens and in-flight limits are shared by every invocation on the worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.connectors.protocol import SyncConnector
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.limits import DeploymentLimits

ConnectorFactory = Callable[[str, Settings], SyncConnector]


def build_connector(system: str, settings: Settings) -> SyncConnector:
    match system:
        case "creatio":
            from shared.connectors.creatio.sync import CreatioSync

            return CreatioSync.from_settings(settings)
        case "intacct":
            from shared.connectors.intacct.sync import IntacctSync

            return IntacctSync.from_settings(settings)
        case "dataverse":
            from shared.connectors.dataverse.sync import DataverseSync

            return DataverseSync.from_settings(settings)
    raise ValueError(f"no connector for system '{system}'")


class ConnectorPool:
    def __init__(
        self,
        settings: Settings,
        factory: ConnectorFactory | None = None,
        limits: DeploymentLimits | None = None,
    ) -> None:
        self.settings = settings
        self.factory = factory or build_connector
        # Deployment-wide limits (shared/limits): None keeps each connector's own.
        self.limits = limits
        self._made: dict[str, SyncConnector] = {}
        self._lock = asyncio.Lock()

    async def get(self, system: str) -> SyncConnector:
        connector = self._made.get(system)
        if connector is None:
            async with self._lock:
                connector = self._made.get(system)
                if connector is None:
                    connector = self.factory(system, self.settings)
                    if self.limits is not None:
                        self.limits.attach(connector)
                    self._made[system] = connector
        return connector

    async def aclose(self) -> None:
        made, self._made = self._made, {}
        for connector in made.values():
            await connector.aclose()
