"""Attach the deployment-wide limits to the connectors a worker builds (shared/runtime.py).

- Intacct: a `LeaseSemaphore` keyed by company (+ entity) with `INTACCT_MAX_IN_FLIGHT`
  slots, held around every gateway request (logins too: the gateway counts them all).
- Dataverse: a `SharedCap` keyed by environment + application user, read and written by the
  client's service protection.
Connectors built without this (unit tests of clients, tools) keep their in-process limits.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from azure.data.tables.aio import TableClient

from shared.connectors.protocol import SyncConnector
from shared.limits.cap import SharedCap
from shared.limits.keys import table_key
from shared.limits.semaphore import LeaseSemaphore

# A lease outlives the request it covers: httpx's timeout bounds each phase (connect, write,
# each read), not the whole request, so twice the timeout plus a margin.
LEASE_MARGIN_S = 10.0


def lease_seconds(timeout_s: float) -> float:
    return 2 * timeout_s + LEASE_MARGIN_S


class DeploymentLimits:
    def __init__(self, table: TableClient, *, cap_refresh_s: float = 5.0) -> None:
        self.table = table
        self.cap_refresh_s = cap_refresh_s

    def attach(self, connector: SyncConnector) -> None:
        from shared.connectors.dataverse.client import DataverseClient
        from shared.connectors.intacct.client import IntacctClient

        client = getattr(connector, "client", None)
        if isinstance(client, IntacctClient):
            config = client.config
            client.gate = LeaseSemaphore(
                self.table,
                table_key("intacct", config.company_id, config.entity_id),
                config.max_in_flight,
                lease_s=lease_seconds(config.timeout_s),
            )
        elif isinstance(client, DataverseClient):
            host = urlsplit(client.config.api_base).netloc
            client.protection.shared = SharedCap(
                self.table,
                table_key("dataverse", host, client.config.client_id),
                refresh_s=self.cap_refresh_s,
            )
