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
def table_prefix(request: pytest.FixtureRequest) -> Iterator[str]:
    """A table-name prefix of its own for each test, so tests never see each other's rows.

    After the test, every run it left in storage must account for every record it read:
    read = created + updated + unchanged + skipped + failed + pending."""
    prefix = "t" + uuid.uuid4().hex[:12]
    yield prefix
    if "storage_connection_string" in request.fixturenames:
        _assert_runs_balanced(request.getfixturevalue("storage_connection_string"), prefix)


def _assert_runs_balanced(connection: str, prefix: str) -> None:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.data.tables import TableClient

    from shared.flows.models import RunCounts

    with TableClient.from_connection_string(connection, f"{prefix}runs") as table:
        try:
            rows = list(table.query_entities("PartitionKey ne ''", select=["RowKey", "counts"]))
        except ResourceNotFoundError:
            return
    for row in rows:
        if row.get("counts"):
            RunCounts.model_validate_json(row["counts"])  # raises when they do not add up
