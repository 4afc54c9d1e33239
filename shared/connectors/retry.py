"""Retries and pacing shared by every connector.

`with_retries` runs one call again while it fails with a *transient* ConnectorError
(connection, rate_limit): exponential backoff with jitter, or the server's Retry-After when
it gave one, bounded by a number of attempts and by a total time. Permanent errors
(validation, duplicate, not_found, auth...) go straight back to the caller.

`AdaptiveLimiter` bounds the calls in flight on one connection and, once the server has
answered 429, paces new calls below the rate it tolerated and creeps back up on success
(additive increase, multiplicative decrease), so a rate-limited system is used near its
limit with few 429s instead of in bursts that are all rejected.

Clock, sleep and randomness are injectable so tests drive them without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import logging
import math
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Protocol, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from shared.connectors.errors import ConnectorError

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Random = Callable[[], float]
OnRetry = Callable[[ConnectorError, int, float], None]
RetryIf = Callable[[ConnectorError], bool]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one call. `total_s` bounds attempts plus waits: a queue message must
    finish well inside its visibility timeout, and a longer outage is the queue's to retry."""

    attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    total_s: float = 90.0
    # Spread of the wait after a Retry-After, as a share of it: clients told the same
    # Retry-After must not all come back in the same millisecond.
    retry_after_jitter: float = 0.1

    def backoff(self, failures: int, rng: Random) -> float:
        """Equal jitter: half the exponential step is fixed, half random (never ~0 s)."""
        step = min(self.max_delay_s, self.base_delay_s * 2.0 ** (failures - 1))
        return step / 2 + rng() * step / 2

    def delay(self, error: ConnectorError, failures: int, rng: Random) -> float:
        if error.retry_after is not None:
            wait = max(0.0, error.retry_after)
            return wait * (1 + self.retry_after_jitter * rng())
        return self.backoff(failures, rng)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, ConnectorError) and exc.retryable


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A `Retry-After` header (delta-seconds, or an HTTP date) as seconds from now; None when
    absent or unreadable. The one parser of the three clients."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class _Schedule:
    """Tenacity wait + stop for one call, on an injectable clock."""

    def __init__(self, policy: RetryPolicy, clock: Clock, rng: Random) -> None:
        self.policy = policy
        self.clock = clock
        self.rng = rng
        self.started = clock()

    def wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        assert isinstance(error, ConnectorError)  # only transient ConnectorErrors get here
        return self.policy.delay(error, state.attempt_number, self.rng)

    def stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.policy.attempts:
            return True
        # Give up now rather than sleep past the budget (a Retry-After of minutes, say).
        return self.clock() - self.started + state.upcoming_sleep > self.policy.total_s


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy | None = None,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
    rng: Random = random.random,
    on_retry: OnRetry | None = None,
    retry_if: RetryIf | None = None,
) -> T:
    """Await `call()`, again after each transient ConnectorError (and, with `retry_if`, only
    those it accepts), within `policy`. The last error is raised as it is (never wrapped),
    so its category reaches the run log."""
    schedule = _Schedule(policy or RetryPolicy(), clock, rng)

    def should_retry(exc: BaseException) -> bool:
        if not is_transient(exc):
            return False
        assert isinstance(exc, ConnectorError)
        return retry_if is None or retry_if(exc)

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            error = state.outcome.exception()
            assert isinstance(error, ConnectorError)
            on_retry(error, state.attempt_number, state.upcoming_sleep)

    retrying = AsyncRetrying(
        sleep=sleep,
        stop=schedule.stop,
        wait=schedule.wait,
        retry=retry_if_exception(should_retry),
        before_sleep=before_sleep,
        reraise=True,
    )

    async def run() -> T:
        # An async def, whatever `call` is: tenacity would not await a lambda's coroutine.
        return await call()

    return await retrying(run)


# eq=False: one client's retrier is one object (its context variable is named by its id).
@dataclass(eq=False, repr=False)
class Retrier:
    """One client's bounded retry: its policy, clock, sleep and randomness in one place.

    Each client retries its own requests with it, and a caller that must retry a larger
    unit than one request (the Intacct adapter's look-then-create, Creatio's `$batch`
    sub-requests) uses the client's `retrying()` (this) and so the same budget, instead of
    rebuilding a retry from the client's insides."""

    policy: RetryPolicy
    _: KW_ONLY
    clock: Clock = time.monotonic
    sleep: Sleep = asyncio.sleep
    rng: Random = random.random
    log: logging.Logger | None = None
    _active: contextvars.ContextVar[bool] = field(init=False)

    def __post_init__(self) -> None:
        # Set while a `retrying()` of this client runs in this task (and the tasks it
        # starts): a call nested in it is tried once, so one failure is retried by one loop
        # (a look-then-create whose look would otherwise retry too: attempts squared).
        self._active = contextvars.ContextVar(f"retrying-{id(self)}", default=False)

    def _on_retry(self, error: ConnectorError, attempt: int, delay: float) -> None:
        if self.log is not None:
            self.log.warning("%s (attempt %d); retrying in %.1f s", error, attempt, delay)

    async def retrying(
        self, call: Callable[[], Awaitable[T]], *, retry_if: RetryIf | None = None
    ) -> T:
        """`call()` with this client's retry budget (see `with_retries`); inside another
        `retrying()` of the same client, once: the outer one owns the budget."""
        if self._active.get():
            return await call()
        token = self._active.set(True)
        try:
            # This retrier's fields, passed on by name to the one retry loop (above).
            return await with_retries(
                call,
                policy=self.policy,
                sleep=self.sleep,
                clock=self.clock,
                rng=self.rng,
                on_retry=self._on_retry,
                retry_if=retry_if,
            )
        finally:
            self._active.reset(token)


class SharedSlots(Protocol):
    """Slots shared with other processes (shared/limits/semaphore.py): `slot()` waits for
    one and gives it back on exit."""

    def slot(self) -> contextlib.AbstractAsyncContextManager[object]: ...


class AdaptiveLimiter:
    """Calls in flight and call rate for one connection.

    - at most `max_in_flight` calls at once (a semaphore);
    - unpaced until the server throttles; from then on new calls start at most `rate` per
      second. A 429 sets `rate` to `decrease` x the rate the server *accepted* over the last
      `window_s` (at most once per half window: a burst of 429s is one signal).
    - each success adds to `rate`: `probe_increase` until the second cut (the first estimate
      rests on the few calls before the first 429, so it probes up fast, about +50 % a
      second), `increase` after it (about +3 % a second), so the client settles just under
      the server's limit with an occasional 429 (bench: ~90 % of the limit, ~1 call in 400
      answered 429).
    - a 429 that says when to come back (Retry-After r; one that does not: a window) sets a
      floor under the cut: every slot may send again after r, so the pace never drops below
      `max_in_flight / r`. In a
      storm where nothing gets through there is no accepted rate to go by; halving blindly
      would drain 200 refusals with Retry-After 1 at the old `min_rate` (one call per 2 s)
      instead of at the pace the server allows. Such blind cuts do not count as cuts for the
      probing above, so the rate climbs back fast once the storm is over.
    """

    def __init__(
        self,
        max_in_flight: int = 8,
        *,
        min_rate: float = 0.5,
        decrease: float = 0.9,
        increase: float = 0.03,
        probe_increase: float = 0.5,
        window_s: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight
        self.min_rate = min_rate
        self.decrease = decrease
        self.increase = increase
        self.probe_increase = probe_increase
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._semaphore = asyncio.Semaphore(max_in_flight)
        self._successes: deque[float] = deque()
        self._next_start = -math.inf
        self._last_decrease = -math.inf
        self._cuts = 0
        self.rate: float | None = None
        self.in_flight = 0
        self.throttled_count = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._semaphore:
            await self._pace()
            self.in_flight += 1
            try:
                yield
            finally:
                self.in_flight -= 1

    async def _pace(self) -> None:
        if self.rate is None:
            return
        now = self._clock()
        start = max(now, self._next_start)
        self._next_start = start + 1.0 / self.rate
        if start > now:
            await self._sleep(start - now)

    def accepted_rate(self) -> float:
        """Successful calls per second over the last window, measured over the time those
        successes actually span (idle time before a burst would understate the rate)."""
        now = self._clock()
        while self._successes and self._successes[0] < now - self.window_s:
            self._successes.popleft()
        if not self._successes:
            return 0.0
        span = max(now - self._successes[0], 0.05)
        return len(self._successes) / span

    def floor(self, retry_after: float | None) -> float:
        """The slowest pace a 429 with this Retry-After justifies (calls per second). A 429
        that does not say (Intacct's GW-0010: a slot still counted for a call the client
        gave up on) is read as "after a window": pacing slower than every slot once a
        window only stretches the refusal into minutes."""
        wait = retry_after if retry_after is not None and retry_after > 0 else self.window_s
        return max(self.min_rate, self.max_in_flight / wait)

    def throttled(self, retry_after: float | None = None) -> None:
        """The server answered 429 (saying when to come back, if it did): slow down to just
        under what it accepted, never below what its Retry-After allows."""
        self.throttled_count += 1
        now = self._clock()
        floor = self.floor(retry_after)
        if now - self._last_decrease < self.window_s / 2:
            if self.rate is not None and self.rate < floor:
                self.rate = floor
            return
        self._last_decrease = now
        accepted = self.accepted_rate()
        if accepted > 0:
            self._cuts += 1
        else:  # nothing got through lately: halve whatever we had (a blind cut)
            accepted = (self.rate or float(self.max_in_flight)) / 2 / self.decrease
        if self.rate is not None:  # a 429 never speeds us up below its floor
            accepted = min(accepted, self.rate)
        self.rate = max(floor, accepted * self.decrease)
        self._next_start = max(self._next_start, now)

    def refused_concurrency(self) -> None:
        """The server refused a call for too many in flight without saying when to come
        back (Intacct's GW-0010): counted, but the rate is left alone. The semaphore already
        bounds this client's calls; such a refusal means the server still counts a call the
        client gave up on (a timeout) a moment ago, and the call's own retry with backoff is
        the answer. Cutting the rate for it turned a few of them into minutes of pacing."""
        self.throttled_count += 1

    def succeeded(self) -> None:
        self._successes.append(self._clock())
        if self.rate is not None:
            self.rate += self.probe_increase if self._cuts < 2 else self.increase
