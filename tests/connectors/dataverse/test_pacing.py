"""The throttle against a model of Dataverse's service protection on a discrete-event clock:
chunked work (a short query and a long `$batch` per chunk) paced to the binding execution-
time window, with the share of the limit used and the 429s counted exactly (no sleeps).

The model follows the emulator's rules (sandbox/emulators/dataverse/protection.py, docs/
wire-notes.md D5-D6): a call is refused when the window's request count or execution time
had reached the limit when it arrived; a `$batch` is one request whose whole duration is
execution time; answers carry the remaining budgets."""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass, field

import httpx

from shared.connectors.dataverse.throttle import (
    BUDGET_HEADER,
    REQUESTS_LIMIT,
    TIME_HEADER,
    TIME_LIMIT,
    ServiceProtection,
)
from shared.connectors.dataverse.window import SlidingWindow
from tests.support.clock import EventTime

WINDOW = 10.0
OPERATION_S = 0.01  # server time per operation: a $batch of 100 takes 1 s


@dataclass
class Server:
    time: EventTime
    max_requests: int
    max_execution_s: float
    headers: bool = True
    requests: deque[float] = field(default_factory=deque)
    executions: deque[tuple[float, float]] = field(default_factory=deque)
    accepted: list[float] = field(default_factory=list)
    ended: list[tuple[float, float]] = field(default_factory=list)
    refused: int = 0

    def _prune(self, now: float) -> None:
        while self.requests and self.requests[0] <= now - WINDOW:
            self.requests.popleft()
        while self.executions and self.executions[0][0] <= now - WINDOW:
            self.executions.popleft()

    def _refuse(self, code: str, free_at: float, now: float) -> httpx.Response:
        self.refused += 1
        wait = max(1, math.ceil(free_at - now))
        return httpx.Response(
            429, headers={"Retry-After": str(wait)}, json={"error": {"code": code}}
        )

    async def call(self, duration: float) -> httpx.Response:
        now = self.time.now
        self._prune(now)
        if len(self.requests) >= self.max_requests:
            return self._refuse(REQUESTS_LIMIT, self.requests[0] + WINDOW, now)
        spent = sum(s for _, s in self.executions)
        if spent >= self.max_execution_s:
            excess, free_at = spent - self.max_execution_s, now
            for end, s in self.executions:
                excess -= s
                free_at = end + WINDOW
                if excess < 0:
                    break
            return self._refuse(TIME_LIMIT, free_at, now)
        self.requests.append(now)
        self.accepted.append(now)
        headers = {}
        if self.headers:
            headers = {
                BUDGET_HEADER: str(self.max_requests - len(self.requests)),
                TIME_HEADER: f"{(self.max_execution_s - spent) * 1000:.2f}",
            }
        await self.time.sleep(duration)
        self.executions.append((self.time.now, duration))
        self.ended.append((self.time.now, duration))
        return httpx.Response(200, headers=headers)

    def execution_share(self) -> float:
        """Execution time used per second over what the limit allows, from one window after
        the first call (the first window starts empty: any client may burst through it)."""
        start = self.accepted[0] + WINDOW
        last = max(end for end, _ in self.ended)
        used = sum(s for end, s in self.ended if end >= start)
        return used / (last - start) / (self.max_execution_s / WINDOW)


async def send(protection: ServiceProtection, server: Server, operations: int) -> None:
    """What DataverseClient._request does around one call: slot, answer, Retry-After."""
    while True:
        async with protection.slot(operations) as ticket:
            response = await server.call(operations * OPERATION_S)
            protection.observe(response, ticket)
            if response.status_code != 429:
                return
            code = response.json()["error"]["code"]
            protection.throttled_for(float(response.headers["Retry-After"]), ticket, code)


async def work(workers: list[ServiceProtection], server: Server, chunks: int) -> None:
    """Four chunks at once per worker (the bench's pump): a query, then a `$batch`."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(chunks):
        queue.put_nowait(n)

    async def lane(protection: ServiceProtection) -> None:
        while not queue.empty():
            queue.get_nowait()
            await send(protection, server, 1)  # the chunk's query
            await send(protection, server, 100)  # its $batch

    await asyncio.gather(*(lane(p) for p in workers for _ in range(4)))


def worker(time: EventTime) -> ServiceProtection:
    return ServiceProtection(52, clock=time.clock, sleep=time.sleep, window_s=WINDOW)


async def test_chunked_work_uses_the_binding_execution_window_without_429s() -> None:
    # 4 s of execution per 10 s window binds (0.4 batches/s); 200 requests would allow 10/s.
    time = EventTime()
    server = Server(time, max_requests=200, max_execution_s=4.0)
    protection = worker(time)
    await time.run(work([protection], server, chunks=100))
    assert len(server.ended) == 200  # every call answered once
    assert server.refused == 0
    share = server.execution_share()
    print(f"execution-time window: {share:.1%} used, {server.refused} 429s")
    assert share >= 0.9


async def test_workers_of_one_application_user_share_the_window() -> None:
    # The headers are the server's count for the user: each worker keeps to what all of
    # them left, so together they stay near the limit.
    time = EventTime()
    server = Server(time, max_requests=200, max_execution_s=4.0)
    workers = [worker(time), worker(time)]
    await time.run(work(workers, server, chunks=100))
    assert len(server.ended) == 200
    share = server.execution_share()
    print(f"two workers, one window: {share:.1%} used, {server.refused} 429s")
    # Workers do not see each other's calls in flight: both may start a $batch on the same
    # room, and a 429 caps each one's window (regrown by 2% per window): a few 429s.
    assert server.refused <= 10  # of 200 calls: 5%
    # Calls in flight reserve their expected time, so the workers do not pile $batches onto
    # one moment of room (without that: about twice the limit, as the server lets them in).
    assert 0.9 <= share <= 1.2


async def test_without_headers_the_window_is_learned_from_429s() -> None:
    time = EventTime()
    server = Server(time, max_requests=200, max_execution_s=4.0, headers=False)
    protection = worker(time)
    await time.run(work([protection], server, chunks=100))
    assert len(server.ended) == 200
    assert protection.execution.refusals == server.refused
    share = server.execution_share()
    print(f"no headers: {share:.1%} used, {server.refused} 429s")
    # A cap learned from a 429 grows back by 2% per window to find freed capacity again,
    # so without headers a 429 now and then is the price (2% of the calls here).
    assert server.refused <= 4
    assert share >= 0.85


def test_the_window_waits_for_its_oldest_entries_to_age_out() -> None:
    window = SlidingWindow(10.0, guard_s=0.0)
    window.hear(100.0, remaining=0.0, spent_at_send=5.0)  # the limit: 5 (x 0.98 safety)
    for at in (100.0, 101.0, 102.0, 103.0, 104.0):
        window.add(at, 1.0, sent_at=at - 0.5)
    assert window.spent(104.0) == 5.0
    # Full: room once the first entry has aged out (101 + 10 would be too late).
    assert window.free_at(104.0) == 110.0
    assert window.free_at(110.5) == 110.5
    # Calls in flight are counted (the server counts them from their arrival).
    assert window.free_at(110.5, pending=1.0) == 111.0
    # What the server surely counted of these when a call sent at 103.5 arrived, heard
    # at 110.4: answered by 103.5, sent within the window before 110.4.
    assert window.recent(110.4, answered_by=103.5) == 3.0


def test_a_refusal_caps_the_window_and_the_cap_grows_back_slowly() -> None:
    window = SlidingWindow(10.0, guard_s=0.0)
    for at in range(10):
        window.add(100.0 + at, 1.0)
    window.refused(109.5)
    assert window.limit(109.5) == 9.0  # 90% of the 10 spent when refused
    assert window.limit(119.4) == 9.0
    assert math.isclose(window.limit(119.5), 9.18)  # +2% per window without a refusal


def test_a_refusal_when_little_was_spent_only_pauses() -> None:
    # An injected or passing 429 (or one from another web server) after 5 calls of a limit
    # heard at 6000: no cap at 4.5 requests per window, which would stall the client.
    window = SlidingWindow(300.0, guard_s=0.0)
    window.hear(100.0, remaining=5995.0, spent_at_send=5.0)
    for at in range(5):
        window.add(100.0 + at, 1.0)
    window.refused(105.0)
    assert window.cap == math.inf
    # The limit heard stays: lowered to 90% of 5 it would hold the next call (and the next
    # answer, which tells the limit again) until the window aged out, 300 s.
    assert window.limit(105.0) == window.limit(104.0)
    assert window.free_at(105.0) == 105.0
    # No headers and nothing spent yet: a first call's 429 says nothing of the limit.
    fresh = SlidingWindow(300.0)
    fresh.refused(100.0)
    assert fresh.limit(100.0) == math.inf
