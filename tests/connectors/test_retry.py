"""The shared retry and pacing layer, on a fake clock: no real waiting, no timing asserts."""

from __future__ import annotations

import asyncio

import pytest

from shared.connectors.errors import ConnectorError
from shared.connectors.retry import AdaptiveLimiter, RetryPolicy, with_retries
from shared.errors import ErrorCategory
from tests.support.clock import VirtualTime


def _error(category: ErrorCategory, retry_after: float | None = None) -> ConnectorError:
    return ConnectorError(
        "boom", category=category, system="test", retry_after=retry_after, code=category.value
    )


class Flaky:
    def __init__(self, *errors: ConnectorError, result: str = "done") -> None:
        self.errors = list(errors)
        self.result = result
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


async def test_transient_errors_are_retried_with_growing_backoff() -> None:
    fake = VirtualTime()
    call = Flaky(*[_error(ErrorCategory.CONNECTION)] * 3)
    policy = RetryPolicy(attempts=5, base_delay_s=0.5, max_delay_s=20)
    result = await with_retries(
        call, policy=policy, sleep=fake.sleep, clock=fake.clock, rng=lambda: 0.0
    )
    assert (result, call.calls) == ("done", 4)
    # Equal jitter with rng=0: half of 0.5, 1, 2.
    assert fake.sleeps == [0.25, 0.5, 1.0]


async def test_jitter_spreads_the_waits_within_the_step() -> None:
    fake = VirtualTime()
    call = Flaky(_error(ErrorCategory.CONNECTION))
    await with_retries(
        call,
        policy=RetryPolicy(base_delay_s=2.0),
        sleep=fake.sleep,
        clock=fake.clock,
        rng=lambda: 1.0,
    )
    assert fake.sleeps == [2.0]  # the top of the first step (2/2 + 1 * 2/2)


async def test_retry_after_is_honoured() -> None:
    fake = VirtualTime()
    call = Flaky(_error(ErrorCategory.RATE_LIMIT, retry_after=7))
    await with_retries(call, sleep=fake.sleep, clock=fake.clock, rng=lambda: 0.0)
    assert fake.sleeps == [7.0]
    fake2 = VirtualTime()
    call2 = Flaky(_error(ErrorCategory.RATE_LIMIT, retry_after=7))
    await with_retries(call2, sleep=fake2.sleep, clock=fake2.clock, rng=lambda: 1.0)
    assert fake2.sleeps == [pytest.approx(7.7)]  # at most +10 % jitter, never less


@pytest.mark.parametrize(
    "category",
    [
        ErrorCategory.VALIDATION,
        ErrorCategory.DUPLICATE,
        ErrorCategory.NOT_FOUND,
        ErrorCategory.AUTH,
        ErrorCategory.DEPENDENCY,
        ErrorCategory.INTERNAL,
    ],
)
async def test_permanent_errors_are_not_retried(category: ErrorCategory) -> None:
    fake = VirtualTime()
    error = _error(category)
    call = Flaky(error)
    with pytest.raises(ConnectorError) as raised:
        await with_retries(call, sleep=fake.sleep, clock=fake.clock)
    assert raised.value is error
    assert call.calls == 1 and fake.sleeps == []


async def test_attempts_are_bounded_and_the_last_error_is_raised_as_is() -> None:
    fake = VirtualTime()
    errors = [_error(ErrorCategory.CONNECTION) for _ in range(10)]
    call = Flaky(*errors)
    with pytest.raises(ConnectorError) as raised:
        await with_retries(call, policy=RetryPolicy(attempts=4), sleep=fake.sleep, clock=fake.clock)
    assert call.calls == 4
    assert raised.value is errors[3]
    assert len(fake.sleeps) == 3


async def test_total_time_is_bounded_including_the_next_wait() -> None:
    fake = VirtualTime()
    call = Flaky(_error(ErrorCategory.RATE_LIMIT, retry_after=120))
    with pytest.raises(ConnectorError) as raised:
        await with_retries(call, policy=RetryPolicy(total_s=60), sleep=fake.sleep, clock=fake.clock)
    assert raised.value.category is ErrorCategory.RATE_LIMIT
    assert call.calls == 1 and fake.sleeps == []  # gave up instead of sleeping past the budget


async def test_on_retry_reports_each_retry() -> None:
    fake = VirtualTime()
    seen: list[tuple[str, int, float]] = []
    call = Flaky(_error(ErrorCategory.CONNECTION), _error(ErrorCategory.RATE_LIMIT, 2))
    await with_retries(
        call,
        sleep=fake.sleep,
        clock=fake.clock,
        rng=lambda: 0.0,
        on_retry=lambda e, n, d: seen.append((e.code, n, d)),
    )
    assert seen == [("connection", 1, 0.25), ("rate_limit", 2, 2.0)]


async def test_limiter_bounds_calls_in_flight() -> None:
    limiter = AdaptiveLimiter(3)
    release = asyncio.Event()
    peak = 0

    async def work() -> None:
        nonlocal peak
        async with limiter.slot():
            peak = max(peak, limiter.in_flight)
            await release.wait()

    tasks = [asyncio.create_task(work()) for _ in range(10)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert limiter.in_flight == 3
    release.set()
    await asyncio.gather(*tasks)
    assert peak == 3 and limiter.in_flight == 0


async def test_limiter_is_unpaced_until_throttled_then_paces_below_the_accepted_rate() -> None:
    fake = VirtualTime()
    limiter = AdaptiveLimiter(8, clock=fake.clock, sleep=fake.sleep, window_s=2.0)
    fake.now += 30  # idle time before the burst must not dilute the estimate
    # 40 calls succeed over one second of fake time: an accepted rate of 40/s.
    for _ in range(40):
        async with limiter.slot():
            fake.now += 0.025
        limiter.succeeded()
    assert fake.sleeps == [] and limiter.rate is None
    limiter.throttled()
    assert limiter.rate == pytest.approx(0.9 * 40 / 0.975)  # the 40 span 0.975 s
    fake.sleeps.clear()
    for _ in range(5):
        async with limiter.slot():
            pass
    # Back-to-back calls now start 1/rate apart.
    assert sum(fake.sleeps) == pytest.approx(4 / 36.0, rel=0.05)


async def test_a_burst_of_429s_slows_down_once_then_probes_up_and_settles() -> None:
    fake = VirtualTime()
    limiter = AdaptiveLimiter(4, clock=fake.clock, sleep=fake.sleep, window_s=1.0)
    for _ in range(20):
        fake.now += 0.05
        limiter.succeeded()
    for _ in range(4):  # four calls in flight all rejected at once: one signal
        limiter.throttled()
    first = limiter.rate
    assert first == pytest.approx(0.9 * 20 / 0.95) and limiter.throttled_count == 4
    for _ in range(10):  # after the first cut: fast probing
        limiter.succeeded()
    assert limiter.rate == pytest.approx(first + 10 * 0.5)
    fake.now += 1.0
    limiter.throttled()  # a later 429 slows down again...
    second = limiter.rate
    assert second is not None and second < first + 10 * 0.5
    for _ in range(10):  # ...and from then on growth is gentle
        limiter.succeeded()
    assert limiter.rate == pytest.approx(second + 10 * 0.03)


async def test_limiter_rejects_a_zero_bound() -> None:
    with pytest.raises(ValueError):
        AdaptiveLimiter(0)
