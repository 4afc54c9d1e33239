"""Paged reads over real HTTP: readByQuery + readMore and query + offset give every record
exactly once."""

from __future__ import annotations

from shared.connectors.intacct import IntacctClient
from shared.connectors.intacct import functions as fn
from tests.support.intacct import RunningIntacct


def _seed(intacct: RunningIntacct, count: int) -> None:
    intacct.admin.seed(
        {"CUSTOMER": [{"CUSTOMERID": f"C{i:04}", "NAME": f"Name {i}"} for i in range(count)]}
    )


async def test_read_by_query_and_read_more_return_every_record_once(
    client: IntacctClient, intacct: RunningIntacct
) -> None:
    _seed(intacct, 230)
    page = await client.read_by_query(
        "CUSTOMER",
        fn.rbq_condition("NAME", "like", "Name %"),
        fields=["RECORDNO", "CUSTOMERID"],
        page_size=100,
    )
    assert page.total == 230 and page.remaining == 130 and page.result_id
    seen = [r["CUSTOMERID"] for r in page.records]
    while page.result_id:
        page = await client.read_more(page.result_id, "CUSTOMER")
        seen += [r["CUSTOMERID"] for r in page.records]
    assert page.remaining == 0
    assert sorted(seen) == [f"C{i:04}" for i in range(230)]
    assert intacct.admin.stats()["functions"]["readMore"] == 2


async def test_query_with_offset_returns_every_record_once(
    client: IntacctClient, intacct: RunningIntacct
) -> None:
    _seed(intacct, 250)
    seen: list[str] = []
    offset = 0
    while True:
        page = await client.query(
            "CUSTOMER",
            ["RECORDNO", "CUSTOMERID"],
            order_by=[("RECORDNO", True)],
            page_size=100,
            offset=offset,
        )
        seen += [r["CUSTOMERID"] for r in page.records]
        offset += page.count
        if page.remaining == 0:
            break
    assert seen == [f"C{i:04}" for i in range(250)]


async def test_read_more_than_100_keys_in_one_request(
    client: IntacctClient, intacct: RunningIntacct
) -> None:
    _seed(intacct, 150)
    intacct.admin.clear_calls()
    found = await client.read("CUSTOMER", [str(n) for n in range(1, 151)])
    assert len(found) == 150
    stats = intacct.admin.stats()
    assert stats["requests"] >= 1 and stats["functions"]["read"] == 2
    assert sum(stats["calls"].values()) == 2  # the login, then both reads in one request


async def test_read_by_query_quotes_values(client: IntacctClient, intacct: RunningIntacct) -> None:
    intacct.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": "Q1", "NAME": "O'Brien & <Co>"},
                {"CUSTOMERID": "Q2", "NAME": "O"},
            ]
        }
    )
    page = await client.read_by_query("CUSTOMER", fn.rbq_condition("NAME", "=", "O'Brien & <Co>"))
    assert [r["CUSTOMERID"] for r in page.records] == ["Q1"]
