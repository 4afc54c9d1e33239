"""Session-wide fixtures: one real Azurite for the whole test session, on free ports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from sandbox.azurite import Azurite, StoragePorts, free_port


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """Azurite started by the test session (in memory) and stopped at its end."""
    instance = Azurite(StoragePorts(free_port(), free_port(), free_port()))
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def storage_connection_string(azurite: Azurite) -> str:
    return azurite.connection_string


@pytest.fixture
def table_prefix() -> str:
    """A table-name prefix of its own for each test, so tests never see each other's rows."""
    return "t" + uuid.uuid4().hex[:12]
