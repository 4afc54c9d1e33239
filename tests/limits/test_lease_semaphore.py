"""The deployment-wide semaphore over real Azurite: capacity across holders, a dead holder's
slot back only after its lease (injected clock), slots given back on error and cancel, and
one winner when two callers race for the same expired slot."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from azure.data.tables.aio import TableClient

from shared.limits import Lease, LeaseSemaphore

KEY = "intacct|SANDBOX"


class WallClock:
    """The wall clock the semaphore compares lease expiries with; moves when told."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)


def semaphore(
    table: TableClient, clock: WallClock, holder: str, capacity: int = 2, lease_s: float = 60.0
) -> LeaseSemaphore:
    return LeaseSemaphore(
        table, KEY, capacity, lease_s=lease_s, clock=clock, sleep=clock.sleep, holder=holder
    )


async def holders(table: TableClient) -> dict[str, str]:
    return {row["RowKey"]: row["holder"] async for row in table.list_entities()}


async def test_at_most_capacity_holders_across_semaphores(limits_table: TableClient) -> None:
    clock = WallClock()
    one, two, three = (semaphore(limits_table, clock, name) for name in ("w1", "w2", "w3"))
    first = await one.acquire()
    second = await two.acquire()
    assert first is not None and second is not None and first.slot != second.slot
    assert await three._try_acquire() is None  # both slots are held
    await one.release(first)
    third = await three._try_acquire()
    assert third is not None and third.slot == first.slot
    assert await holders(limits_table) == {second.slot: "w2", first.slot: "w3"}


async def test_a_dead_holders_slot_comes_back_only_after_its_lease(
    limits_table: TableClient,
) -> None:
    clock = WallClock()
    dead = semaphore(limits_table, clock, "crashed-worker")
    assert await dead.acquire() is not None
    assert await dead.acquire() is not None  # both slots, never given back: it died

    alive = semaphore(limits_table, clock, "alive-worker")
    clock.now += 59.9
    assert await alive._try_acquire() is None  # the leases still run

    waiting = asyncio.create_task(alive.acquire())
    while len(clock.sleeps) < 3:  # it polls while the leases run...
        await asyncio.sleep(0.01)
    assert not waiting.done()
    clock.now += 0.2  # ...and gets a slot once they ran out
    lease = await asyncio.wait_for(waiting, 30)
    assert lease is not None and lease.expires == pytest.approx(clock.now + 60.0)
    assert sorted((await holders(limits_table)).values()) == ["alive-worker", "crashed-worker"]


async def test_the_slot_is_given_back_on_error_and_on_cancel(limits_table: TableClient) -> None:
    clock = WallClock()
    sem = semaphore(limits_table, clock, "w1", capacity=1)
    with pytest.raises(RuntimeError):
        async with sem.slot():
            assert await holders(limits_table) == {"000": "w1"}
            raise RuntimeError("the request failed")
    assert await holders(limits_table) == {}

    entered = asyncio.Event()

    async def hold() -> None:
        async with sem.slot():
            entered.set()
            await asyncio.Event().wait()  # a request that never ends...

    task = asyncio.create_task(hold())
    await entered.wait()
    task.cancel()  # ...until its invocation is cancelled
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await holders(limits_table) == {}


async def test_two_callers_racing_for_an_expired_slot_one_wins(limits_table: TableClient) -> None:
    clock = WallClock()
    assert await semaphore(limits_table, clock, "dead", capacity=1).acquire() is not None
    clock.now += 61
    racers = [semaphore(limits_table, clock, f"r{i}", capacity=1) for i in range(6)]
    won = await asyncio.gather(*(racer._try_acquire() for racer in racers))
    assert len([lease for lease in won if lease is not None]) == 1
    assert list((await holders(limits_table)).values()) in [[f"r{i}"] for i in range(6)]


async def test_a_local_waiter_is_handed_the_slot_at_most_max_handoffs_in_a_row(
    limits_table: TableClient,
) -> None:
    clock = WallClock()
    local = semaphore(limits_table, clock, "w1", capacity=1)
    local.max_handoffs = 2
    other = semaphore(limits_table, clock, "w2", capacity=1)
    order: list[str] = []
    done = {name: asyncio.Event() for name in ("w1#0", "w1#1", "w1#2", "w1#3", "w2#4")}

    async def caller(sem: LeaseSemaphore, name: str) -> None:
        async with sem.slot():
            order.append(name)
            assert len(await holders(limits_table)) == 1  # one slot, one holder
            await done[name].wait()

    tasks = [asyncio.create_task(caller(local, "w1#0"))]
    while not order:
        await asyncio.sleep(0.01)
    tasks += [asyncio.create_task(caller(local, f"w1#{n}")) for n in (1, 2, 3)]
    tasks.append(asyncio.create_task(caller(other, "w2#4")))
    while local.waiting < 3 or other.waiting < 1:  # all of them are waiting for the slot
        await asyncio.sleep(0.01)
    for k in range(5):
        while len(order) <= k:
            await asyncio.sleep(0.01)
        done[order[k]].set()  # the holder finishes: the slot goes to the next one
    await asyncio.gather(*tasks)
    # w1's callers were handed the slot twice without giving it back; then it went back to
    # the table, where w2 could win it.
    assert local.handoffs == 2 and order[0].startswith("w1")
    assert [name.startswith("w1") for name in order[:3]] == [True, True, True]
    assert sorted(order) == sorted(done)
    assert await holders(limits_table) == {}


async def test_of_a_workers_waiting_callers_one_polls_the_table(
    limits_table: TableClient,
) -> None:
    """Every waiter polling on its own cost a query per waiter per round: with 4 workers of
    4 chunks each, a third of a storage request per record (docs/engine.md)."""
    clock = WallClock()
    other = semaphore(limits_table, clock, "w2", capacity=1)
    held = await other.acquire()
    assert held is not None
    local = semaphore(limits_table, clock, "w1", capacity=1)
    real_try = local._try_acquire
    pollers: list[asyncio.Task[Any] | None] = []  # the caller behind each poll

    async def counted() -> Lease | None:
        pollers.append(asyncio.current_task())
        return await real_try()

    local._try_acquire = counted  # type: ignore[method-assign]
    got: list[Lease | None] = []

    async def caller() -> None:
        async with local.slot() as lease:
            got.append(lease)

    tasks = [asyncio.create_task(caller()) for _ in range(4)]
    while local.waiting < 4:  # each has tried once and queued up behind the others
        await asyncio.sleep(0.01)
    polled, slept = len(pollers), len(clock.sleeps)
    while len(clock.sleeps) < slept + 40 or len(pollers) < polled + 4:
        await asyncio.sleep(0.01)  # 40 waits between the four of them, and some polls
    assert local.waiting == 4 and not got
    # One of them polls, the same one each time; the others only wait. (Every waiter
    # polling on its own made four; a try that ended after another caller had become the
    # poller taking its place made two or three take turns.)
    assert len(set(pollers[polled:])) == 1
    await other.release(held)
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert len(got) == 4 and all(lease is not None for lease in got)
    assert await holders(limits_table) == {}
