"""The retry budget of docs/engine.md ("Who retries a transient failure"), counted at the
emulator (and, for a `$batch` sub-request's own 503, at a MockTransport): one loop of the
client's retries a failure, never a loop nested in another."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from shared.connectors.creatio import CreatioClient
from shared.connectors.errors import ConnectorError
from shared.connectors.retry import RetryPolicy
from shared.errors import ErrorCategory
from tests.support.creatio import FAST_RETRY, RunningCreatio, config

BATCH = "POST /0/odata/$batch"


async def test_a_read_is_retried_by_the_client_within_its_attempts(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    creatio.admin.faults({"fault": "5xx", "path": "/0/odata/Account", "times": 100})
    with pytest.raises(ConnectorError) as raised:
        await client.query("Account")
    assert raised.value.category is ErrorCategory.CONNECTION  # the engine's requeue is next
    assert creatio.admin.calls("GET /0/odata/Account") == FAST_RETRY.attempts


async def test_a_failing_batch_request_is_sent_attempts_times_not_attempts_squared(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    creatio.admin.faults({"fault": "5xx", "path": "/0/odata/$batch", "times": 100})
    outcomes = await client.create_many("Product", [(None, {"Name": "p"})] * 3)
    assert all(o.error is not None and o.error.retryable for o in outcomes)
    assert creatio.admin.calls(BATCH) == FAST_RETRY.attempts


async def test_a_permanent_failure_is_not_retried(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    creatio.admin.faults({"fault": "5xx", "status": 400, "path": "/0/odata/Account"})
    with pytest.raises(ConnectorError) as raised:
        await client.query("Account")
    assert not raised.value.retryable
    assert creatio.admin.calls("GET /0/odata/Account") == 1


async def test_only_the_sub_requests_that_failed_are_sent_again_within_the_attempts() -> None:
    """A `$batch` answered 200 whose second write got a 503: the client sends that write
    alone again, up to its attempts, and the first is not written twice."""
    sent: list[list[dict[str, object]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/AuthService.svc/Login"):
            return httpx.Response(
                200,
                json={"Code": 0},
                headers=[
                    ("set-cookie", ".ASPXAUTH=a; path=/"),
                    ("set-cookie", "BPMCSRF=t; path=/"),
                ],
            )
        requests = json.loads(request.content)["requests"]
        sent.append(requests)
        answers = [
            {"id": r["id"], "status": 503 if r["body"]["Name"] == "bad" else 201, "body": {}}
            for r in requests
        ]
        return httpx.Response(200, json={"responses": answers})

    policy = RetryPolicy(attempts=4, base_delay_s=0.001, max_delay_s=0.01)
    client = CreatioClient(
        config("http://creatio.test", retry=policy), transport=httpx.MockTransport(handler)
    )
    async with client:
        good, bad = uuid.uuid4(), uuid.uuid4()
        outcomes = await client.create_many(
            "Product", [(good, {"Name": "ok"}), (bad, {"Name": "bad"})]
        )
    assert [len(batch) for batch in sent] == [2, 1, 1, 1]
    assert outcomes[0].ok and outcomes[0].created
    assert outcomes[1].error is not None and outcomes[1].error.category is ErrorCategory.CONNECTION
