"""Creatio connector: forms or OAuth auth, OData 4 reads and idempotent writes.

client = CreatioClient.from_settings()          # once per worker
cursor = await client.open_changes("Account", since)
page = await client.read_page(cursor)            # page.records, page.next
await client.create("Account", values, id=deterministic_id("intacct", "CUSTOMER", key))
"""

# The package's public names, re-exported: these import lists repeat client.py's on purpose.
from shared.connectors.creatio.client import (
    CreatioClient,
    changed_columns,
    deterministic_id,
    normalise,
)
from shared.connectors.creatio.config import CreatioConfig
from shared.connectors.creatio.models import (
    BatchOperation,
    BatchOutcome,
    CreatioChangeCursor,
    CreatioChangePage,
    Record,
    WriteResult,
)
from shared.connectors.creatio.objects import CLOSED_WON, OBJECTS, CreatioObject

__all__ = [
    "CLOSED_WON",
    "OBJECTS",
    "BatchOperation",
    "BatchOutcome",
    "CreatioChangeCursor",
    "CreatioChangePage",
    "CreatioClient",
    "CreatioConfig",
    "CreatioObject",
    "Record",
    "WriteResult",
    "changed_columns",
    "deterministic_id",
    "normalise",
]
