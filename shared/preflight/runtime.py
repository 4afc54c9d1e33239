"""The preflight service over a worker's Services: its connectors (their raw clients, so
sessions and tokens are shared with the sync) and its storage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.preflight.service import PreflightService
from shared.preflight.store import PreflightStore

if TYPE_CHECKING:
    from shared.runtime import Services


def preflight_of(services: Services) -> PreflightService:
    async def client_of(system: str) -> Any:
        return (await services.connectors.get(system)).client  # type: ignore[attr-defined]

    table = services.storage.tables.get_table_client(f"{services.settings.table_prefix}preflight")
    return PreflightService(
        services.catalog,
        client_of,
        PreflightStore(table),
        configured=services.settings.connection_configured,
    )
