"""Data integrity of the engine against the emulators over HTTP on Azurite (issue 12):

- per-record isolation on the read side: a source record that cannot be carried (half of a
  UTF-16 surrogate pair, as a UTF-16 service emits after cutting an emoji in two) or read
  fails alone as `validation` naming its record and field; the rest of its page syncs, the
  run counts it and "query starts" moves on;
- two source records are never merged into one target record, nor made twins by racing
  workers: a shared match key fails as `duplicate` naming both and the target;
- counts stay true when every record message is delivered twice at the same time;
- records whose modification time lies outside every window are read and reported."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.pump import Pump
from shared.flows.models import RunParams, RunStatus
from shared.flows.service import RunRequest
from shared.messages import RecordMessage
from shared.runtime import Services
from shared.storage.outcome_store import Outcome
from tests.support import dataverse as dv
from tests.support.creatio import RunningCreatio
from tests.support.engine import run_flow
from tests.support.intacct import RunningIntacct

LONE = "\ud800"  # what json.loads makes of the escape "\ud800"


def seed(admin: Any, payload: dict[str, Any]) -> None:
    """Seed through the admin API as JSON text with escapes (httpx's own encoder refuses a
    lone surrogate; a UTF-16 service writes it as the escape `\\ud800`)."""
    response = admin.http.post(
        "/seed", content=json.dumps(payload), headers={"Content-Type": "application/json"}
    )
    response.raise_for_status()


async def test_a_creatio_name_with_half_a_surrogate_pair_fails_alone_and_the_page_syncs(
    intacct_services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    flow_id = "creatio-intacct.accounts-to-intacct"
    seed(
        creatio_emulator.admin,
        {
            "Account": [
                *({"Name": f"Whole {n}", "Code": f"W{n}"} for n in range(6)),
                {"Name": f"Cut emoji {LONE} Ltd", "Code": "CUT"},
            ]
        },
    )
    cut = next(str(r["Id"]) for r in creatio_emulator.rows("Account") if r["Code"] == "CUT")
    run = await run_flow(intacct_services, flow_id)
    assert run.status is RunStatus.PARTIAL
    c = run.counts
    assert (c.read, c.created, c.failed) == (7, 6, 1)
    (error,) = run.errors
    assert (error.record, error.category.value, error.field) == (cut, "validation", "Name")
    assert "surrogate" in error.message and "U+D800" in error.message
    assert sorted(r["CUSTOMERID"] for r in intacct_emulator.admin.rows("CUSTOMER")) == [
        f"W{n}" for n in range(6)
    ]
    flow = await intacct_services.flows.flows.get(flow_id)
    assert flow.query_starts == run.window.to  # the window is done: the watermark moved

    # Once the text is fixed at the source, the record syncs like any other change.
    creatio = await intacct_services.connectors.get("creatio")
    await creatio.update("Account", cut, {"Name": "Cut emoji Ltd"})
    again = await run_flow(intacct_services, flow_id)
    assert (again.counts.created, again.counts.failed) == (1, 0)  # the overlap re-reads the rest


async def test_a_dataverse_name_with_half_a_surrogate_pair_fails_alone(
    dynamics_services: Services,
    creatio_emulator: RunningCreatio,
    dataverse_emulator: dv.RunningDataverse,
) -> None:
    ids = {
        "BRK": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "NOTE": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    }
    seed(
        dataverse_emulator.admin,
        {
            "account": [
                *({"name": f"Fine {n}", "accountnumber": f"F{n}"} for n in range(4)),
                {"accountid": ids["BRK"], "name": f"{LONE}Broken", "accountnumber": "BRK"},
                {
                    "accountid": ids["NOTE"],
                    "name": "Note broken",
                    "accountnumber": "NOTE",
                    "telephone1": f"+1 555{LONE}",
                },
            ]
        },
    )
    run = await run_flow(dynamics_services, "creatio-dynamics.accounts-to-creatio")
    assert run.status is RunStatus.PARTIAL
    assert (run.counts.read, run.counts.created, run.counts.failed) == (6, 4, 2)
    errors = {e.record: e for e in run.errors}
    assert errors[ids["BRK"]].field == "name" and errors[ids["NOTE"]].field == "telephone1"
    assert all(e.category.value == "validation" for e in errors.values())
    assert sorted(r["Code"] for r in creatio_emulator.rows("Account")) == [
        f"F{n}" for n in range(4)
    ]


async def test_counts_stay_true_when_every_message_is_delivered_twice_at_once(
    dynamics_services: Services,
    creatio_emulator: RunningCreatio,
    dataverse_emulator: dv.RunningDataverse,
) -> None:
    creatio_emulator.admin.seed({"Account": [{"Name": f"Twice {n:03d}"} for n in range(300)]})
    pump = Pump(dynamics_services, concurrent_duplicates=True)
    run = await run_flow(dynamics_services, "creatio-dynamics.accounts-to-dataverse", pump)
    assert pump.deliveries >= 600
    c = run.counts
    assert (c.read, c.created, c.updated, c.unchanged, c.failed) == (300, 300, 0, 0, 0), c
    names = sorted(r["name"] for r in dataverse_emulator.admin.rows("account"))
    assert names == [f"Twice {n:03d}" for n in range(300)]


# ---- two source records are never merged into one target record ----------------------------
ACCOUNTS_TO_INTACCT = "creatio-intacct.accounts-to-intacct"
ACCOUNTS_TO_DATAVERSE = "creatio-dynamics.accounts-to-dataverse"


def account_ids(creatio: RunningCreatio) -> dict[str, str]:
    return {str(r["Name"]): str(r["Id"]) for r in creatio.rows("Account")}


async def test_accounts_sharing_a_code_or_a_name_are_never_merged_in_one_run(
    intacct_services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    creatio_emulator.admin.seed(
        {
            "Account": [
                {"Name": "Acme East", "Code": "ACME"},
                {"Name": "Acme West", "Code": "acme "},
                {"Name": "Nameless Twin"},
                {"Name": "Nameless Twin "},
                {"Name": "Alone", "Code": "ALONE"},
            ]
        }
    )
    ids = {
        r["Name"].strip() + ("" if r["Name"] == r["Name"].strip() else " (2)"): str(r["Id"])
        for r in creatio_emulator.rows("Account")
    }
    run = await run_flow(intacct_services, ACCOUNTS_TO_INTACCT)
    assert (run.counts.read, run.counts.created, run.counts.failed) == (5, 1, 4)
    errors = {e.record: e for e in run.errors}
    assert all(e.category.value == "duplicate" for e in errors.values())
    east, west = errors[ids["Acme East"]], errors[ids["Acme West"]]
    assert east.field == west.field == "CUSTOMERID"
    assert ids["Acme West"] in east.message and ids["Acme East"] in west.message
    assert "CUSTOMERID='ACME'" in east.message and "no intacct CUSTOMER has it yet" in east.message
    one, two = errors[ids["Nameless Twin"]], errors[ids["Nameless Twin (2)"]]
    assert one.field == "NAME" and ids["Nameless Twin (2)"] in one.message
    assert ids["Nameless Twin"] in two.message
    # Neither of a pair was written: Intacct has only the unambiguous customer.
    assert [r["CUSTOMERID"] for r in intacct_emulator.admin.rows("CUSTOMER")] == ["ALONE"]


async def test_a_target_bound_to_one_account_is_never_matched_by_another(
    intacct_services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    creatio_emulator.admin.seed({"Account": [{"Name": "Bound Ltd", "Code": "BND"}]})
    await run_flow(intacct_services, ACCOUNTS_TO_INTACCT)
    (customer,) = intacct_emulator.admin.rows("CUSTOMER")
    bound = account_ids(creatio_emulator)["Bound Ltd"]

    # Read together with the bound account (edited), a newcomer sharing its code fails alone.
    creatio = await intacct_services.connectors.get("creatio")
    await creatio.update("Account", bound, {"Phone": "+1 555 0100"})
    creatio_emulator.admin.seed({"Account": [{"Name": "Newcomer One", "Code": "BND"}]})
    first = await run_flow(intacct_services, ACCOUNTS_TO_INTACCT)
    newcomer = account_ids(creatio_emulator)["Newcomer One"]
    (error,) = first.errors
    assert (error.record, error.category.value, error.field) == (
        newcomer,
        "duplicate",
        "CUSTOMERID",
    )
    assert bound in error.message and customer["CUSTOMERID"] in error.message
    assert first.counts.failed == 1 and first.counts.read - first.counts.failed >= 1

    # Read alone (a single-record run), another newcomer matches the bound customer by its
    # name: the worker refuses it, naming the account the customer is bound to.
    creatio_emulator.admin.seed({"Account": [{"Name": "Bound Ltd"}]})
    (second_id,) = [
        str(r["Id"])
        for r in creatio_emulator.rows("Account")
        if r["Name"] == "Bound Ltd" and str(r["Id"]) != bound
    ]
    request = RunRequest(params=RunParams(record_ids=[second_id]))
    single = await intacct_services.flows.run_now(ACCOUNTS_TO_INTACCT, request, datetime.now(UTC))
    second = await Pump(intacct_services).run_finished(single.id)
    (error,) = second.errors
    assert (error.record, error.category.value, error.field) == (second_id, "duplicate", "NAME")
    assert bound in error.message and customer["CUSTOMERID"] in error.message
    (still,) = intacct_emulator.admin.rows("CUSTOMER")
    assert still["NAME"] == "Bound Ltd"
    binding = await intacct_services.records.bindings.get(
        "creatio-intacct.account", "erp", customer["CUSTOMERID"]
    )
    assert binding is not None and binding.crm_id == bound


async def test_two_existing_candidates_for_one_key_fail_as_a_duplicate_naming_both(
    intacct_services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    intacct_emulator.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": "DUP1", "NAME": "Double Ltd", "STATUS": "active"},
                {"CUSTOMERID": "DUP2", "NAME": "Double Ltd", "STATUS": "active"},
            ]
        }
    )
    creatio_emulator.admin.seed({"Account": [{"Name": "Double Ltd"}]})
    run = await run_flow(intacct_services, ACCOUNTS_TO_INTACCT)
    (error,) = run.errors
    assert error.category.value == "duplicate" and error.field == "NAME"
    assert "DUP1" in error.message and "DUP2" in error.message
    assert len(intacct_emulator.admin.rows("CUSTOMER")) == 2


async def racing_messages(services: Services, flow_id: str, creatio: RunningCreatio) -> list[Any]:
    """A record message for each Creatio account, as the flow's read would queue it."""
    source = await services.connectors.get("creatio")
    messages = []
    for row in creatio.rows("Account"):
        record = await source.get("Account", str(row["Id"]))
        assert record is not None
        messages.append(
            RecordMessage(
                flow_id=flow_id,
                run_id=f"{flow_id}.0000000000001-race00",
                record_id=record.id,
                modified=record.modified,
                values=record.values,
            )
        )
    return messages


async def race(services: Services, flow_id: str, creatio: RunningCreatio) -> list[str]:
    """Ten pairs of accounts, each pair sharing its code (and its name), every message worked
    at once as twenty workers would. Returns the target ids the accounts got bound to."""
    creatio.admin.seed(
        {
            "Account": [
                {"Name": f"Racer {n}", "Code": f"RACE{n}"} for n in range(10) for _ in range(2)
            ]
        }
    )
    messages = await racing_messages(services, flow_id, creatio)
    outcomes = await asyncio.gather(*(services.records.handle(m) for m in messages))
    assert sorted(o.value for o in outcomes if o is not None) == ["created"] * 10 + ["failed"] * 10
    tally = await services.engine.outcomes.tally(messages[0].run_id)
    assert all(e.category.value == "duplicate" for e in tally.errors) and len(tally.errors) == 10
    codes = {m.record_id: m.values["Code"] for m in messages}
    for error in tally.errors:  # each names the other account of its pair, which holds the key
        (holder,) = [i for i, c in codes.items() if c == codes[error.record] and i != error.record]
        assert holder in error.message
    pair = f"{flow_id.split('.')[0]}.account"
    targets = []
    for record_id in codes:
        binding = await services.records.bindings.get(pair, "crm", record_id)
        if binding is not None:
            targets.append(binding.erp_id)
    assert len(targets) == len(set(targets)) == 10  # ten targets, each bound to one account
    return targets


async def test_workers_racing_accounts_that_share_a_code_never_merge_them_in_intacct(
    intacct_services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    targets = await race(intacct_services, ACCOUNTS_TO_INTACCT, creatio_emulator)
    customers = {r["CUSTOMERID"]: r for r in intacct_emulator.admin.rows("CUSTOMER")}
    assert sorted(customers) == sorted(targets) == [f"RACE{n}" for n in range(10)]


async def test_workers_racing_accounts_that_share_a_code_never_twin_them_in_dataverse(
    dynamics_services: Services,
    creatio_emulator: RunningCreatio,
    dataverse_emulator: dv.RunningDataverse,
) -> None:
    targets = await race(dynamics_services, ACCOUNTS_TO_DATAVERSE, creatio_emulator)
    accounts = dataverse_emulator.admin.rows("account")
    assert sorted(a["accountid"] for a in accounts) == sorted(targets)  # no twins
    assert sorted(a["accountnumber"] for a in accounts) == [f"RACE{n}" for n in range(10)]


async def test_an_account_duplicating_a_customer_bound_the_other_way_is_refused(
    intacct_services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    intacct_emulator.admin.seed(
        {"CUSTOMER": [{"CUSTOMERID": "FROMERP", "NAME": "Erp First", "STATUS": "active"}]}
    )
    await run_flow(intacct_services, "creatio-intacct.customers-to-creatio")
    (synced,) = creatio_emulator.rows("Account")
    # Someone keys the same customer into Creatio again, under another name.
    creatio_emulator.admin.seed({"Account": [{"Name": "Erp First Again", "Code": "FROMERP"}]})
    (again,) = [
        str(r["Id"])
        for r in creatio_emulator.rows("Account")
        if r["Code"] == "FROMERP" and str(r["Id"]) != str(synced["Id"])
    ]
    request = RunRequest(params=RunParams(record_ids=[again]))  # read alone: the worker decides
    single = await intacct_services.flows.run_now(ACCOUNTS_TO_INTACCT, request, datetime.now(UTC))
    run = await Pump(intacct_services).run_finished(single.id)
    (error,) = run.errors
    assert (error.record, error.category.value, error.field) == (again, "duplicate", "CUSTOMERID")
    assert str(synced["Id"]) in error.message and "FROMERP" in error.message
    (customer,) = intacct_emulator.admin.rows("CUSTOMER")
    assert customer["NAME"] == "Erp First"  # not overwritten by the second account


# ---- records outside every window -----------------------------------------------------------
def stamp(moment: str) -> str:
    return f"{moment}.0000000Z"


async def test_records_stamped_in_the_future_or_before_1900_are_synced_and_reported(
    intacct_services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    creatio_emulator.admin.seed(
        {
            "Account": [
                {"Name": "Present", "Code": "NOW"},
                {"Name": "From 9999", "Code": "FUTURE", "ModifiedOn": stamp("9999-12-31T00:00:00")},
                {
                    "Name": "From 1753",
                    "Code": "ANCIENT",
                    "ModifiedOn": stamp("1753-01-01T00:00:00"),
                },
            ]
        }
    )
    ids = {r["Code"]: str(r["Id"]) for r in creatio_emulator.rows("Account")}
    run = await run_flow(intacct_services, ACCOUNTS_TO_INTACCT)
    assert run.status is RunStatus.SUCCEEDED
    assert (run.counts.read, run.counts.created, run.counts.failed) == (3, 3, 0), run.errors
    errors = {e.record: e for e in run.errors}
    assert set(errors) == {ids["FUTURE"], ids["ANCIENT"]}
    assert all(
        e.category.value == "validation" and e.field == "ModifiedOn" for e in errors.values()
    )
    assert "9999-12-31" in errors[ids["FUTURE"]].message
    assert "in the future" in errors[ids["FUTURE"]].message
    assert "before 1900-01-01" in errors[ids["ANCIENT"]].message
    assert sorted(r["CUSTOMERID"] for r in intacct_emulator.admin.rows("CUSTOMER")) == [
        "ANCIENT",
        "FUTURE",
        "NOW",
    ]

    # The next run reads and reports them again (nothing written), and a real edit of the
    # future-stamped record is not mistaken for an older version.
    again = await run_flow(intacct_services, ACCOUNTS_TO_INTACCT)
    assert {e.record for e in again.errors} == {ids["FUTURE"], ids["ANCIENT"]}
    assert again.counts.created + again.counts.updated == 0
    creatio = await intacct_services.connectors.get("creatio")
    await creatio.update("Account", ids["FUTURE"], {"Name": "Back to now"})
    edited = await run_flow(intacct_services, ACCOUNTS_TO_INTACCT)
    assert edited.counts.updated == 1
    names = {r["CUSTOMERID"]: r["NAME"] for r in intacct_emulator.admin.rows("CUSTOMER")}
    assert names["FUTURE"] == "Back to now"


async def test_many_records_outside_every_window_are_reported_by_their_number(
    intacct_services: Services,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.engine import sync_engine

    monkeypatch.setattr(sync_engine, "OUTSIDE_READ_LIMIT", 2)
    creatio_emulator.admin.seed(
        {
            "Account": [
                {"Name": f"Far {n}", "ModifiedOn": stamp("9999-12-31T00:00:00")} for n in range(3)
            ]
        }
    )
    run = await run_flow(intacct_services, ACCOUNTS_TO_INTACCT)
    (error,) = run.errors
    assert (error.record, error.category.value, error.field) == (None, "validation", "ModifiedOn")
    assert error.message.startswith(
        "3 creatio Account records have a modification time in the future"
    )
    assert run.counts.read == 0 and not intacct_emulator.admin.rows("CUSTOMER")


async def test_an_intacct_customer_stamped_in_the_future_is_synced_and_reported(
    intacct_services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    intacct_emulator.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": "TODAY", "NAME": "Today Inc", "STATUS": "active"},
                {
                    "CUSTOMERID": "LATER",
                    "NAME": "Later Inc",
                    "STATUS": "active",
                    "WHENMODIFIED": "12/31/9999 00:00:00",
                },
            ]
        }
    )
    run = await run_flow(intacct_services, "creatio-intacct.customers-to-creatio")
    assert (run.counts.read, run.counts.created, run.counts.failed) == (2, 2, 0), run.errors
    (error,) = run.errors
    assert (error.record, error.category.value, error.field) == (
        "LATER",
        "validation",
        "WHENMODIFIED",
    )
    assert "in the future" in error.message
    assert sorted(r["Code"] for r in creatio_emulator.rows("Account")) == ["LATER", "TODAY"]


async def test_a_claim_whose_holder_never_got_bound_lapses_after_its_lease(
    intacct_services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    from shared.engine.upsert import CLAIM_LEASE

    creatio_emulator.admin.seed({"Account": [{"Name": "Heir Ltd", "Code": "HEIR"}]})
    (message,) = await racing_messages(intacct_services, ACCOUNTS_TO_INTACCT, creatio_emulator)
    # Another account claimed the key, then failed (or its worker died) before any write.
    bindings = intacct_services.records.bindings
    start = datetime.now(UTC)
    await bindings.claim(
        "creatio-intacct.account", "erp", 'CUSTOMER:CUSTOMERID="HEIR"', "gone-account", start
    )
    assert await intacct_services.records.handle(message) is Outcome.FAILED
    assert not intacct_emulator.admin.rows("CUSTOMER")

    # Past the lease, the next record needing the key takes the claim over and syncs.
    intacct_services.records.clock = lambda: start + CLAIM_LEASE + timedelta(seconds=1)
    later = message.model_copy(update={"run_id": f"{ACCOUNTS_TO_INTACCT}.0000000000002-later0"})
    assert await intacct_services.records.handle(later) is Outcome.CREATED
    assert [r["CUSTOMERID"] for r in intacct_emulator.admin.rows("CUSTOMER")] == ["HEIR"]
