"""$batch round trips: per-operation results, atomic change sets."""

from __future__ import annotations

import pytest

from shared.connectors.dataverse import BatchOperation, ChangeSet, DataverseClient
from shared.connectors.errors import InvalidValue
from shared.errors import ErrorCategory
from tests.support.dataverse import RunningDataverse


def _upsert(key: str, **values: object) -> BatchOperation:
    return BatchOperation(
        method="PATCH", url=f"accounts(shuttle_creatioaccountid='{key}')", body=dict(values)
    )


async def test_batch_round_trip_with_per_operation_results(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    results = await client.batch(
        [
            ChangeSet(operations=[_upsert("a", name="A"), _upsert("b", name="B")]),
            BatchOperation(method="POST", url="accounts", body={"name": "C"}),
            BatchOperation(method="GET", url="accounts?$select=name"),
        ]
    )
    assert [r.status for r in results] == [204, 204, 204, 200]
    rows = {r["accountid"]: r["name"] for r in dataverse.admin.rows("account")}
    assert {rows[r.id] for r in results[:3] if r.id} == {"A", "B", "C"}
    assert results[3].body is not None and len(results[3].body["value"]) == 3
    assert dataverse.admin.stats()["batches"] == 1


async def test_a_failing_operation_rolls_its_change_set_back(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    results = await client.batch(
        [
            BatchOperation(method="POST", url="accounts", body={"name": "before"}),
            ChangeSet(
                operations=[
                    _upsert("a", name="A"),
                    _upsert("b", name="B", accountcategorycode=99),
                    _upsert("c", name="C"),
                ]
            ),
        ]
    )
    assert results[0].ok
    failed = [r for r in results[1:] if not r.rolled_back]
    assert len(failed) == 1 and failed[0].error is not None
    assert failed[0].error.category is ErrorCategory.VALIDATION
    assert failed[0].error.field == "accountcategorycode"
    assert all(r.error is not None for r in results[1:])
    assert [r["name"] for r in dataverse.admin.rows("account")] == ["before"]


async def test_without_continue_on_error_the_batch_stops_at_a_failure(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    ops = [
        BatchOperation(method="POST", url="accounts", body={"accountcategorycode": 7}),
        BatchOperation(method="POST", url="accounts", body={"name": "never"}),
    ]
    stopped = await client.batch(ops)
    assert stopped[0].status == 400 and stopped[1].status is None
    assert dataverse.admin.rows("account") == []
    kept_on = await client.batch(ops, continue_on_error=True)
    assert kept_on[0].status == 400 and kept_on[1].status == 204
    assert [r["name"] for r in dataverse.admin.rows("account")] == ["never"]


async def test_content_id_references_inside_a_change_set(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    results = await client.batch(
        [
            ChangeSet(
                operations=[
                    BatchOperation(method="POST", url="accounts", body={"name": "Parent"}),
                    BatchOperation(method="PATCH", url="$1", body={"telephone1": "555"}),
                ]
            )
        ]
    )
    assert [r.status for r in results] == [204, 204]
    rows = dataverse.admin.rows("account")
    assert len(rows) == 1 and rows[0]["telephone1"] == "555"


async def test_more_than_1000_operations_is_refused_before_sending(
    client: DataverseClient,
) -> None:
    with pytest.raises(InvalidValue):
        await client.batch([_upsert(str(n), name="x") for n in range(1001)])
