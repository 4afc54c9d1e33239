"""The retry budget of docs/engine.md ("Who retries a transient failure"), counted at the
emulator: a failure is retried by the client's one loop, never by a loop nested in it."""

from __future__ import annotations

import pytest

from shared.connectors.errors import ConnectorError
from shared.connectors.intacct import IntacctClient, IntacctSync
from shared.connectors.protocol import SourceRef
from shared.errors import ErrorCategory
from tests.support.intacct import FAST_RETRY, RunningIntacct, config


def _requests(intacct: RunningIntacct) -> int:
    return sum(intacct.admin.stats()["calls"].values())


async def test_a_request_is_retried_by_the_client_within_its_attempts(
    intacct: RunningIntacct, client: IntacctClient
) -> None:
    await client.check()
    before = _requests(intacct)
    intacct.admin.faults({"fault": "5xx", "times": 100})
    with pytest.raises(ConnectorError) as raised:
        await client.check()
    assert raised.value.category is ErrorCategory.CONNECTION  # the engine's requeue is next
    assert _requests(intacct) - before == FAST_RETRY.attempts


async def test_a_document_create_is_retried_by_one_loop_not_one_per_call_inside_it(
    intacct: RunningIntacct,
) -> None:
    # The adapter's look-then-create retries through the client's `retrying()`; the find
    # inside it is tried once per attempt (without that: attempts x attempts requests).
    intacct.admin.seed({"CUSTOMER": [{"CUSTOMERID": "C1", "NAME": "A"}]})
    sync = IntacctSync(IntacctClient(config(intacct.endpoint)))
    try:
        await sync.check()
        before = _requests(intacct)
        intacct.admin.faults({"fault": "5xx", "times": 100})
        values = {"CUSTOMERID": "C1", "lines": [{"TRX_AMOUNT": "10", "ACCOUNTNO": "4000"}]}
        source = SourceRef(system="creatio", object="Order", id="o-1")
        with pytest.raises(ConnectorError) as raised:
            await sync.create("ARINVOICE", values, source=source)
    finally:
        await sync.aclose()
    assert raised.value.retryable
    assert _requests(intacct) - before == FAST_RETRY.attempts


async def test_a_permanent_failure_is_not_retried(
    intacct: RunningIntacct, client: IntacctClient
) -> None:
    await client.check()
    before = _requests(intacct)
    intacct.admin.faults({"fault": "5xx", "status": 400, "times": 100})
    with pytest.raises(ConnectorError) as raised:
        await client.check()
    assert not raised.value.retryable
    assert _requests(intacct) - before == 1
