"""Dataverse (Dynamics 365) connector: MSAL client credentials, the Web API v9.2 client
(`DataverseClient`) and the engine-facing `DataverseSync`."""

from shared.connectors.dataverse.client import DataverseClient
from shared.connectors.dataverse.config import SYSTEM, DataverseConfig
from shared.connectors.dataverse.models import (
    BatchOperation,
    BatchResult,
    ChangeSet,
    DataverseChangesPage,
    Page,
    WriteResult,
)

__all__ = [
    "SYSTEM",
    "BatchOperation",
    "BatchResult",
    "ChangeSet",
    "DataverseChangesPage",
    "DataverseClient",
    "DataverseConfig",
    "Page",
    "WriteResult",
]
