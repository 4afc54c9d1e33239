"""Change tracking (delta links) over real HTTPS: every row once, then only what changed."""

from __future__ import annotations

from typing import Any

import pytest

from shared.connectors.dataverse import DataverseChangesPage, DataverseClient
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory
from tests.support.dataverse import RunningDataverse


async def _read_all(
    client: DataverseClient, first: DataverseChangesPage
) -> tuple[list[dict[str, Any]], DataverseChangesPage]:
    pages, page = [first], first
    while page.next_link:
        page = await client.next_changes(page.next_link, page_size=5)
        pages.append(page)
    return [r for p in pages for r in p.records], page


async def test_a_full_read_then_only_what_changed_including_deletes(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    dataverse.admin.seed({"account": {"count": 12, "template": {"name": "A{n}"}}})
    first = await client.track_changes("accounts", select=["name"], page_size=5)
    records, last = await _read_all(client, first)
    ids = [r["accountid"] for r in records]
    assert len(ids) == 12 == len(set(ids)) and last.delta_link and not last.deleted
    new = await client.create("accounts", {"name": "new"})
    await client.update("accounts", ids[0], {"name": "renamed"})
    await client.delete("accounts", ids[1])
    delta = await client.next_changes(last.delta_link)
    assert {r["accountid"]: r["name"] for r in delta.records} == {ids[0]: "renamed", new: "new"}
    assert delta.deleted == [ids[1]]
    assert delta.delta_link and delta.next_link is None
    quiet = await client.next_changes(delta.delta_link)
    assert quiet.records == [] and quiet.deleted == []


async def test_a_row_written_during_a_full_read_is_not_lost(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    dataverse.admin.seed({"account": {"count": 12, "template": {"name": "A{n}"}}})
    first = await client.track_changes("accounts", select=["name"], page_size=5)
    unread = [r["accountid"] for r in dataverse.admin.rows("account")][-1]
    assert unread not in {r["accountid"] for r in first.records}
    await client.update("accounts", unread, {"name": "changed meanwhile"})
    records, last = await _read_all(client, first)
    assert {r["accountid"] for r in records} == {
        r["accountid"] for r in dataverse.admin.rows("account")
    }
    assert [r["name"] for r in records if r["accountid"] == unread] == ["changed meanwhile"]
    assert last.delta_link


async def test_a_link_to_another_host_is_refused(client: DataverseClient) -> None:
    with pytest.raises(ConnectorError) as caught:
        await client.next_changes("https://elsewhere.example/api/data/v9.2/accounts?$deltatoken=1")
    assert caught.value.category is ErrorCategory.INTERNAL
