"""Idempotent creates, minimal updates, deletes and batches against the emulator over HTTP."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.connectors.creatio import BatchOperation, CreatioClient, deterministic_id
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory
from tests.support.creatio import RunningCreatio, config


def _named(creatio: RunningCreatio, entity: str, name: str) -> list[dict]:
    return [r for r in creatio.rows(entity) if r["Name"] == name]


async def test_create_uses_the_client_chosen_id(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    chosen = deterministic_id("intacct", "CUSTOMER", "C-100")
    result = await client.create("Account", {"Name": "Acme"}, id=chosen)
    assert (result.id, result.created) == (chosen, True)
    assert result.record is not None and result.record["Id"] == str(chosen)
    assert creatio.admin.writes("create Account") == 1


@pytest.mark.parametrize("fault", ["drop_after", "timeout"])
async def test_a_create_retried_after_a_lost_answer_leaves_exactly_one_record(
    creatio: RunningCreatio, fault: str
) -> None:
    creatio.admin.knobs(timeout_s=3)
    creatio.admin.faults({"fault": fault, "method": "POST", "path": "/0/odata/Account"})
    async with CreatioClient(config(creatio.url, timeout_s=0.5)) as client:
        result = await client.create("Account", {"Name": "Only once"})
    assert creatio.admin.calls("POST /0/odata/Account") == 2  # the create was sent twice
    assert creatio.admin.writes("create Account") == 1  # ...and happened once
    assert len(_named(creatio, "Account", "Only once")) == 1
    # The retry met the duplicate key and read the record back.
    assert result.created is False and result.record is not None
    assert result.record["Name"] == "Only once"


async def test_a_redelivered_create_finds_the_record_instead_of_a_twin(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    key = deterministic_id("intacct", "CUSTOMER", "C-7")
    first = await client.create("Account", {"Name": "Twin?"}, id=key)
    second = await client.create("Account", {"Name": "Twin?"}, id=key)
    assert (first.created, second.created) == (True, False)
    assert second.record is not None and second.record["Id"] == str(key)
    assert len(_named(creatio, "Account", "Twin?")) == 1


async def test_update_sends_only_the_changed_columns(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    created = await client.create(
        "Opportunity", {"Title": "Deal", "Amount": Decimal("10.50"), "Probability": 40}
    )
    current = await client.get("Opportunity", created.id)
    assert current is not None
    desired = {"Title": "Deal", "Amount": 10.5, "Probability": 60, "Notes": ""}
    assert await client.update("Opportunity", created.id, desired, current=current)
    patches = [r for r in creatio.admin.requests() if r["method"] == "PATCH"]
    assert [json.loads(p["body"]) for p in patches] == [{"Probability": 60}]
    after = await client.get("Opportunity", created.id)
    assert after is not None and after["Probability"] == 60
    # Nothing differs: no call at all.
    assert not await client.update("Opportunity", created.id, desired, current=after)
    assert creatio.admin.calls("PATCH /0/odata/Opportunity({id})") == 1


async def test_update_of_a_missing_record_is_not_found(client: CreatioClient) -> None:
    with pytest.raises(ConnectorError) as raised:
        await client.update("Account", uuid.uuid4(), {"Name": "x"})
    assert (raised.value.category, raised.value.code) == (ErrorCategory.NOT_FOUND, "not_found")


async def test_delete_is_idempotent(client: CreatioClient) -> None:
    created = await client.create("Product", {"Name": "P"})
    assert await client.delete("Product", created.id) is True
    assert await client.delete("Product", created.id) is False
    with pytest.raises(ConnectorError) as raised:  # a wrong object name is not "gone"
        await client.delete("Prodcut", created.id)
    assert raised.value.category is ErrorCategory.NOT_FOUND
    assert raised.value.code == "unknown_resource"


async def test_unknown_columns_are_refused_before_any_call(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    with pytest.raises(ConnectorError) as raised:
        await client.create("Account", {"Name": "A", "UsrErpFullNam": "typo"})
    error = raised.value
    assert (error.category, error.field, error.code) == (
        ErrorCategory.VALIDATION,
        "UsrErpFullNam",
        "unknown_column",
    )
    assert creatio.admin.stats()["calls"] == {}


async def test_values_keep_their_types_and_precision(client: CreatioClient) -> None:
    stamp = datetime(2024, 5, 2, 10, 0, 0, 123456, tzinfo=UTC)
    created = await client.create(
        "Account",
        {
            "Name": "Typed",
            "UsrCurrBalPymts": Decimal("12345678901234.56"),
            "UsrErpLastModified": stamp,
            "UsrActive": True,
        },
    )
    record = await client.get("Account", created.id)
    assert record is not None
    assert record["UsrCurrBalPymts"] == Decimal("12345678901234.56")
    assert record["UsrErpLastModified"] == "2024-05-02T10:00:00.123456Z"
    assert record["UsrActive"] is True


async def test_batches_hold_at_most_100_requests(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    rows = [(deterministic_id("bulk", str(i)), {"Name": f"bulk {i}"}) for i in range(250)]
    outcomes = await client.create_many("Account", rows)
    assert all(o.ok and o.created and o.status == 201 for o in outcomes)
    assert [o.operation.id for o in outcomes] == [i for i, _ in rows]
    assert outcomes[0].record is not None and outcomes[0].record["Name"] == "bulk 0"
    assert creatio.admin.calls("POST /0/odata/$batch") == 3
    assert creatio.admin.writes("create Account") == 250


async def test_one_bad_record_does_not_stop_its_batch(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    rows: list[tuple[uuid.UUID | None, dict]] = [(None, {"Name": f"ok {i}"}) for i in range(9)]
    rows.insert(4, (None, {"Name": ""}))
    rows.insert(7, (None, {"Name": "x", "UsrErpFullName": "y" * 300}))
    outcomes = await client.create_many("Account", rows)
    failed = [(i, o.error) for i, o in enumerate(outcomes) if o.error is not None]
    assert [(i, e.category, e.field) for i, e in failed] == [
        (4, ErrorCategory.VALIDATION, "Name"),
        (7, ErrorCategory.VALIDATION, "UsrErpFullName"),
    ]
    assert creatio.admin.writes("create Account") == 9
    assert creatio.admin.calls("POST /0/odata/$batch") == 1  # permanent errors: no retry


async def test_a_batch_retried_after_a_lost_answer_creates_nothing_twice(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    creatio.admin.faults({"fault": "drop_after", "path": "/0/odata/$batch"})
    rows = [(deterministic_id("b", str(i)), {"Name": f"b{i}"}) for i in range(40)]
    outcomes = await client.create_many("Account", rows)
    assert all(o.ok for o in outcomes)
    assert not any(o.created for o in outcomes)  # all were found by their Ids on the retry
    assert all(o.record is not None for o in outcomes)
    assert creatio.admin.writes("create Account") == 40
    assert len(creatio.rows("Account")) == 40


async def test_a_failed_batch_envelope_is_retried(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    creatio.admin.faults({"fault": "5xx", "path": "/0/odata/$batch", "times": 2})
    outcomes = await client.create_many("Product", [(None, {"Name": "p"})] * 5)
    assert all(o.ok and o.created for o in outcomes)
    assert creatio.admin.calls("POST /0/odata/$batch") == 3


async def test_mixed_operations_in_one_batch(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    keep = await client.create("Product", {"Name": "keep"})
    gone = await client.create("Product", {"Name": "gone"})
    ghost = uuid.uuid4()
    outcomes = await client.batch(
        [
            BatchOperation.create("Product", {"Name": "new"}),
            BatchOperation.update("Product", keep.id, {"Price": Decimal("9.99")}),
            BatchOperation.delete("Product", gone.id),
            BatchOperation.delete("Product", ghost),  # already gone: fine
            BatchOperation.update("Product", ghost, {"Name": "x"}),
            BatchOperation.update("Product", keep.id, {"Prise": 1}),  # refused before sending
        ]
    )
    assert [o.ok for o in outcomes] == [True, True, True, True, False, False]
    assert outcomes[4].error is not None and outcomes[4].error.category is ErrorCategory.NOT_FOUND
    assert outcomes[5].error is not None and outcomes[5].error.field == "Prise"
    record = await client.get("Product", keep.id)
    assert record is not None and record["Price"] == Decimal("9.99")
    assert await client.get("Product", gone.id) is None
