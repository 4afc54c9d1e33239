"""DataverseSync (the engine's SyncConnector) against the emulators."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from urllib.parse import unquote_plus

import pytest

from shared.connectors.dataverse import DataverseClient
from shared.connectors.dataverse.sync import DataverseSync
from shared.connectors.errors import ConnectorError
from shared.connectors.protocol import Reference, SourceRef, SyncConnector
from shared.errors import ErrorCategory
from tests.support.dataverse import RunningDataverse, config

STAMP = "2024-05-01T10:00:00Z"
SINCE = dt.datetime(2024, 5, 1, 9, tzinfo=dt.UTC)
UNTIL = dt.datetime(2024, 5, 1, 11, tzinfo=dt.UTC)


def source(object: str, id: str) -> SourceRef:
    return SourceRef(system="creatio", object=object, id=id)


@pytest.fixture
async def sync(dataverse: RunningDataverse) -> AsyncIterator[DataverseSync]:
    connector = DataverseSync(DataverseClient(config(dataverse)))
    try:
        yield connector
    finally:
        await connector.aclose()


def test_it_is_a_sync_connector(sync: DataverseSync) -> None:
    assert isinstance(sync, SyncConnector) and sync.system == "dataverse"


async def test_changes_deliver_every_record_once_across_processes(
    dataverse: RunningDataverse, sync: DataverseSync
) -> None:
    # 1000 records on one modifiedon, pages of 300, records on both bounds of the window
    # (both inclusive) and records just outside it.
    dataverse.admin.seed(
        {
            "account": {"count": 1000, "template": {"name": "A{n}", "modifiedon": STAMP}},
        }
    )
    dataverse.admin.seed(
        {
            "account": [
                {"name": "late", "modifiedon": "2024-05-01T11:00:01Z"},
                {"name": "edge", "modifiedon": "2024-05-01T11:00:00Z"},
                {"name": "first", "modifiedon": "2024-05-01T09:00:00Z"},
                {"name": "early", "modifiedon": "2024-05-01T08:59:59Z"},
            ]
        }
    )
    cursor: dict[str, object] | None = await sync.open_changes(
        "account", since=SINCE, until=UNTIL, fields=["name"], page_size=300
    )
    seen: list[str] = []
    while cursor is not None:
        cursor = json.loads(json.dumps(cursor))  # as stored between processes
        page = await sync.read_changes(cursor)
        seen += [r.id for r in page.records]
        assert all(r.modified.tzinfo is not None for r in page.records)
        cursor = page.cursor
    assert len(seen) == 1002 == len(set(seen))
    # The wire: an inclusive window, a total order, pages of 300 (Prefer: odata.maxpagesize).
    reads = [r for r in dataverse.admin.requests() if r["path"].endswith("/accounts")]
    first = unquote_plus(reads[0]["query"])
    assert (
        "$filter=modifiedon ge 2024-05-01T09:00:00Z and modifiedon le 2024-05-01T11:00:00Z" in first
    )
    assert "$orderby=modifiedon asc,accountid asc" in first
    assert len(reads) == 4 and all("$skiptoken=" in r["query"] for r in reads[1:])
    names = {r["accountid"]: r["name"] for r in dataverse.admin.rows("account")}
    read = {names[i] for i in seen}
    assert {"edge", "first"} <= read and not {"late", "early"} & read
    assert await sync.count_changes("account", since=SINCE, until=UNTIL) == 1002
    late = dt.datetime(2024, 5, 1, 11, 0, 1, tzinfo=dt.UTC)
    assert await sync.count_changes("account", since=late, until=late) == 1


async def test_create_is_idempotent_by_alternate_key(
    dataverse: RunningDataverse, sync: DataverseSync
) -> None:
    first = await sync.create("account", {"name": "Acme"}, source=source("Account", "c-1"))
    again = await sync.create("account", {"name": "Acme"}, source=source("Account", "c-1"))
    assert first.created and not again.created and first.id == again.id
    assert first.modified is not None
    rows = dataverse.admin.rows("account")
    assert len(rows) == 1 and rows[0]["shuttle_creatioaccountid"] == "c-1"


async def test_create_after_a_dropped_answer_returns_the_first_record(
    dataverse: RunningDataverse, sync: DataverseSync
) -> None:
    dataverse.admin.faults({"fault": "drop_after", "method": "PATCH", "times": 1})
    outcome = await sync.create("account", {"name": "Acme"}, source=source("Account", "c-2"))
    rows = dataverse.admin.rows("account")
    assert [r["accountid"] for r in rows] == [outcome.id]
    assert outcome.created is False  # the retry found what the lost attempt made


async def test_references_become_odata_binds(
    dataverse: RunningDataverse, sync: DataverseSync
) -> None:
    account = await sync.create("account", {"name": "Acme"}, source=source("Account", "a"))
    contact = await sync.create(
        "contact",
        {"lastname": "Lee", "parentcustomerid": Reference(object="account", id=account.id)},
        source=source("Contact", "c"),
    )
    record = await sync.get("contact", contact.id)
    assert record is not None and record.values["_parentcustomerid_value"] == account.id
    sent = [
        r["body"]
        for r in dataverse.admin.requests()
        if r["method"] == "PATCH" and "contacts" in r["path"]
    ]
    assert f'"parentcustomerid_account@odata.bind": "/accounts({account.id})"' in sent[-1]


async def test_a_reference_to_an_unsupported_table_is_a_validation_error(
    sync: DataverseSync,
) -> None:
    with pytest.raises(ConnectorError) as caught:
        await sync.create(
            "contact",
            {"lastname": "L", "parentcustomerid": Reference(object="product", id="x")},
            source=source("Contact", "c"),
        )
    assert caught.value.category is ErrorCategory.VALIDATION
    assert caught.value.field == "parentcustomerid"


async def test_documents_are_created_with_their_lines(
    dataverse: RunningDataverse, sync: DataverseSync
) -> None:
    account = await sync.create("account", {"name": "Acme"}, source=source("Account", "a"))
    product = await sync.create("product", {"name": "Bolt"}, source=source("Product", "p"))
    customer = Reference(object="account", id=account.id)
    line = {"productid": Reference(object="product", id=product.id), "quantity": 2}
    values = {"name": "SO-1", "customerid": customer, "lines": [line, {**line, "quantity": 3}]}
    # Catalogue products on a line need the document's price list.
    with pytest.raises(ConnectorError) as caught:
        await sync.create("salesorder", values, source=source("Order", "no-price-list"))
    assert "price list" in str(caught.value)
    prices = await sync.create("pricelevel", {"name": "Std"}, source=source("PriceList", "s"))
    values["pricelevelid"] = Reference(object="pricelevel", id=prices.id)
    order = await sync.create("salesorder", values, source=source("Order", "o"))
    again = await sync.create("salesorder", values, source=source("Order", "o"))
    assert again.id == order.id and not again.created
    details = dataverse.admin.rows("salesorderdetail")
    assert sorted(d["quantity"] for d in details) == [2, 3]
    assert {d["_salesorderid_value"] for d in details} == {order.id}
    assert {
        d["shuttle_creatiosalesorderdetailid"]
        for d in details
        if d["_salesorderid_value"] == order.id
    } == {"o:1", "o:2"}


async def test_a_bad_line_names_the_line_and_writes_no_line(
    dataverse: RunningDataverse, sync: DataverseSync
) -> None:
    lines = [{"quantity": 1}, {"quantity": "many"}]
    with pytest.raises(ConnectorError) as caught:
        await sync.create("invoice", {"name": "I", "lines": lines}, source=source("Invoice", "i"))
    assert caught.value.category is ErrorCategory.VALIDATION
    assert caught.value.field == "lines[2].quantity"
    assert dataverse.admin.rows("invoicedetail") == []


async def test_update_get_find_and_check(dataverse: RunningDataverse, sync: DataverseSync) -> None:
    await sync.check()
    made = await sync.create(
        "account", {"name": "O'Neil", "accountnumber": "A-1"}, source=source("Account", "x")
    )
    updated = await sync.update("account", made.id, {"telephone1": "555"})
    assert updated.id == made.id and updated.modified is not None
    found = await sync.find("account", {"name": "O'Neil"}, fields=["telephone1"])
    assert [r.values["telephone1"] for r in found] == ["555"]
    by_key = await sync.find("account", {"shuttle_creatioaccountid": "x", "accountid": made.id})
    assert [r.id for r in by_key] == [made.id]
    assert await sync.get("account", "3b9c2e0a-0000-4000-8000-000000000001") is None
    with pytest.raises(ConnectorError) as caught:
        await sync.update("account", "3b9c2e0a-0000-4000-8000-000000000001", {"name": "N"})
    assert caught.value.category is ErrorCategory.NOT_FOUND
    assert len(dataverse.admin.rows("account")) == 1
