"""Incremental reads and lookups against the emulator over HTTP."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.connectors.creatio import CreatioChangeCursor, CreatioClient
from shared.connectors.creatio.odata import eq
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory
from tests.support.creatio import RunningCreatio

SHARED = "2024-05-01T10:00:00.1234567Z"
SINCE = datetime(2024, 5, 1, tzinfo=UTC)


def _products(count: int, stamp: str, prefix: str) -> list[dict[str, str]]:
    return [
        {"Id": str(uuid.uuid4()), "Name": f"{prefix}{i:04d}", "ModifiedOn": stamp}
        for i in range(count)
    ]


async def _read_all(client: CreatioClient, cursor: CreatioChangeCursor | None) -> list[dict]:
    records: list[dict] = []
    while cursor is not None:
        page = await client.read_page(cursor)
        records += page.records
        cursor = page.next
    return records


def _once(records: list[dict]) -> Counter[str]:
    counts = Counter(r["Id"] for r in records)
    assert max(counts.values(), default=1) == 1, "a record came back twice"
    return counts


async def test_hundreds_sharing_one_modified_on_come_back_exactly_once(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    ties = _products(350, SHARED, "tie")
    before = _products(5, "2024-04-30T23:59:59.9999999Z", "old")
    after = _products(30, "2024-05-02T08:00:00Z", "new")
    creatio.admin.seed({"Product": ties + before + after})
    records = [r async for r in client.read_changes("Product", SINCE, page_size=40)]
    assert set(_once(records)) == {r["Id"] for r in ties + after}
    stamps = [r["ModifiedOn"] for r in records]
    assert stamps == sorted(stamps)  # in (ModifiedOn, Id) order: watermark-safe
    # Why keyset paging: the same read with $skip over a ModifiedOn-only order loses and
    # repeats records, because ties come back in a different order on every call.
    naive: list[dict] = []
    for skip in range(0, 380, 40):
        naive += await client.query(
            "Product", filter=f"ModifiedOn ge {SHARED}", orderby="ModifiedOn", top=40, skip=skip
        )
    assert len({r["Id"] for r in naive}) < len(ties) + len(after)


async def test_records_changing_while_paging_neither_repeat_nor_get_lost(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    rows = (
        _products(100, "2024-05-01T10:00:00Z", "a")
        + _products(100, SHARED, "b")
        + _products(100, "2024-05-01T11:00:00.5Z", "c")
    )
    creatio.admin.seed({"Product": rows})
    cursor = await client.open_changes("Product", SINCE, page_size=50, select=["Name"])
    first = await client.read_page(cursor)
    assert first.next is not None
    read_ids = [r["Id"] for r in first.records]
    unread_ids = [r["Id"] for r in rows if r["Id"] not in set(read_ids)]
    changed_read, changed_unread = read_ids[:10], unread_ids[50:60]
    deleted = unread_ids[100]
    for record_id in changed_read + changed_unread:
        await client.update("Product", uuid.UUID(record_id), {"Name": f"changed {record_id}"})
    assert await client.delete("Product", uuid.UUID(deleted))
    rest = await _read_all(client, first.next)
    window = first.records + rest
    seen = _once(window)
    unchanged = {r["Id"] for r in rows} - set(changed_read) - set(changed_unread) - {deleted}
    assert unchanged <= set(seen)  # nothing unchanged is skipped
    assert set(changed_read) <= set(seen)  # read before they changed: once, not again
    assert not set(changed_unread) & set(seen)  # changed past the window's end...
    # ...so the next read, which starts at this window's end, has them (with new values).
    assert cursor.until is not None
    following = await client.open_changes("Product", cursor.until, select=["Name"])
    later = await _read_all(client, following)
    later_ids = set(_once(later))
    assert set(changed_read) | set(changed_unread) <= later_ids
    assert all(r["Name"].startswith("changed") for r in later if r["Id"] in changed_unread)
    assert (set(seen) | later_ids) >= {r["Id"] for r in rows} - {deleted}


async def test_offset_paging_would_skip_records_when_others_change(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    """The failure keyset paging avoids, shown on the same emulator."""
    rows = _products(100, "2024-05-01T10:00:00Z", "a") + _products(100, SHARED, "b")
    creatio.admin.seed({"Product": rows})
    window = "ModifiedOn ge 2024-05-01T00:00:00Z"
    first = await client.query("Product", filter=window, orderby="ModifiedOn,Id", top=50)
    for record in first[:10]:
        await client.update("Product", uuid.UUID(record["Id"]), {"Name": "moved"})
    rest: list[dict] = []
    for skip in range(50, 250, 50):
        rest += await client.query(
            "Product", filter=window, orderby="ModifiedOn,Id", top=50, skip=skip
        )
    got = {r["Id"] for r in first + rest}
    assert len({r["Id"] for r in rows} - got) == 10  # ten unchanged records never seen


async def test_the_lower_bound_is_inclusive_at_full_precision(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    since = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    creatio.admin.seed(
        {
            "Product": [
                {"Name": "at", "ModifiedOn": "2024-05-01T10:00:00.123456Z"},
                {"Name": "just after", "ModifiedOn": "2024-05-01T10:00:00.1234561Z"},
                {"Name": "just before", "ModifiedOn": "2024-05-01T10:00:00.1234559Z"},
            ]
        }
    )
    names = [r["Name"] async for r in client.read_changes("Product", since)]
    assert names == ["at", "just after"]


async def test_timestamps_differing_in_the_seventh_digit_are_paged_exactly(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    # Python datetimes hold 6 digits; a cursor rounded to them would repeat or lose these.
    stamps = [f"2024-05-01T10:00:00.123456{d}Z" for d in range(10)]
    creatio.admin.seed(
        {"Product": [{"Name": f"n{i}", "ModifiedOn": s} for i, s in enumerate(stamps)]}
    )
    records = [r async for r in client.read_changes("Product", SINCE, page_size=1)]
    assert [r["ModifiedOn"] for r in records] == [s.replace("1234560Z", "123456Z") for s in stamps]


async def test_an_explicit_until_bounds_the_window_inclusively(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    creatio.admin.seed(
        {
            "Product": [
                {"Name": "in", "ModifiedOn": "2024-05-01T12:00:00Z"},
                {"Name": "edge", "ModifiedOn": "2024-05-02T00:00:00Z"},
                {"Name": "out", "ModifiedOn": "2024-05-02T00:00:00.0000001Z"},
            ]
        }
    )
    cursor = await client.open_changes("Product", SINCE, until=datetime(2024, 5, 2, tzinfo=UTC))
    assert [r["Name"] for r in await _read_all(client, cursor)] == ["in", "edge"]


async def test_nothing_changed_is_an_empty_read_without_a_window(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    cursor = await client.open_changes("Account", datetime.now(UTC) + timedelta(days=1))
    assert cursor.until is None
    page = await client.read_page(cursor)
    assert (page.records, page.next) == ([], None)


async def test_a_cursor_survives_a_queue_message(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    rows = _products(120, SHARED, "q")
    creatio.admin.seed({"Product": rows})
    cursor: CreatioChangeCursor | None = await client.open_changes("Product", SINCE, page_size=25)
    seen: list[dict] = []
    while cursor is not None:
        message = cursor.model_dump_json()  # what the flow-runs worker enqueues
        page = await client.read_page(CreatioChangeCursor.model_validate_json(message))
        seen += page.records
        cursor = page.next
    assert set(_once(seen)) == {r["Id"] for r in rows}


@pytest.mark.parametrize("style", ["skip", "skiptoken"])
async def test_server_driven_paging_is_followed_safely_while_records_change(
    creatio: RunningCreatio, client: CreatioClient, style: str
) -> None:
    creatio.admin.options(server_page_size=30, next_link_style=style)
    rows = _products(150, SHARED, "s") + _products(50, "2024-05-01T12:00:00Z", "t")
    creatio.admin.seed({"Product": rows})
    cursor = await client.open_changes("Product", SINCE, page_size=100)
    first = await client.read_page(cursor)
    assert len(first.records) == 30  # the server's page, smaller than our $top
    for record in first.records[:5]:  # already read, then changed
        await client.update("Product", uuid.UUID(record["Id"]), {"Name": "changed"})
    rest = await _read_all(client, first.next)
    assert set(_once(first.records + rest)) == {r["Id"] for r in rows}
    queries = [r["query"] for r in creatio.admin.requests() if r["path"] == "/0/odata/Product"]
    if style == "skiptoken":
        assert any("$skiptoken=" in q for q in queries)  # the opaque link was followed
    else:
        assert not any("$skip=" in q for q in queries)  # offsets were never used


async def test_where_and_select_narrow_the_read(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    won = await client.lookup_id("OpportunityStage", "Closed won")
    lost = await client.lookup_id("OpportunityStage", "Closed lost")
    for title, stage in [("w1", won), ("l1", lost), ("w2", won)]:
        await client.create("Opportunity", {"Title": title, "StageId": stage, "Amount": "10.5"})
    since = datetime.now(UTC) - timedelta(hours=1)
    records = [
        r
        async for r in client.read_changes(
            "Opportunity",
            since,
            where=eq("Stage/Name", "Closed won"),
            select=["Title", "Amount", "StageId"],
        )
    ]
    assert sorted(r["Title"] for r in records) == ["w1", "w2"]
    assert set(records[0]) == {"Id", "ModifiedOn", "Title", "Amount", "StageId"}
    assert records[0]["Amount"] == Decimal("10.50")


async def test_records_are_normalised(client: CreatioClient) -> None:
    created = await client.create("Contact", {"Name": "Ann"})
    record = await client.get("Contact", created.id)
    assert record is not None
    assert record["AccountId"] is None  # the empty-lookup GUID
    assert record["BirthDate"] is None  # the empty date
    assert record["Email"] == ""
    assert isinstance(record["ModifiedOn"], str) and record["ModifiedOn"].endswith("Z")
    assert "@odata.context" not in record


async def test_get_missing_is_none(client: CreatioClient) -> None:
    assert await client.get("Account", uuid.uuid4()) is None


TRICKY = [
    "O'Brien",
    "''",
    "a & b = c",
    "100% sure",
    "x/y\\z",
    "plus+sign",
    "#hash?q=1",
    "Zoë Ünïcödé 日本語",
    "' or 1 eq 1 or Name eq '",
    "x') or (Name ne 'x",
    "and",
    "eq null",
    "Name eq 'Acme'",
    "  spaced  ",
    "$filter=Name",
]


async def test_values_round_trip_and_never_alter_a_filter(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    await client.create("Account", {"Name": "Acme", "Code": "decoy"})
    ids = {}
    for index, value in enumerate(TRICKY):
        result = await client.create("Account", {"Name": value, "Code": f"c{index}"})
        assert result.record is not None and result.record["Name"] == value
        ids[value] = result.id
    for value in TRICKY:
        found = await client.find("Account", {"Name": value}, select=["Id", "Name"], top=50)
        assert [(r["Id"], r["Name"]) for r in found] == [(str(ids[value]), value)], value
        stored = await client.get("Account", ids[value])
        assert stored is not None and stored["Name"] == value
    both = await client.find("Account", {"Name": "O'Brien", "Code": "c0"})
    assert [r["Id"] for r in both] == [str(ids["O'Brien"])]
    assert await client.find("Account", {"Name": "O'Brien", "Code": "c1"}) == []
    assert await client.count("Account", filter=eq("Name", "' or 1 eq 1 or Name eq '")) == 1


async def test_match_field_names_are_checked(client: CreatioClient) -> None:
    with pytest.raises(ValueError):
        await client.find("Account", {"Name eq 'x' or Name": "y"})


async def test_lookup_ids_are_resolved_by_name_and_cached(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    expected = creatio.admin.lookups()["OpportunityStage"]["Closed won"]
    assert str(await client.lookup_id("OpportunityStage", "Closed won")) == expected
    assert str(await client.lookup_id("OpportunityStage", "Closed won")) == expected
    assert creatio.admin.calls("GET /0/odata/OpportunityStage") == 1
    with pytest.raises(ConnectorError) as raised:
        await client.lookup_id("OpportunityStage", "Won-ish")
    assert raised.value.category is ErrorCategory.NOT_FOUND
