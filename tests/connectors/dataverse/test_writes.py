"""Creates, upserts by alternate key, updates and deletes over real HTTPS."""

from __future__ import annotations

import pytest

from shared.connectors.dataverse import DataverseClient
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory
from tests.support.dataverse import RunningDataverse

KEY = {"shuttle_creatioaccountid": "c-1"}


async def test_create_returns_the_id_from_odata_entityid(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    new_id = await client.create("accounts", {"name": "Acme", "accountcategorycode": 1})
    rows = dataverse.admin.rows("account")
    assert [r["accountid"] for r in rows] == [new_id]
    assert rows[0]["name"] == "Acme"


async def test_upsert_creates_then_updates_by_alternate_key(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    first = await client.upsert("accounts", KEY, {"name": "A"}, select=["accountid"])
    second = await client.upsert("accounts", KEY, {"name": "B"}, select=["accountid"])
    assert (first.created, second.created) == (True, False)
    assert first.id == second.id
    rows = dataverse.admin.rows("account")
    assert len(rows) == 1 and rows[0]["name"] == "B"
    assert rows[0]["shuttle_creatioaccountid"] == "c-1"


async def test_upsert_retried_after_a_dropped_answer_leaves_one_record(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    dataverse.admin.faults({"fault": "drop_after", "method": "PATCH", "times": 1})
    result = await client.upsert("accounts", KEY, {"name": "Acme"}, select=["accountid"])
    rows = dataverse.admin.rows("account")
    assert len(rows) == 1 and rows[0]["accountid"] == result.id
    statuses = dataverse.admin.stats()["statuses"]
    assert statuses["PATCH /api/data/v9.2/accounts({key}) dropped_after"] == 1


async def test_create_only_on_an_existing_key_is_a_duplicate(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    await client.upsert("accounts", KEY, {"name": "A"}, mode="create")
    with pytest.raises(ConnectorError) as caught:
        await client.upsert("accounts", KEY, {"name": "B"}, mode="create")
    assert caught.value.category is ErrorCategory.DUPLICATE
    assert dataverse.admin.rows("account")[0]["name"] == "A"  # never overwritten


async def test_update_never_creates(dataverse: RunningDataverse, client: DataverseClient) -> None:
    with pytest.raises(ConnectorError) as caught:
        await client.update("accounts", "3b9c2e0a-0000-4000-8000-000000000001", {"name": "X"})
    assert caught.value.category is ErrorCategory.NOT_FOUND
    assert dataverse.admin.rows("account") == []


async def test_lookups_are_written_through_odata_bind(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    account = await client.create("accounts", {"name": "Acme"})
    await client.create(
        "contacts",
        {"lastname": "Lee", "parentcustomerid_account@odata.bind": f"/accounts({account})"},
    )
    contact = dataverse.admin.rows("contact")[0]
    assert contact["_parentcustomerid_value"] == account
    bodies = [r["body"] for r in dataverse.admin.requests() if r["method"] == "POST"]
    assert "_parentcustomerid_value" not in bodies[-1]


async def test_delete_is_idempotent(dataverse: RunningDataverse, client: DataverseClient) -> None:
    account = await client.create("accounts", {"name": "Acme"})
    assert await client.delete("accounts", account) is True
    assert await client.delete("accounts", account) is False
    assert dataverse.admin.rows("account") == []


async def test_a_post_whose_answer_was_lost_is_not_sent_twice(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    dataverse.admin.faults({"fault": "drop_after", "method": "POST", "times": 1})
    with pytest.raises(ConnectorError) as caught:
        await client.create("accounts", {"name": "Acme"})
    assert caught.value.category is ErrorCategory.CONNECTION
    assert len(dataverse.admin.rows("account")) == 1
