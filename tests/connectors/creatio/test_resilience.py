"""The client under throttling and faults: every record arrives exactly once, calls in
flight stay bounded. No wall-clock assertions: only counts and outcomes."""

from __future__ import annotations

import asyncio

from shared.connectors.creatio import CreatioClient, deterministic_id
from shared.connectors.retry import RetryPolicy
from tests.support.creatio import RunningCreatio, config

PATIENT = RetryPolicy(attempts=30, base_delay_s=0.02, max_delay_s=0.5, total_s=120.0)


async def test_a_429_storm_slows_the_client_down_without_failing_a_record(
    creatio: RunningCreatio,
) -> None:
    creatio.admin.knobs(rate_limit_per_s=60, rate_limit_burst=5)
    async with CreatioClient(config(creatio.url, retry=PATIENT, max_in_flight=8)) as client:
        results = await asyncio.gather(
            *(
                client.create(
                    "Account", {"Name": f"storm {i}"}, id=deterministic_id("storm", str(i))
                )
                for i in range(150)
            )
        )
        paced = client.limiter.rate
    assert len(results) == 150 and all(r.record is not None for r in results)
    stats = creatio.admin.stats()
    assert stats["throttled"] > 0  # the storm happened...
    assert paced is not None  # ...and the client paced itself from then on
    assert stats["writes"] == {"create Account": 150}  # every record, once
    assert len(creatio.rows("Account")) == 150
    answered = sum(n for k, n in stats["statuses"].items() if k.startswith("POST") and "429" in k)
    assert answered == stats["throttled"]


async def test_every_record_arrives_once_through_random_faults(creatio: RunningCreatio) -> None:
    creatio.admin.knobs(
        fail_rate=0.2,
        fail_modes={"5xx": 1, "drop": 1, "drop_after": 1, "timeout": 1},
        timeout_s=1.5,
        seed=3,
    )
    # Plus one certain lost answer, so the run never depends on the dice for it.
    creatio.admin.faults({"fault": "drop_after", "method": "POST", "path": "/0/odata/Contact"})
    async with CreatioClient(config(creatio.url, retry=PATIENT, timeout_s=0.4)) as client:
        single = await asyncio.gather(
            *(
                client.create("Contact", {"Name": f"single {i}"}, id=deterministic_id("f", str(i)))
                for i in range(60)
            )
        )
        batched = await client.create_many(
            "Product", [(deterministic_id("p", str(i)), {"Name": f"p{i}"}) for i in range(150)]
        )
    assert all(r.record is not None for r in single)
    assert all(o.ok for o in batched), [o.error for o in batched if o.error][:3]
    stats = creatio.admin.stats()
    assert stats["writes"] == {"create Contact": 60, "create Product": 150}
    assert sum(stats["statuses"][k] for k in stats["statuses"] if "dropped" in k) > 0
    names = [r["Name"] for r in creatio.rows("Contact") if r["Name"] != "Supervisor"]
    assert sorted(names) == sorted(f"single {i}" for i in range(60))


async def test_calls_in_flight_are_bounded_per_connection(creatio: RunningCreatio) -> None:
    creatio.admin.knobs(latency_ms=40)
    async with CreatioClient(config(creatio.url, max_in_flight=3)) as client:
        await client.check()
        creatio.admin.clear_calls()
        await asyncio.gather(*(client.query("Account") for _ in range(24)))
    peak = creatio.admin.stats()["max_in_flight"]
    assert 2 <= peak <= 3
