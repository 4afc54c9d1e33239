"""Queries, paging and single reads over real HTTPS."""

from __future__ import annotations

from shared.connectors.dataverse import DataverseClient
from shared.connectors.dataverse.odata import literal
from tests.support.dataverse import RunningDataverse

STAMP = "2024-05-01T10:00:00Z"


async def test_paging_returns_every_record_exactly_once(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    dataverse.admin.seed(
        {"account": {"count": 1000, "template": {"name": "A{n}", "modifiedon": STAMP}}}
    )
    ids = [
        r["accountid"]
        async for r in client.iter_records(
            "accounts",
            select=["accountid", "modifiedon"],
            orderby="modifiedon asc",
            page_size=300,
        )
    ]
    assert len(ids) == 1000 and len(set(ids)) == 1000
    gets = dataverse.admin.stats()["calls"]["GET /api/data/v9.2/accounts"]
    assert gets == 4  # 300 + 300 + 300 + 100


async def test_the_server_caps_a_page_at_5000(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    dataverse.admin.seed({"account": {"count": 5001, "template": {"name": "A{n}"}}})
    page = await client.query("accounts", select=["name"], page_size=5000)
    assert len(page.records) == 5000 and page.next_link is not None
    rest = await client.next_page(page.next_link, page_size=5000)
    assert len(rest.records) == 1 and rest.next_link is None


async def test_get_by_id_and_by_alternate_key(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    new_id = await client.create("accounts", {"name": "O'Brien", "shuttle_creatioaccountid": "k'1"})
    by_id = await client.get("accounts", new_id, select=["name"])
    by_key = await client.get("accounts", {"shuttle_creatioaccountid": "k'1"})
    assert by_id is not None and by_id["name"] == "O'Brien"
    assert by_key is not None and by_key["accountid"] == new_id
    assert await client.get("accounts", "3b9c2e0a-0000-4000-8000-000000000001") is None


async def test_filter_literals_are_quoted(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    await client.create("accounts", {"name": "O'Brien & Sons"})
    await client.create("accounts", {"name": "Other"})
    name = "O'Brien & Sons"
    page = await client.query("accounts", filter=f"name eq {literal(name)}")
    assert [r["name"] for r in page.records] == ["O'Brien & Sons"]
