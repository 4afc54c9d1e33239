"""Creatio as a chunk's target (issue 15): Intacct customers -> Creatio accounts through the
engine, Azurite and both emulators. A chunk's matches and creates leave as a few Creatio
requests (`$filter` ORs, a `$batch`), and still every record keeps its own outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from sandbox.emulators.creatio.schema import ENTITIES, Column
from shared.errors import ErrorCategory
from shared.flows.models import RunStatus
from shared.runtime import Services
from tests.support.creatio import RunningCreatio, running_creatio
from tests.support.engine import creatio_settings, engine_services, intacct_settings, run_flow
from tests.support.intacct import RunningIntacct, running_intacct

CUSTOMERS_TO_CREATIO = "creatio-intacct.customers-to-creatio"
ODATA = "/0/odata/"


@pytest.fixture(scope="module")
def creatio_emulator() -> Iterator[RunningCreatio]:
    with running_creatio() as running:
        yield running


@pytest.fixture(scope="module")
def intacct_emulator() -> Iterator[RunningIntacct]:
    with running_intacct() as running:
        yield running


@pytest.fixture
async def services(
    storage_connection_string: str,
    table_prefix: str,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
) -> AsyncIterator[Services]:
    creatio_emulator.admin.reset()
    intacct_emulator.admin.reset()
    settings = {
        "SHUTTLE_PAGE_SIZE": "100",
        **creatio_settings(creatio_emulator),
        **intacct_settings(intacct_emulator),
    }
    async with engine_services(
        storage_connection_string, table_prefix, "creatio-intacct", settings
    ) as built:
        yield built


def creatio_calls(admin: Any) -> dict[str, int]:
    """Creatio's OData requests by route (logins and the emulator's admin API left out)."""
    return {key: n for key, n in admin.stats()["calls"].items() if ODATA in key}


def seed_customers(intacct: RunningIntacct, count: int, long: set[int] | None = None) -> None:
    intacct.admin.seed(
        {
            "CUSTOMER": [
                {
                    "CUSTOMERID": f"CU{n:03d}",
                    "NAME": ("A name longer than the site takes " if n in (long or set()) else "")
                    + f"Customer {n:03d}",
                    "STATUS": "active",
                }
                for n in range(count)
            ]
        }
    )


def accounts_by_code(creatio: RunningCreatio) -> dict[str, list[dict[str, Any]]]:
    by_code: dict[str, list[dict[str, Any]]] = {}
    for row in creatio.rows("Account"):
        by_code.setdefault(row["Code"], []).append(row)
    return by_code


async def test_a_chunk_of_100_into_creatio_costs_a_handful_of_requests_not_200(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    seed_customers(intacct_emulator, 100)
    creatio_emulator.admin.clear_calls()
    run = await run_flow(services, CUSTOMERS_TO_CREATIO)
    assert run.status is RunStatus.SUCCEEDED, run.errors
    assert (run.counts.read, run.counts.created) == (100, 100)
    accounts = accounts_by_code(creatio_emulator)
    assert sorted(accounts) == [f"CU{n:03d}" for n in range(100)]
    assert all(len(rows) == 1 for rows in accounts.values())
    calls = creatio_calls(creatio_emulator.admin)
    # One match query per key (Code, then Name), each split to fit IIS's query string limit
    # (docs/wire-notes.md C9), and one $batch of the 100 creates: single calls would be 300.
    assert calls.get("POST /0/odata/$batch") == 1, calls
    assert "POST /0/odata/Account" not in calls, calls
    assert sum(calls.values()) <= 8, calls


async def test_3_records_creatio_refuses_of_100_fail_alone_naming_record_and_field(
    services: Services,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The site's column is narrower than the mapping allows (a customised Creatio): Creatio
    # itself refuses the three, each in its own sub-request of the one $batch.
    narrow = Column("UsrErpFullName", "text", max_length=40)
    monkeypatch.setitem(ENTITIES["Account"].by_name, "UsrErpFullName", narrow)
    bad = {4, 51, 98}
    seed_customers(intacct_emulator, 100, long=bad)
    creatio_emulator.admin.clear_calls()
    run = await run_flow(services, CUSTOMERS_TO_CREATIO)
    assert run.status is RunStatus.PARTIAL
    assert (run.counts.read, run.counts.created, run.counts.failed) == (100, 97, 3), run.errors
    accounts = accounts_by_code(creatio_emulator)
    assert sorted(accounts) == [f"CU{n:03d}" for n in range(100) if n not in bad]
    customers = intacct_emulator.admin.rows("CUSTOMER")
    code_of = {str(c[k]): c["CUSTOMERID"] for c in customers for k in ("RECORDNO", "CUSTOMERID")}
    failed = {code_of[e.record]: e for e in run.errors if e.record}
    assert sorted(failed) == [f"CU{n:03d}" for n in sorted(bad)]
    for error in failed.values():
        assert error.category is ErrorCategory.VALIDATION, error
        assert error.field == "UsrErpFullName" and "truncated" in error.message, error
    calls = creatio_calls(creatio_emulator.admin)
    assert calls.get("POST /0/odata/$batch") == 1, calls  # refusals are final: not sent again


async def test_a_chunk_delivered_twice_makes_no_twin_in_creatio(
    services: Services,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_customers(intacct_emulator, 60)
    queue = services.records.queue  # the page step's and the record worker's
    real_send = queue.send_message
    doubled: list[int] = []

    async def twice(text: str, **kwargs: Any) -> Any:
        # At-least-once delivery: every chunk arrives two times.
        doubled.append(1)
        await real_send(text, **kwargs)
        return await real_send(text, **kwargs)

    monkeypatch.setattr(queue, "send_message", twice)
    run = await run_flow(services, CUSTOMERS_TO_CREATIO)
    assert doubled
    assert (run.counts.read, run.counts.created, run.counts.failed) == (60, 60, 0), run.errors
    accounts = accounts_by_code(creatio_emulator)
    assert sorted(accounts) == [f"CU{n:03d}" for n in range(60)]
    assert all(len(rows) == 1 for rows in accounts.values()), "a twin"


async def test_a_batch_whose_answer_is_lost_is_retried_without_twins(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    seed_customers(intacct_emulator, 100)
    # Creatio applies the chunk's $batch of creates, then the connection resets.
    creatio_emulator.admin.faults({"fault": "drop_after", "path": "/0/odata/$batch"})
    run = await run_flow(services, CUSTOMERS_TO_CREATIO)
    assert (run.counts.read, run.counts.created, run.counts.failed) == (100, 100, 0), run.errors
    accounts = accounts_by_code(creatio_emulator)
    assert sorted(accounts) == [f"CU{n:03d}" for n in range(100)]
    assert all(len(rows) == 1 for rows in accounts.values()), "a twin"
    assert creatio_emulator.admin.writes("create Account") == 100


async def test_creates_that_landed_while_every_answer_was_lost_are_found_not_twinned(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    seed_customers(intacct_emulator, 30)
    # Every attempt of the client (5) lands and loses its answer: the client gives up, each
    # record goes back on the queue, and its next delivery finds its account by Code.
    creatio_emulator.admin.faults({"fault": "drop_after", "path": "/0/odata/$batch", "times": 5})
    run = await run_flow(services, CUSTOMERS_TO_CREATIO)
    assert (run.counts.read, run.counts.created, run.counts.failed) == (30, 30, 0), run.errors
    accounts = accounts_by_code(creatio_emulator)
    assert sorted(accounts) == [f"CU{n:03d}" for n in range(30)]
    assert all(len(rows) == 1 for rows in accounts.values()), "a twin"
    assert creatio_emulator.admin.writes("create Account") == 30
    assert creatio_calls(creatio_emulator.admin)["POST /0/odata/$batch"] == 5


async def test_a_chunk_of_changes_to_bound_accounts_reads_and_patches_in_a_few_requests(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    seed_customers(intacct_emulator, 100)
    first = await run_flow(services, CUSTOMERS_TO_CREATIO)
    assert first.counts.created == 100, first.errors
    intacct = await services.connectors.get("intacct")
    customers = intacct_emulator.admin.rows("CUSTOMER")
    renamed = await intacct.update_many(  # type: ignore[attr-defined]
        "CUSTOMER", [(c["CUSTOMERID"], {"NAME": f"Renamed {c['CUSTOMERID']}"}) for c in customers]
    )
    assert not [r for r in renamed if isinstance(r, Exception)], renamed
    creatio_emulator.admin.clear_calls()
    run = await run_flow(services, CUSTOMERS_TO_CREATIO)
    assert (run.counts.read, run.counts.updated, run.counts.failed) == (100, 100, 0), run.errors
    names = {r["Code"]: r["Name"] for r in creatio_emulator.rows("Account")}
    assert names == {f"CU{n:03d}": f"Renamed CU{n:03d}" for n in range(100)}
    calls = creatio_calls(creatio_emulator.admin)
    # The bound accounts read by Id (`or`s of `Id eq`, split) and one $batch of PATCHes.
    assert calls.get("POST /0/odata/$batch") == 1, calls
    assert not [k for k in calls if k.startswith("PATCH")], calls
    assert sum(calls.values()) <= 6, calls
