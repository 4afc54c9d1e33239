"""The session's identity and Dataverse emulators (HTTPS, reset per test)."""

from tests.support.dataverse import dataverse, dataverse_server

__all__ = ["dataverse", "dataverse_server"]
