"""Recovery from a storm of 429s on the virtual clock (issue 12, item 5): the limiter and the
retries drain it at the pace the server's Retry-After allows, not slower, and speed back up
fast once it is over. A "server" here is a counter of refusals still to give."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from shared.connectors.dataverse import DataverseClient, DataverseConfig
from shared.connectors.dataverse.throttle import REQUESTS_LIMIT
from shared.connectors.errors import ConnectorError
from shared.connectors.retry import AdaptiveLimiter, RetryPolicy, with_retries
from shared.errors import ErrorCategory
from tests.support.clock import EventTime

PATIENT = RetryPolicy(attempts=10_000, total_s=100_000.0)
STORM, RETRY_AFTER, LATENCY = 200, 1.0, 0.01


@dataclass
class StormServer:
    """Answers the first `refusals` calls 429 (Retry-After 1), then serves every call."""

    limiter: AdaptiveLimiter
    time: EventTime
    refusals: int = STORM
    served: int = 0
    drained_at: float | None = None

    async def call(self) -> None:
        async with self.limiter.slot():
            await self.time.sleep(LATENCY)
            refused = self.refusals > 0
            if refused:
                self.refusals -= 1
                if self.refusals == 0:
                    self.drained_at = self.time.now
        if refused:
            self.limiter.throttled(RETRY_AFTER)
            raise ConnectorError(
                "429", category=ErrorCategory.RATE_LIMIT, system="test", retry_after=RETRY_AFTER
            )
        self.served += 1
        self.limiter.succeeded()


async def _drain(max_in_flight: int, callers: int) -> tuple[StormServer, float]:
    time = EventTime()
    limiter = AdaptiveLimiter(max_in_flight, clock=time.clock, sleep=time.sleep)
    server = StormServer(limiter, time)
    started = time.now

    async def caller() -> None:
        for _ in range(5):  # each caller has a few calls to make
            await with_retries(
                server.call, policy=PATIENT, sleep=time.sleep, clock=time.clock, rng=lambda: 0.5
            )

    async def everyone() -> None:
        await asyncio.gather(*(caller() for _ in range(callers)))

    await time.run(everyone())
    assert server.drained_at is not None and server.served == 5 * callers
    return server, server.drained_at - started


async def test_a_storm_drains_at_the_pace_retry_after_allows_with_two_slots() -> None:
    # Intacct's two slots, eight workers' calls waiting: every slot may come back after
    # Retry-After (plus the 5 % jitter at rng 0.5), so 200 refusals take ~100 rounds.
    _, elapsed = await _drain(max_in_flight=2, callers=8)
    allowed = STORM / 2 * (RETRY_AFTER * 1.05 + LATENCY)
    print(f"200 x 429 (Retry-After 1) with 2 slots drained in {elapsed:.0f} virtual s")
    assert elapsed <= allowed * 1.1  # the old floor (0.5 calls/s) took ~400 s
    assert elapsed >= STORM / 2 * RETRY_AFTER * 0.9  # and no faster than the server allows


async def test_a_storm_drains_faster_with_more_slots() -> None:
    _, elapsed = await _drain(max_in_flight=8, callers=8)
    assert elapsed <= STORM / 8 * (RETRY_AFTER * 1.05 + LATENCY) * 1.1


async def test_after_a_storm_the_rate_climbs_back_fast() -> None:
    server, _ = await _drain(max_in_flight=2, callers=8)
    limiter = server.limiter
    # Every cut in the storm was blind (nothing got through), so successes still probe up
    # fast (+0.5 per success), instead of the gentle +0.03 meant for a measured limit.
    before = limiter.rate
    assert before is not None and before >= limiter.floor(RETRY_AFTER)
    for _ in range(10):
        limiter.succeeded()
    assert limiter.rate == before + 10 * limiter.probe_increase


def test_the_floor_is_what_retry_after_allows_every_slot() -> None:
    limiter = AdaptiveLimiter(2, window_s=1.0)
    assert limiter.floor(1.0) == 2.0 and limiter.floor(4.0) == limiter.min_rate
    limiter.throttled(1.0)
    assert limiter.rate == 2.0  # a blind cut with Retry-After 1 stays at two calls a second


async def test_a_refusal_without_retry_after_never_paces_slower_than_a_slot_a_window() -> None:
    # Intacct's GW-0010 says nothing about when: a few of them in a row (calls the client
    # gave up on still counted by the gateway) must not slow two slots to one call per 2 s.
    time = EventTime()
    limiter = AdaptiveLimiter(2, clock=time.clock, sleep=time.sleep, window_s=1.0)
    for _ in range(6):
        limiter.throttled(None)
        time.now += 0.6
    assert limiter.rate == limiter.floor(None) == 2.0

    async def burst() -> float:
        started = time.now
        for _ in range(20):
            async with limiter.slot():
                pass
        return time.now - started

    assert await time.run(burst()) <= 20 / 2.0


def test_a_concurrency_refusal_is_counted_but_never_slows_the_pace() -> None:
    limiter = AdaptiveLimiter(2)
    for _ in range(10):
        limiter.refused_concurrency()
    assert limiter.throttled_count == 10 and limiter.rate is None


async def test_a_dataverse_storm_drains_at_one_probe_per_retry_after() -> None:
    # Dataverse's limits are per user: Microsoft asks every call to wait the Retry-After, so
    # the fastest allowed drain is one probe per Retry-After (+ the 5 % jitter at rng 0.5).
    time = EventTime()
    refusals = {"left": 30}
    served = []

    def answer(request: httpx.Request) -> httpx.Response:
        if refusals["left"] > 0:
            refusals["left"] -= 1
            if refusals["left"] == 0:
                served.append(time.now)
            return httpx.Response(
                429,
                headers={"Retry-After": "1"},
                json={
                    "error": {
                        "code": REQUESTS_LIMIT,
                        "message": "Number of requests "
                        "exceeded the limit of 6000 over time window of 300 seconds.",
                    }
                },
            )
        return httpx.Response(200, json={"UserId": "u", "BusinessUnitId": "b"})

    config = DataverseConfig(
        url="https://org.example.test",
        tenant_id="t",
        client_id="c",
        client_secret="s",
        retry=PATIENT,
    )
    client = DataverseClient(
        config,
        transport=httpx.MockTransport(answer),
        auth=httpx.Auth(),
        clock=time.clock,
        sleep=time.sleep,
        rng=lambda: 0.5,
    )

    async def everyone() -> float:
        started = time.now
        async with client:
            await asyncio.gather(*(client.who_am_i() for _ in range(8)))
        return served[0] - started

    elapsed = await time.run(everyone())
    print(f"30 x 429 (Retry-After 1) at Dataverse drained in {elapsed:.1f} virtual s")
    assert 29 * RETRY_AFTER <= elapsed <= 30 * RETRY_AFTER * 1.05 * 1.1
    assert client.protection.throttled == 30
