"""MemoryConnector (tests/support/memory_connector.py): the in-memory SyncConnector the
engine tests run against."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.connectors.errors import ConnectorError
from shared.connectors.protocol import LINES_FIELD, Reference, SourceRef, SyncConnector
from shared.errors import ErrorCategory
from tests.support.memory_connector import MemoryConnector, TickClock

T0 = datetime(2024, 5, 1, tzinfo=UTC)
SOURCE = SourceRef(system="crm", object="Account", id="A-1")


def _error(category: ErrorCategory = ErrorCategory.CONNECTION) -> ConnectorError:
    return ConnectorError("boom", category=category, system="erp")


async def _read_all(conn: MemoryConnector, since: datetime, until: datetime, size: int) -> list:
    cursor: dict[str, Any] | None = await conn.open_changes(
        "Customer", since=since, until=until, page_size=size
    )
    records = []
    while cursor is not None:
        page = await conn.read_changes(json.loads(json.dumps(cursor)))
        records += page.records
        cursor = page.cursor
    return records


async def test_it_is_a_sync_connector_with_its_own_name() -> None:
    conn = MemoryConnector("erp")
    assert isinstance(conn, SyncConnector) and conn.system == "erp"
    await conn.check()
    await conn.aclose()
    assert conn.closed and conn.calls["check"] == 1


async def test_changes_page_by_modified_and_id_with_ties_exactly_once() -> None:
    conn = MemoryConnector("erp")
    ties = {conn.seed("Customer", {"n": i}, modified=T0 + timedelta(hours=1)) for i in range(25)}
    edge = {
        conn.seed("Customer", {"n": "since"}, modified=T0),
        conn.seed("Customer", {"n": "until"}, modified=T0 + timedelta(hours=2)),
    }
    conn.seed("Customer", {"n": "before"}, modified=T0 - timedelta(microseconds=1))
    conn.seed("Customer", {"n": "after"}, modified=T0 + timedelta(hours=2, microseconds=1))
    records = await _read_all(conn, T0, T0 + timedelta(hours=2), size=4)
    assert Counter(r.id for r in records) == Counter(ties | edge)
    keys = [(r.modified, r.id) for r in records]
    assert keys == sorted(keys)
    assert conn.calls["read"] == 7  # 27 records in pages of 4
    assert await conn.count_changes("Customer", since=T0, until=T0 + timedelta(hours=2)) == 27


async def test_an_empty_window_and_field_selection() -> None:
    conn = MemoryConnector()
    record_id = conn.seed("Customer", {"Name": "Acme", "Code": "A"}, modified=T0)
    page = await conn.read_changes(
        await conn.open_changes("Customer", since=T0 + timedelta(1), until=T0 + timedelta(2))
    )
    assert (page.records, page.cursor) == ([], None)
    got = await conn.get("Customer", record_id, fields=["Name"])
    assert got is not None and got.values == {"Name": "Acme"} and got.modified == T0
    assert await conn.get("Customer", "nope") is None


async def test_find_matches_every_criterion_up_to_the_limit() -> None:
    conn = MemoryConnector()
    acme = conn.seed("Customer", {"Name": "O'Brien & Co", "Active": True})
    conn.seed("Customer", {"Name": "O'Brien & Co", "Active": False})
    conn.seed("Customer", {"Name": "Other", "Active": True, "Parent": acme})
    conn.seed("Customer", {"Name": "Other 2", "Active": True, "Parent": acme})
    found = await conn.find("Customer", {"Name": "O'Brien & Co", "Active": True})
    assert [r.id for r in found] == [acme]
    children = await conn.find("Customer", {"Parent": Reference(object="Customer", id=acme)})
    assert len(children) == 2
    assert len(await conn.find("Customer", {"Active": True}, limit=1)) == 1


async def test_create_is_idempotent_by_source_and_stores_references_as_ids() -> None:
    conn = MemoryConnector("erp")
    parent = conn.seed("Customer", {"Name": "Parent"})
    values = {
        "Name": "Acme",
        "Parent": Reference(object="Customer", id=parent),
        LINES_FIELD: [{"Item": Reference(object="Item", id="I-1"), "Qty": 2}],
    }
    first = await conn.create("Customer", values, source=SOURCE)
    again = await conn.create("Customer", values, source=SOURCE)
    assert (first.created, again.created, again.id) == (True, False, first.id)
    assert again.modified == first.modified
    assert conn.values("Customer", first.id) == {
        "Name": "Acme",
        "Parent": parent,
        LINES_FIELD: [{"Item": "I-1", "Qty": 2}],
    }
    assert len(conn.records["Customer"]) == 2 and conn.calls["create"] == 2


async def test_a_configured_id_field_names_the_record() -> None:
    conn = MemoryConnector(id_fields={"Customer": "CUSTOMERID"})
    made = await conn.create("Customer", {"CUSTOMERID": "C-7"}, source=SOURCE)
    assert made.id == "C-7"
    with pytest.raises(ConnectorError) as raised:
        await conn.create("Customer", {"Name": "x"}, source=SOURCE.model_copy(update={"id": "2"}))
    assert (raised.value.category, raised.value.field) == (ErrorCategory.VALIDATION, "CUSTOMERID")
    with pytest.raises(ConnectorError) as raised:
        third = SOURCE.model_copy(update={"id": "3"})
        await conn.create("Customer", {"CUSTOMERID": "C-7"}, source=third)
    assert raised.value.category is ErrorCategory.DUPLICATE


async def test_update_merges_and_moves_modified_on_the_controlled_clock() -> None:
    clock = TickClock(T0, timedelta(minutes=1))
    conn = MemoryConnector(clock=clock)
    record_id = conn.seed("Customer", {"Name": "Before", "Code": "A"})
    outcome = await conn.update("Customer", record_id, {"Name": "After"})
    assert outcome.modified == T0 + timedelta(minutes=2)
    assert conn.values("Customer", record_id) == {"Name": "After", "Code": "A"}
    with pytest.raises(ConnectorError) as raised:
        await conn.update("Customer", "missing", {"Name": "x"})
    assert raised.value.category is ErrorCategory.NOT_FOUND


async def test_fail_next_raises_that_many_times_then_works() -> None:
    conn = MemoryConnector()
    conn.fail_next("create", _error(ErrorCategory.RATE_LIMIT), times=2)
    for _ in range(2):
        with pytest.raises(ConnectorError) as raised:
            await conn.create("Customer", {"Name": "x"}, source=SOURCE)
        assert raised.value.category is ErrorCategory.RATE_LIMIT
    assert conn.records["Customer"] == {}  # a failed call did nothing
    assert (await conn.create("Customer", {"Name": "x"}, source=SOURCE)).created
    assert conn.calls["create"] == 3


async def test_a_lost_create_answer_is_found_by_the_retry() -> None:
    conn = MemoryConnector()
    conn.lose_answer_next("create")
    with pytest.raises(ConnectorError) as raised:
        await conn.create("Customer", {"Name": "x"}, source=SOURCE)
    assert raised.value.category is ErrorCategory.CONNECTION and raised.value.retryable
    assert len(conn.records["Customer"]) == 1  # it happened
    retry = await conn.create("Customer", {"Name": "x"}, source=SOURCE)
    assert retry.created is False and len(conn.records["Customer"]) == 1


async def test_validators_reject_values_like_a_target_would() -> None:
    def no_long_names(values: dict[str, Any]) -> None:
        if len(values.get("Name", "")) > 5:
            raise ConnectorError(
                "Name too long", category=ErrorCategory.VALIDATION, system="erp", field="Name"
            )

    conn = MemoryConnector(validators={"Customer": no_long_names})
    with pytest.raises(ConnectorError) as raised:
        await conn.create("Customer", {"Name": "far too long"}, source=SOURCE)
    assert raised.value.field == "Name" and conn.records["Customer"] == {}
    made = await conn.create("Customer", {"Name": "ok"}, source=SOURCE)
    with pytest.raises(ConnectorError):
        await conn.update("Customer", made.id, {"Name": "far too long"})
    assert conn.values("Customer", made.id)["Name"] == "ok"


async def test_reads_hand_out_copies_and_count_calls() -> None:
    conn = MemoryConnector()
    record_id = conn.seed("Customer", {"Tags": ["a"]})
    got = await conn.get("Customer", record_id)
    assert got is not None
    got.values["Tags"].append("b")
    assert conn.values("Customer", record_id) == {"Tags": ["a"]}
    await conn.find("Customer", {"Tags": ["a"]})
    assert conn.writes == 0
    assert (conn.calls["get"], conn.calls["find"]) == (1, 1)
