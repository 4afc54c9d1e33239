"""The retry budget of docs/engine.md ("Who retries a transient failure"), counted at the
emulator: the client's one loop retries what is safe to send again; a 429 is waited out
without spending an attempt."""

from __future__ import annotations

import pytest

from shared.connectors.dataverse import DataverseClient
from shared.connectors.errors import ConnectorError
from shared.connectors.retry import RetryPolicy
from shared.errors import ErrorCategory
from tests.support.dataverse import FAST_RETRY, RunningDataverse, config


def _calls(dataverse: RunningDataverse, key: str) -> int:
    return int(dataverse.admin.stats()["calls"].get(key, 0))


async def test_a_read_is_retried_by_the_client_within_its_attempts(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    await client.check()  # the token first
    dataverse.admin.faults({"fault": "5xx", "path": "*/WhoAmI", "status": 503, "times": 100})
    with pytest.raises(ConnectorError) as raised:
        await client.check()
    assert raised.value.category is ErrorCategory.CONNECTION  # the engine's requeue is next
    assert _calls(dataverse, "GET /api/data/v9.2/WhoAmI") == 1 + FAST_RETRY.attempts


async def test_a_create_that_reached_the_server_is_not_sent_again(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    # A POST answered 503 may have been written: the requeue (with its binding lookups)
    # decides, not a blind resend.
    await client.check()
    dataverse.admin.faults({"fault": "5xx", "method": "POST", "status": 503, "times": 100})
    with pytest.raises(ConnectorError) as raised:
        await client.create("accounts", {"name": "once"})
    assert raised.value.retryable
    assert _calls(dataverse, "POST /api/data/v9.2/accounts") == 1


async def test_429s_are_waited_out_without_spending_an_attempt(
    dataverse: RunningDataverse,
) -> None:
    one_try = RetryPolicy(attempts=1)
    async with DataverseClient(config(dataverse, retry=one_try)) as client:
        await client.check()
        dataverse.admin.faults({"fault": "429", "path": "*/WhoAmI", "retry_after": 0, "times": 3})
        await client.check()
    assert _calls(dataverse, "GET /api/data/v9.2/WhoAmI") == 1 + 4
