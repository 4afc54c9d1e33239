"""Service protection: an emulator limit far below the offered load."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from shared.connectors.dataverse import DataverseClient
from shared.connectors.dataverse.sync import DataverseSync
from shared.connectors.dataverse.throttle import (
    CONCURRENCY_LIMIT,
    REQUESTS_LIMIT,
    TIME_LIMIT,
    ServiceProtection,
    Ticket,
)
from shared.connectors.errors import ConnectorError
from shared.connectors.protocol import SourceRef, WriteOutcome
from shared.errors import ErrorCategory
from tests.support.clock import VirtualTime
from tests.support.dataverse import RunningDataverse, config, trust


class Stamping(httpx.AsyncBaseTransport):
    """Real HTTPS to the emulator, noting the virtual time each request leaves at."""

    def __init__(self, ca: str, time: VirtualTime) -> None:
        self.inner = httpx.AsyncHTTPTransport(verify=trust(ca))
        self.time = time
        self.sent: list[tuple[float, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((self.time.now, request.url.path))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_every_record_is_written_under_a_tight_request_limit(
    dataverse: RunningDataverse, capsys: pytest.CaptureFixture[str]
) -> None:
    # 25 requests per 1 s window; 150 upserts offered at once with 52 allowed in flight.
    dataverse.admin.limits(window_s=1.0, max_requests=25)
    records = 150
    async with DataverseClient(config(dataverse, limit_window_s=1.0)) as client:
        await asyncio.gather(
            *(
                client.upsert("accounts", {"shuttle_creatioaccountid": f"k{n}"}, {"name": f"A{n}"})
                for n in range(records)
            )
        )
        answers = client.answers
        throttled, paced = client.protection.throttled, client.protection.paced
    assert len(dataverse.admin.rows("account")) == records
    protection = dataverse.admin.stats()["protection"]
    assert protection["throttled_total"] == throttled
    share = throttled / answers
    with capsys.disabled():
        print(f"\n429 share under a 25/s limit: {throttled}/{answers} = {share:.1%}")
    # The limit bound: calls waited for the window to have room instead of being refused.
    assert paced > 0
    assert share < 0.02


async def test_a_burst_of_chunks_over_the_execution_window_writes_each_record_once(
    dataverse: RunningDataverse, capsys: pytest.CaptureFixture[str]
) -> None:
    # 16 chunks of 50 creates at once, each $batch 50 x 4 ms = 0.2 s of execution, against
    # 0.8 s of execution per 1 s window: four times the limit offered in one burst.
    dataverse.admin.limits(window_s=1.0, max_execution_ms=800)
    dataverse.admin.options(operation_ms=4)
    chunks = [
        [({"name": f"Burst {c:02d}-{n:02d}"}, source(f"c{c}-{n}")) for n in range(50)]
        for c in range(16)
    ]
    async with DataverseClient(config(dataverse, limit_window_s=1.0)) as client:
        sync = DataverseSync(client)
        results = await asyncio.gather(*(sync.create_many("account", chunk) for chunk in chunks))
        answers = client.answers
        throttled, paced = client.protection.throttled, client.protection.paced
    outcomes = [outcome for chunk in results for outcome in chunk]
    assert all(isinstance(o, WriteOutcome) and o.created for o in outcomes)
    names = [row["name"] for row in dataverse.admin.rows("account")]
    assert len(names) == len(set(names)) == 16 * 50  # every record once, none twice
    protection = dataverse.admin.stats()["protection"]
    assert protection["throttled_total"] == throttled
    with capsys.disabled():
        print(f"\nburst over the execution window: {throttled} 429s of {answers} answers")
    assert paced > 0  # the window bound: $batches waited for room
    assert throttled <= 1


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
    # Virtual time: the 7 s the server asks for pass without waiting, and the moment each
    # request leaves is known exactly.
    time = VirtualTime()
    transport = Stamping(dataverse.ca, time)
    dataverse.admin.faults({"fault": "429", "path": "*/WhoAmI", "retry_after": 7, "times": 1})
    async with DataverseClient(
        config(dataverse),
        transport=transport,
        clock=time.clock,
        sleep=time.sleep,
        rng=lambda: 0.0,
    ) as client:
        results = await asyncio.gather(*(client.who_am_i() for _ in range(5)))
        assert client.protection.throttled == 1
    assert len(results) == 5 and all(r["UserId"] for r in results)
    calls = [at for at, path in transport.sent if path.endswith("/WhoAmI")]
    refused_at, later = calls[0], calls[1:]
    # The first call goes alone (no budget known yet) and is refused; the retry and the
    # four calls waiting behind it all leave only once the Retry-After has passed.
    assert len(later) == 5
    assert all(at >= refused_at + 7 for at in later), transport.sent


async def test_a_concurrency_limit_far_below_ours_is_found_and_kept(
    dataverse: RunningDataverse, capsys: pytest.CaptureFixture[str]
) -> None:
    # The application user's limit is shared by every worker: here the server takes 4
    # calls at once while this client may send 52.
    dataverse.admin.limits(max_concurrent=4)
    dataverse.admin.knobs(latency_ms=20)
    records = 200
    async with DataverseClient(config(dataverse)) as client:
        await asyncio.gather(
            *(
                client.upsert("accounts", {"shuttle_creatioaccountid": f"k{n}"}, {"name": f"A{n}"})
                for n in range(records)
            )
        )
        answers, throttled = client.answers, client.protection.throttled
        limit = client.protection.limit
    assert len(dataverse.admin.rows("account")) == records
    refused = dataverse.admin.stats()["protection"]["throttled"]
    assert refused.get("concurrency", 0) == throttled
    share = throttled / answers
    with capsys.disabled():
        print(f"\n429 share under a concurrency limit of 4: {throttled}/{answers} = {share:.1%}")
    assert limit <= 4
    assert share < 0.05


async def test_throttling_beyond_the_wait_budget_is_a_transient_rate_limit_error(
    dataverse: RunningDataverse,
) -> None:
    dataverse.admin.faults({"fault": "429", "path": "*/WhoAmI", "retry_after": 5, "times": 3})
    async with DataverseClient(config(dataverse, throttle_max_wait_s=1.0)) as client:
        with pytest.raises(ConnectorError) as caught:
            await client.who_am_i()
    assert caught.value.category is ErrorCategory.RATE_LIMIT
    assert caught.value.retryable and caught.value.retry_after == 5


def source(id: str) -> SourceRef:
    return SourceRef(system="creatio", object="Account", id=id)


def _answer(status: int = 200) -> httpx.Response:
    return httpx.Response(status)


async def test_the_allowed_concurrency_adapts_to_429s() -> None:
    time = VirtualTime()
    protection = ServiceProtection(52, clock=time.clock, sleep=time.sleep, regrow_s=10)

    async def answered(status: int = 200) -> Ticket:
        async with protection.slot() as ticket:
            protection.observe(_answer(status), ticket)
        return ticket

    # Slow start: the limit doubles once a whole round of it was answered (1, 2, 4 calls).
    for _ in range(7):
        await answered()
    assert protection.limit == 8
    # The first refusal ends slow start and halves it, though 5 would have fitted here.
    ticket = await answered(429)
    protection.throttled_for(1, Ticket(in_flight=6, epoch=ticket.epoch), CONCURRENCY_LIMIT)
    assert protection.limit == 4
    # From then on a concurrency refusal says how many fit: fewer than were in flight.
    ticket = await answered(429)
    protection.throttled_for(1, Ticket(in_flight=4, epoch=ticket.epoch), CONCURRENCY_LIMIT)
    assert protection.limit == 3
    # A burst of refusals without a known code, of calls sent together, halves it once.
    burst = await answered(429)
    for _ in range(3):
        protection.throttled_for(1, burst, None)
    assert protection.limit == 1.5
    # After a cut, one more per `regrow_s` without a 429; answers alone add nothing.
    for _ in range(5):
        await answered()
    assert protection.limit == 1.5
    await time.sleep(10)
    await answered()
    assert protection.limit == 2.5
    # Request-count and execution-time refusals pause but leave the concurrency alone (the
    # windows pace them).
    ticket = await answered(429)
    for code in (REQUESTS_LIMIT, TIME_LIMIT):
        protection.throttled_for(1, ticket, code)
    assert protection.limit == 2.5 and protection.throttled == 7
