"""Async Table and Queue service clients from the app's storage settings.

Two ways in, as the Functions runtime itself: a connection string in `AzureWebJobsStorage`
(Azurite locally), or identity-based `AzureWebJobsStorage__*` settings in Azure (no keys).
"""

from __future__ import annotations

from dataclasses import dataclass

from azure.core.credentials_async import AsyncTokenCredential
from azure.data.tables.aio import TableServiceClient
from azure.storage.queue import TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from shared.queue_names import queue_name
from shared.settings import Settings


@dataclass
class StorageClients:
    tables: TableServiceClient
    queues: QueueServiceClient
    credential: AsyncTokenCredential | None = None
    # SHUTTLE_TABLE_PREFIX: `queue("flow-runs")` is this deployment's `<prefix>-flow-runs`.
    queue_prefix: str | None = None

    def queue(self, name: str) -> QueueClient:
        # Base64 on the wire: the Functions queue trigger decodes base64 by default, and
        # plain text from the SDK would silently land in the poison queue. The policy must
        # be given here: a QueueServiceClient does not pass its own on to its queue clients.
        if self.queue_prefix:
            name = queue_name(self.queue_prefix, name)
        return self.queues.get_queue_client(name, message_encode_policy=TextBase64EncodePolicy())

    async def close(self) -> None:
        await self.tables.close()
        await self.queues.close()
        if self.credential is not None:
            await self.credential.close()


def build_storage_clients(settings: Settings) -> StorageClients:
    if settings.storage_connection is not None:
        conn = settings.storage_connection.get_secret_value()
        return StorageClients(
            tables=TableServiceClient.from_connection_string(conn),
            queues=QueueServiceClient.from_connection_string(conn),
            queue_prefix=settings.table_prefix,
        )
    account = settings.storage_account_name
    table_uri = settings.storage_table_uri or (
        account and f"https://{account}.table.core.windows.net"
    )
    queue_uri = settings.storage_queue_uri or (
        account and f"https://{account}.queue.core.windows.net"
    )
    if not table_uri or not queue_uri:
        raise RuntimeError(
            "storage is not configured: set AzureWebJobsStorage (a connection string; "
            "UseDevelopmentStorage=true locally) or AzureWebJobsStorage__accountName"
        )
    from azure.identity.aio import ManagedIdentityCredential

    credential = ManagedIdentityCredential(client_id=settings.storage_client_id)
    return StorageClients(
        tables=TableServiceClient(table_uri, credential=credential),
        queues=QueueServiceClient(queue_uri, credential=credential),
        credential=credential,
        queue_prefix=settings.table_prefix,
    )
