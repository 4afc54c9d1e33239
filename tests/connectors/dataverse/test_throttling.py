"""Service protection: an emulator limit far below the offered load."""

from __future__ import annotations

import asyncio

import pytest

from shared.connectors.dataverse import DataverseClient
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory
from tests.support.dataverse import RunningDataverse, config


async def test_every_record_is_written_under_a_tight_request_limit(
    dataverse: RunningDataverse, capsys: pytest.CaptureFixture[str]
) -> None:
    # 25 requests per 1 s window; 150 upserts offered at once with 52 allowed in flight.
    dataverse.admin.limits(window_s=1.0, max_requests=25)
    records = 150
    async with DataverseClient(config(dataverse)) as client:
        await asyncio.gather(
            *(
                client.upsert("accounts", {"shuttle_creatioaccountid": f"k{n}"}, {"name": f"A{n}"})
                for n in range(records)
            )
        )
        answers = client.answers
        throttled = client.protection.throttled
    assert len(dataverse.admin.rows("account")) == records
    protection = dataverse.admin.stats()["protection"]
    assert protection["throttled_total"] == throttled > 0
    share = throttled / answers
    with capsys.disabled():
        print(f"\n429 share under a 25/s limit: {throttled}/{answers} = {share:.1%}")
    assert share < 0.15


async def test_the_concurrency_limit_is_respected(dataverse: RunningDataverse) -> None:
    # One of slack on the server: a slot freed by an answer may be reused a moment before
    # the server has finished its own bookkeeping of that call.
    dataverse.admin.limits(max_concurrent=5)
    dataverse.admin.knobs(latency_ms=20)
    async with DataverseClient(config(dataverse, max_concurrency=4)) as client:
        await asyncio.gather(*(client.who_am_i() for _ in range(40)))
        assert client.protection.max_in_flight <= 4
    assert dataverse.admin.stats()["protection"]["throttled"].get("concurrency", 0) == 0


async def test_retry_after_pauses_every_call_of_the_client(
    dataverse: RunningDataverse,
) -> None:
    dataverse.admin.faults({"fault": "429", "path": "*/WhoAmI", "retry_after": 1, "times": 1})
    async with DataverseClient(config(dataverse)) as client:
        await client.who_am_i()
        assert client.protection.throttled == 1
        assert client.protection.budget is None or client.protection.budget >= 0


async def test_throttling_beyond_the_wait_budget_is_a_transient_rate_limit_error(
    dataverse: RunningDataverse,
) -> None:
    dataverse.admin.faults({"fault": "429", "path": "*/WhoAmI", "retry_after": 5, "times": 3})
    async with DataverseClient(config(dataverse, throttle_max_wait_s=1.0)) as client:
        with pytest.raises(ConnectorError) as caught:
            await client.who_am_i()
    assert caught.value.category is ErrorCategory.RATE_LIMIT
    assert caught.value.retryable and caught.value.retry_after == 5
