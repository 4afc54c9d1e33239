"""CreatioSync, the engine's view of Creatio, against the emulator over real HTTP."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest

from shared.connectors.creatio import CreatioClient, deterministic_id
from shared.connectors.creatio.sync import CreatioSync
from shared.connectors.errors import ConnectorError
from shared.connectors.protocol import LINES_FIELD, Reference, SourceRef, SyncConnector
from shared.errors import ErrorCategory
from shared.settings import Settings
from tests.support.creatio import PASSWORD, USER, RunningCreatio, config

SINCE = datetime(2024, 5, 1, tzinfo=UTC)
UNTIL = datetime(2024, 5, 1, 12, tzinfo=UTC)
TIE = "2024-05-01T10:00:00.1234567Z"
SOURCE = SourceRef(system="intacct", object="CUSTOMER", id="C-1")


@pytest.fixture
async def sync(creatio: RunningCreatio) -> AsyncIterator[CreatioSync]:
    connector = CreatioSync(CreatioClient(config(creatio.url)))
    yield connector
    await connector.aclose()


def _products(count: int, stamp: str, prefix: str) -> list[dict[str, Any]]:
    return [
        {"Id": str(uuid.uuid4()), "Name": f"{prefix}{i:04d}", "ModifiedOn": stamp, "Price": 12.5}
        for i in range(count)
    ]


async def _read_window(sync: CreatioSync, page_size: int, **kwargs: Any) -> tuple[list, int]:
    cursor: Mapping[str, Any] | None = await sync.open_changes(
        "Product", since=SINCE, until=UNTIL, page_size=page_size, **kwargs
    )
    records, pages = [], 0
    while cursor is not None:
        # The cursor travels in a queue message: it must survive JSON on every page.
        page = await sync.read_changes(json.loads(json.dumps(cursor)))
        records += page.records
        cursor = page.cursor
        pages += 1
    return records, pages


def _ids(rows: list[dict[str, Any]]) -> set[str]:
    return {r["Id"] for r in rows}


async def test_it_is_a_sync_connector_named_creatio(sync: CreatioSync) -> None:
    assert isinstance(sync, SyncConnector)
    assert sync.system == "creatio"
    await sync.check()


async def test_a_window_reads_a_thousand_ties_and_its_bounds_exactly_once(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    ties = _products(1000, TIE, "tie")
    at_since = _products(3, "2024-05-01T00:00:00Z", "since")
    at_until = _products(3, "2024-05-01T12:00:00Z", "until")
    before = _products(4, "2024-04-30T23:59:59.9999999Z", "before")
    # After `until` by a tenth of a microsecond: beyond Python's precision, still outside.
    after = _products(4, "2024-05-01T12:00:00.0000001Z", "after")
    creatio.admin.seed({"Product": ties + at_since + at_until + before + after})

    records, pages = await _read_window(sync, page_size=150)

    counts = Counter(r.id for r in records)
    assert max(counts.values()) == 1, "a record came back twice"
    assert set(counts) == _ids(ties + at_since + at_until)
    assert pages >= 1006 // 150  # the ties really crossed page boundaries
    keys = [(r.modified, uuid.UUID(r.id)) for r in records]
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    tie = next(r for r in records if r.values["Name"] == "tie0000")
    assert tie.modified == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert tie.values["ModifiedOn"] == TIE  # Creatio's own string, all 7 digits
    assert await sync.count_changes("Product", since=SINCE, until=UNTIL) == 1006


async def test_values_are_json_able_with_lookups_as_guid_strings(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    rows = _products(2, TIE, "p")
    creatio.admin.seed({"Product": rows})
    records, _ = await _read_window(sync, page_size=10, fields=["Name", "Price", "CurrencyId"])
    assert {r.id for r in records} == _ids(rows)
    values = records[0].values
    json.dumps(values)  # no Decimal, UUID or datetime left
    assert values["Price"] == 12.5
    assert set(values) == {"Id", "ModifiedOn", "Name", "Price", "CurrencyId"}
    currency = creatio.admin.lookups()["Currency"]["USD"]
    usd = Reference(object="Currency", id=currency)
    await sync.update("Product", records[0].id, {"CurrencyId": usd})
    read = await sync.get("Product", records[0].id, fields=["CurrencyId"])
    assert read is not None and read.values["CurrencyId"] == currency
    assert isinstance(read.values["CurrencyId"], str)


async def test_a_server_continuation_survives_the_json_cursor(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    creatio.admin.options(server_page_size=7, next_link_style="skiptoken")
    rows = _products(40, TIE, "s")
    creatio.admin.seed({"Product": rows})
    records, pages = await _read_window(sync, page_size=20)
    assert sorted(r.id for r in records) == sorted(_ids(rows))
    assert pages >= 40 // 7
    assert any("$skiptoken" in unquote(r["query"]) for r in creatio.admin.requests())


async def test_an_empty_window_ends_at_once(sync: CreatioSync) -> None:
    cursor = await sync.open_changes("Product", since=SINCE, until=UNTIL)
    page = await sync.read_changes(cursor)
    assert (page.records, page.cursor) == ([], None)
    assert await sync.count_changes("Product", since=SINCE, until=UNTIL) == 0


async def test_get_returns_the_record_or_none(sync: CreatioSync) -> None:
    made = await sync.create(
        "Account",
        {"Name": "Getme", "Code": "G-1"},
        source=SourceRef(system="intacct", object="CUSTOMER", id="G1"),
    )
    record = await sync.get("Account", made.id, fields=["Name"])
    assert record is not None
    assert (record.id, record.values["Name"]) == (made.id, "Getme")
    assert "Code" not in record.values and record.modified.tzinfo is not None
    assert record.modified == made.modified
    assert await sync.get("Account", str(uuid.uuid4())) is None
    with pytest.raises(ConnectorError) as raised:
        await sync.get("Account", "C-100")
    assert (raised.value.category, raised.value.field) == (ErrorCategory.VALIDATION, "Id")


async def test_find_quotes_values_and_types_guids(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    tricky = "O'Brien & Sons #1"
    account = str(uuid.uuid4())
    creatio.admin.seed(
        {
            "Account": [
                {"Id": account, "Name": tricky, "UsrActive": True},
                {"Name": "O'Brien", "UsrActive": True},
                {"Name": tricky, "UsrActive": True, "ParentId": account},
            ],
            "Contact": [
                {"Name": "Ann", "AccountId": account},
                {"Name": "Bob", "AccountId": account},
                {"Name": "Cy"},
            ],
        }
    )
    found = await sync.find("Account", {"Name": tricky, "UsrActive": True, "ParentId": None})
    assert [r.id for r in found] == [account]
    contacts = await sync.find("Contact", {"AccountId": account}, fields=["Name"], limit=10)
    assert sorted(r.values["Name"] for r in contacts) == ["Ann", "Bob"]
    as_reference = Reference(object="Account", id=account)
    by_reference = await sync.find("Contact", {"AccountId": as_reference})
    assert len(by_reference) == 2
    assert await sync.find("Account", {"Name": "O'Brien & Sons"}) == []
    # A GUID-looking value on a text column stays a string literal.
    assert await sync.find("Account", {"Name": account}) == []


async def test_create_is_idempotent_by_source_and_renders_references(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    contact = await sync.create(
        "Contact", {"Name": "Ann"}, source=SourceRef(system="intacct", object="CONTACT", id="1")
    )
    source = SourceRef(system="intacct", object="CUSTOMER", id="C-1")
    values = {"Name": "Acme", "PrimaryContactId": Reference(object="Contact", id=contact.id)}
    first = await sync.create("Account", values, source=source)
    again = await sync.create("Account", values, source=source)
    expected = str(deterministic_id("intacct", "CUSTOMER", "C-1"))
    assert (first.id, first.created) == (expected, True)
    assert (again.id, again.created) == (expected, False)
    assert first.modified is not None and again.modified == first.modified
    rows = [r for r in creatio.rows("Account") if r["Name"] == "Acme"]
    assert len(rows) == 1 and str(rows[0]["PrimaryContactId"]) == contact.id
    assert creatio.admin.writes("create Account") == 1


def _document_with_lines(creatio: RunningCreatio) -> tuple[dict[str, Any], list[str]]:
    products = _products(2, TIE, "line")
    creatio.admin.seed({"Product": products})
    lines = [
        {"ProductId": Reference(object="Product", id=p["Id"]), "Quantity": n + 1, "Price": 9.5}
        for n, p in enumerate(products)
    ]
    return {"Notes": "with lines", LINES_FIELD: lines}, [p["Id"] for p in products]


async def test_an_order_is_created_with_its_lines_once(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    source = SourceRef(system="intacct", object="SODOCUMENT", id="Sales Order-SO-1")
    values, products = _document_with_lines(creatio)
    first = await sync.create("Order", values, source=source)
    again = await sync.create("Order", values, source=source)
    assert (first.created, again.created, again.id) == (True, False, first.id)
    orders = [r for r in creatio.rows("Order") if r["Notes"] == "with lines"]
    assert len(orders) == 1
    lines = creatio.rows("OrderProduct")
    assert len(lines) == 2  # the repeat did not add twins
    assert {str(r["OrderId"]) for r in lines} == {first.id}
    assert sorted(str(r["ProductId"]) for r in lines) == sorted(products)
    assert sorted(r["Quantity"] for r in lines) == [1, 2]
    # The engine reads lines back by their parent lookup.
    found = await sync.find("OrderProduct", {"OrderId": first.id}, limit=1000)
    assert {r.id for r in found} == {str(r["Id"]) for r in lines}


async def test_a_repeat_after_a_crash_before_the_lines_completes_them(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    source = SourceRef(system="intacct", object="ARINVOICE", id="INV-9")
    values, _ = _document_with_lines(creatio)
    # The first attempt made the header, then died before its lines.
    header = deterministic_id("intacct", "ARINVOICE", "INV-9")
    await sync.client.create("Invoice", {"Notes": "with lines"}, id=header)
    outcome = await sync.create("Invoice", values, source=source)
    assert (outcome.id, outcome.created) == (str(header), False)
    lines = creatio.rows("InvoiceProduct")
    assert len(lines) == 2 and {str(r["InvoiceId"]) for r in lines} == {str(header)}


async def test_lines_on_an_object_without_lines_are_refused_before_any_write(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    source = SourceRef(system="intacct", object="CUSTOMER", id="L")
    with pytest.raises(ConnectorError) as raised:
        await sync.create("Account", {"Name": "x", LINES_FIELD: [{"a": 1}]}, source=source)
    assert (raised.value.category, raised.value.field) == (ErrorCategory.VALIDATION, "lines")
    assert creatio.admin.calls("POST /0/odata/Account") == 0


async def test_a_bad_line_names_its_field_and_line(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    source = SourceRef(system="intacct", object="SODOCUMENT", id="bad")
    values = {"Notes": "x", LINES_FIELD: [{"Quantity": 1}, {"Quantity": 1, "Colour": "red"}]}
    with pytest.raises(ConnectorError) as raised:
        await sync.create("Order", values, source=source)
    assert raised.value.category is ErrorCategory.VALIDATION
    assert raised.value.field == "lines[2].Colour"


async def test_update_writes_only_the_given_values(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    source = SourceRef(system="intacct", object="CUSTOMER", id="U")
    made = await sync.create("Account", {"Name": "Before", "Code": "U-1"}, source=source)
    other = source.model_copy(update={"id": "P"})
    parent = await sync.create("Account", {"Name": "Parent"}, source=other)
    outcome = await sync.update(
        "Account", made.id, {"Name": "After", "ParentId": Reference(object="Account", id=parent.id)}
    )
    assert (outcome.id, outcome.created) == (made.id, False)
    patch = next(r for r in creatio.admin.requests() if r["method"] == "PATCH")
    assert json.loads(patch["body"]) == {"Name": "After", "ParentId": parent.id}
    record = await sync.get("Account", made.id)
    assert record is not None
    assert (record.values["Name"], record.values["Code"]) == ("After", "U-1")
    assert record.values["ParentId"] == parent.id
    assert made.modified is not None and record.modified > made.modified


async def test_errors_are_the_clients_connector_errors(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(ConnectorError) as raised:
        await sync.update("Account", missing, {"Name": "x"})
    assert (raised.value.category, raised.value.system) == (ErrorCategory.NOT_FOUND, "creatio")
    with pytest.raises(ConnectorError) as raised:
        await sync.update("Order", missing, {LINES_FIELD: []})
    assert raised.value.field == "lines"
    with pytest.raises(ConnectorError) as raised:
        await sync.create("Account", {"Nmae": "typo"}, source=SOURCE)
    assert (raised.value.category, raised.value.field) == (ErrorCategory.VALIDATION, "Nmae")


async def test_from_settings_and_a_bad_password_is_an_auth_error_without_the_secret(
    creatio: RunningCreatio,
) -> None:
    wrong = "not-the-Supervisor-password-42"
    settings = Settings(  # type: ignore[call-arg]
        CREATIO_URL=creatio.url, CREATIO_USERNAME=USER, CREATIO_PASSWORD=wrong
    )
    connector = CreatioSync.from_settings(settings)
    try:
        with pytest.raises(ConnectorError) as raised:
            await connector.check()
    finally:
        await connector.aclose()
    assert raised.value.category is ErrorCategory.AUTH
    assert wrong not in str(raised.value) and wrong not in repr(raised.value.args)
    good = CreatioSync.from_settings(
        Settings(CREATIO_URL=creatio.url, CREATIO_USERNAME=USER, CREATIO_PASSWORD=PASSWORD)  # type: ignore[call-arg]
    )
    try:
        await good.check()
    finally:
        await good.aclose()
