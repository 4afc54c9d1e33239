"""A create whose answer is lost after Dataverse wrote it (the connection is reset, as the
emulator's `drop_after` does) is retried as an upsert by the Creatio alternate key: exactly
one record, with the source's values, and the id the engine gets back is that record's."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from shared.connectors.dataverse import DataverseClient
from shared.connectors.dataverse.sync import DataverseSync
from shared.connectors.protocol import SourceRef
from tests.support.dataverse import RunningDataverse, config

CREATIO_ID = "8f1c2a34-0000-4000-8000-0000000000c1"


@pytest.fixture
async def sync(dataverse: RunningDataverse) -> AsyncIterator[DataverseSync]:
    # A short timeout of its own: a held answer is given up on quickly.
    connector = DataverseSync(DataverseClient(config(dataverse, timeout_s=0.5)))
    try:
        yield connector
    finally:
        await connector.aclose()


@pytest.mark.parametrize("fault", ["drop_after", "timeout"])
async def test_a_create_whose_answer_was_lost_leaves_exactly_one_record(
    dataverse: RunningDataverse,
    sync: DataverseSync,
    fault: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dataverse.admin.knobs(timeout_s=30)  # held until the client's own timeout gives up
    dataverse.admin.faults({"fault": fault, "method": "PATCH", "times": 1})
    with caplog.at_level(logging.WARNING, "shuttle.connectors.dataverse"):
        outcome = await sync.create(
            "account",
            {"name": "Lost & Found <Ltd>", "accountnumber": "LF-1"},
            source=SourceRef(system="creatio", object="Account", id=CREATIO_ID),
        )
    (row,) = dataverse.admin.rows("account")
    assert (row["name"], row["accountnumber"]) == ("Lost & Found <Ltd>", "LF-1")
    assert row["shuttle_creatioaccountid"] == CREATIO_ID
    assert outcome.id == row["accountid"]
    stats = dataverse.admin.stats()
    expected = "dropped_after" if fault == "drop_after" else "timeout"
    assert stats["statuses"][f"PATCH /api/data/v9.2/accounts({{key}}) {expected}"] == 1
    assert stats["calls"]["PATCH /api/data/v9.2/accounts({key})"] == 2  # sent again once
    assert stats["in_flight"] == 0 and stats["held"] == 0
    # The client saw a lost connection or its own timeout (a transient connection failure,
    # retried), never a server error.
    (retry,) = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    expected_error = "RemoteProtocolError" if fault == "drop_after" else "ReadTimeout"
    assert f"no answer from Dataverse ({expected_error})" in retry, retry
