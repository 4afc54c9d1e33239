"""IntacctSync (the engine's SyncConnector) against the emulator over real HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.connectors.errors import ConnectorError
from shared.connectors.intacct import IntacctClient, IntacctSync, derived_id
from shared.connectors.intacct.objects import OBJECTS
from shared.connectors.protocol import Reference, SourceRef, SyncConnector
from shared.errors import ErrorCategory
from tests.support.intacct import RunningIntacct, config

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2030, 1, 1, tzinfo=UTC)


def _source(id: str) -> SourceRef:
    return SourceRef(system="creatio", object="Account", id=id)


def test_is_a_sync_connector(sync: IntacctSync) -> None:
    assert isinstance(sync, SyncConnector) and sync.system == "intacct"


def test_derived_ids_are_short_deterministic_and_distinct() -> None:
    customer = OBJECTS["CUSTOMER"]
    first = derived_id(customer, _source("a-1"))
    assert first == derived_id(customer, _source("a-1"))
    assert first != derived_id(customer, _source("a-2"))
    assert len(first) == 20 and first.startswith("SHC-") and first.isascii()


async def test_create_is_idempotent(sync: IntacctSync, intacct: RunningIntacct) -> None:
    first = await sync.create("CUSTOMER", {"NAME": "Acme"}, source=_source("a-1"))
    again = await sync.create("CUSTOMER", {"NAME": "Acme"}, source=_source("a-1"))
    assert first.created is True and again.created is False
    assert first.id == again.id == derived_id(OBJECTS["CUSTOMER"], _source("a-1"))
    assert len(intacct.admin.rows("CUSTOMER")) == 1
    record = await sync.get("CUSTOMER", first.id)
    assert record is not None and record.values["NAME"] == "Acme"


async def test_create_keeps_a_given_id_and_renders_references(
    sync: IntacctSync, intacct: RunningIntacct
) -> None:
    await sync.create("CUSTOMER", {"CUSTOMERID": "C-9", "NAME": "Nine"}, source=_source("x"))
    await sync.create("ITEM", {"ITEMID": "I-1", "NAME": "Bolt"}, source=_source("i"))
    order = await sync.create(
        "SODOCUMENT",
        {
            "TRANSACTIONTYPE": "Sales Order",
            "CUSTOMERID": Reference(object="CUSTOMER", id="C-9"),
            "lines": [
                {"ITEMID": Reference(object="ITEM", id="I-1"), "QUANTITY": 3, "PRICE": "2.5"}
            ],
        },
        source=SourceRef(system="creatio", object="Opportunity", id="o-1"),
    )
    assert order.created and order.id.isdigit()
    record = await sync.get("SODOCUMENT", order.id)
    assert record is not None
    assert record.values["CUSTOMERID"] == "C-9" and record.values["TOTAL"] == "7.50"
    assert [(line["ITEMID"], line["QUANTITY"]) for line in record.values["lines"]] == [("I-1", "3")]
    assert record.values["DOCNO"] == derived_id(
        OBJECTS["SODOCUMENT"], SourceRef(system="creatio", object="Opportunity", id="o-1")
    )


async def test_update_writes_only_given_values(sync: IntacctSync, intacct: RunningIntacct) -> None:
    made = await sync.create(
        "CUSTOMER", {"NAME": "A", "DISPLAYCONTACT.EMAIL1": "a@x.test"}, source=_source("u")
    )
    await sync.update("CUSTOMER", made.id, {"DISPLAYCONTACT.PHONE1": "555"})
    record = await sync.get("CUSTOMER", made.id)
    assert record is not None
    assert record.values["NAME"] == "A"
    assert record.values["DISPLAYCONTACT.EMAIL1"] == "a@x.test"
    assert record.values["DISPLAYCONTACT.PHONE1"] == "555"
    with pytest.raises(ConnectorError) as raised:
        await sync.update("CUSTOMER", "NOPE", {"NAME": "x"})
    assert raised.value.category is ErrorCategory.NOT_FOUND


async def test_paging_exactly_once_with_identical_timestamps(intacct: RunningIntacct) -> None:
    stamp = "06/15/2024 10:00:00"
    rows = [{"CUSTOMERID": f"C{i:04}", "NAME": "n", "WHENMODIFIED": stamp} for i in range(1000)]
    rows.append({"CUSTOMERID": "LATER", "NAME": "n", "WHENMODIFIED": "06/15/2024 10:00:01"})
    intacct.admin.seed({"CUSTOMER": rows})
    first = IntacctSync(IntacctClient(config(intacct.endpoint)))
    cursor: dict | None = await first.open_changes(
        "CUSTOMER", since=SINCE, until=UNTIL, page_size=300
    )
    await first.aclose()
    seen: list[str] = []
    pages = 0
    while cursor is not None:
        cursor = json.loads(json.dumps(cursor))  # as if read in another process...
        worker = IntacctSync(IntacctClient(config(intacct.endpoint)))  # ...with its own session
        try:
            page = await worker.read_changes(cursor)
        finally:
            await worker.aclose()
        seen += [r.id for r in page.records]
        cursor = page.cursor
        pages += 1
    assert len(seen) == len(set(seen)) == 1001
    assert seen[-1] == "LATER" and seen[:1000] == [f"C{i:04}" for i in range(1000)]
    assert pages == 4


async def test_window_bounds_are_converted_to_company_time(
    sync: IntacctSync, intacct: RunningIntacct
) -> None:
    # 10:00 in Los Angeles on 15 June 2024 (PDT, UTC-7) is 17:00 UTC.
    intacct.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": "BEFORE", "NAME": "n", "WHENMODIFIED": "06/15/2024 09:59:59"},
                {"CUSTOMERID": "AT", "NAME": "n", "WHENMODIFIED": "06/15/2024 10:00:00"},
                {"CUSTOMERID": "END", "NAME": "n", "WHENMODIFIED": "06/15/2024 10:05:00"},
                {"CUSTOMERID": "AFTER", "NAME": "n", "WHENMODIFIED": "06/15/2024 10:05:01"},
            ]
        }
    )
    since = datetime(2024, 6, 15, 17, 0, 0, tzinfo=UTC)
    until = since + timedelta(minutes=5)
    cursor = await sync.open_changes("CUSTOMER", since=since, until=until)
    page = await sync.read_changes(cursor)
    assert [r.id for r in page.records] == ["AT", "END"]  # both bounds inclusive
    assert page.records[0].modified == since  # read back as UTC
    assert await sync.count_changes("CUSTOMER", since=since, until=until) == 2


async def test_time_zone_is_configurable(intacct: RunningIntacct) -> None:
    intacct.admin.options(timezone="Europe/Berlin")
    intacct.admin.seed(
        {"CUSTOMER": [{"CUSTOMERID": "B", "NAME": "n", "WHENMODIFIED": "01/10/2024 12:00:00"}]}
    )
    connector = IntacctSync(IntacctClient(config(intacct.endpoint, timezone="Europe/Berlin")))
    try:
        noon_utc = datetime(2024, 1, 10, 11, 0, 0, tzinfo=UTC)  # 12:00 CET
        page = await connector.read_changes(
            await connector.open_changes("CUSTOMER", since=noon_utc, until=noon_utc)
        )
    finally:
        await connector.aclose()
    assert [(r.id, r.modified) for r in page.records] == [("B", noon_utc)]


async def test_find_with_special_characters(sync: IntacctSync, intacct: RunningIntacct) -> None:
    tricky = 'O\'Brien & <Sons> "Ltd" \u2019 é % _ ]]>'
    intacct.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": "T1", "NAME": tricky, "DISPLAYCONTACT": {"EMAIL1": "a&b@x.test"}},
                {"CUSTOMERID": "T2", "NAME": "O'Brien"},
                {"CUSTOMERID": "T3", "NAME": "O%"},
            ]
        }
    )
    found = await sync.find("CUSTOMER", {"NAME": tricky})
    assert [r.id for r in found] == ["T1"]
    assert found[0].values["NAME"] == tricky
    found = await sync.find("CUSTOMER", {"DISPLAYCONTACT.EMAIL1": "a&b@x.test"})
    assert [r.id for r in found] == ["T1"]
    assert await sync.find("CUSTOMER", {"NAME": "O_"}) == []


async def test_documents_read_with_lines_in_changes(
    sync: IntacctSync, intacct: RunningIntacct
) -> None:
    intacct.admin.seed({"CUSTOMER": [{"CUSTOMERID": "C1", "NAME": "A"}]})
    made = await sync.create(
        "ARINVOICE",
        {
            "CUSTOMERID": "C1",
            "lines": [
                {"TRX_AMOUNT": "10.00", "ACCOUNTNO": "4000"},
                {"TRX_AMOUNT": "2.50", "ACCOUNTNO": "4000"},
            ],
        },
        source=_source("inv-1"),
    )
    page = await sync.read_changes(await sync.open_changes("ARINVOICE", since=SINCE, until=UNTIL))
    (record,) = page.records
    assert record.id == made.id
    assert record.values["TOTALENTERED"] == "12.50"
    assert [line["TRX_AMOUNT"] for line in record.values["lines"]] == ["10.00", "2.50"]


async def test_get_missing_is_none(sync: IntacctSync) -> None:
    assert await sync.get("CUSTOMER", "NOPE") is None
    assert await sync.get("ARINVOICE", "999") is None


async def test_bad_cursor_and_object_are_validation_errors(sync: IntacctSync) -> None:
    with pytest.raises(ConnectorError) as raised:
        await sync.read_changes({"object": "CUSTOMER"})
    assert raised.value.category is ErrorCategory.VALIDATION
    with pytest.raises(ConnectorError) as raised:
        await sync.open_changes("VENDOR", since=SINCE, until=UNTIL)
    assert raised.value.category is ErrorCategory.VALIDATION
