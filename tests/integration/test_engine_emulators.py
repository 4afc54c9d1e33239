"""The engine against the real connectors and the Creatio and Intacct emulators over HTTP, on
Azurite: both directions of Account ⇄ CUSTOMER, a quiet cycle that writes nothing (counted at
the emulators), ties across page boundaries, and changes made during a run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.pump import Pump
from shared.flows.models import RunStatus
from shared.flows.service import RunRequest
from shared.runtime import Services
from tests.support.creatio import RunningCreatio, login
from tests.support.engine import creatio_settings, engine_services, intacct_settings, run_flow
from tests.support.intacct import RunningIntacct

ACCOUNTS_TO_INTACCT = "creatio-intacct.accounts-to-intacct"
CUSTOMERS_TO_CREATIO = "creatio-intacct.customers-to-creatio"


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


def writes(admin: Any) -> int:
    return sum(admin.stats()["writes"].values())


def creatio_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


async def test_account_customer_round_trip_and_a_quiet_cycle_writes_nothing(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    creatio_emulator.admin.seed(
        {
            "Account": [
                {"Name": f'Creatio & Co {n:02d} <"quoted">', "Code": f"CR{n:02d}"}
                for n in range(30)
            ]
        }
    )
    intacct_emulator.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": f"IA{n:02d}", "NAME": f"Intacct O'Brien {n:02d}", "STATUS": "active"}
                for n in range(5)
            ]
        }
    )

    to_erp = await run_flow(services, ACCOUNTS_TO_INTACCT)
    assert to_erp.status is RunStatus.SUCCEEDED, to_erp.errors
    assert (to_erp.counts.read, to_erp.counts.created) == (30, 30)
    to_crm = await run_flow(services, CUSTOMERS_TO_CREATIO)
    assert to_crm.status is RunStatus.SUCCEEDED, to_crm.errors
    assert to_crm.counts.created == 5  # the 30 echoes were recognised, not created again

    customers = {r["CUSTOMERID"]: r for r in intacct_emulator.admin.rows("CUSTOMER")}
    assert len(customers) == 35
    assert customers["CR07"]["NAME"] == 'Creatio & Co 07 <"quoted">'
    accounts = {r["Code"]: r for r in creatio_emulator.rows("Account")}
    assert len(accounts) == 35
    assert accounts["IA03"]["Name"] == "Intacct O'Brien 03" and accounts["IA03"]["UsrActive"]

    # The next full cycle, with no user change, makes no write call at either emulator (the
    # reverse flow's own stamps in Creatio are recognised as its echo).
    before = writes(creatio_emulator.admin), writes(intacct_emulator.admin)
    quiet = [
        await run_flow(services, ACCOUNTS_TO_INTACCT),
        await run_flow(services, CUSTOMERS_TO_CREATIO),
    ]
    assert (writes(creatio_emulator.admin), writes(intacct_emulator.admin)) == before
    assert all(r.counts.created + r.counts.updated + r.counts.failed == 0 for r in quiet)


async def test_identical_modified_on_across_pages_arrive_exactly_once(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    stamp = creatio_stamp(datetime.now(UTC) - timedelta(seconds=3))
    creatio_emulator.admin.seed(
        {"Account": [{"Name": f"Tie {n:04d}", "ModifiedOn": stamp} for n in range(1000)]}
    )
    run = await run_flow(services, ACCOUNTS_TO_INTACCT)
    assert (run.counts.read, run.counts.created, run.counts.failed) == (1000, 1000, 0)
    names = sorted(r["NAME"] for r in intacct_emulator.admin.rows("CUSTOMER"))
    assert names == [f"Tie {n:04d}" for n in range(1000)]


async def test_a_record_changed_during_a_run_arrives_in_the_next_run(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    creatio_emulator.admin.seed({"Account": [{"Name": f"Busy {n:02d}"} for n in range(40)]})
    run = await services.flows.run_now(ACCOUNTS_TO_INTACCT, RunRequest(), datetime.now(UTC))
    pump = Pump(services)

    async def some_settled() -> bool:
        tally = await services.engine.outcomes.tally(run.id)
        return tally.counts.created > 0

    await pump.until(some_settled)
    # A user edits an account while the run is still working through its window.
    account = creatio_emulator.rows("Account")[0]
    sync = await services.connectors.get("creatio")
    await sync.update("Account", str(account["Id"]), {"Name": "Busy, renamed mid-run"})
    first = await pump.run_finished(run.id)
    assert first.counts.created == 40

    second = await run_flow(services, ACCOUNTS_TO_INTACCT)
    assert second.counts.updated == 1
    names = {r["NAME"] for r in intacct_emulator.admin.rows("CUSTOMER")}
    assert "Busy, renamed mid-run" in names and len(names) == 40


async def test_duplicate_deliveries_and_a_kill_before_bind_leave_one_customer_each(
    services: Services,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    creatio_emulator.admin.seed({"Account": [{"Name": f"Once {n:02d}"} for n in range(15)]})
    bindings = services.records.bindings
    real_write = bindings.write_many
    killed: set[str] = set()

    async def die_once(
        pair: str, writes: list[tuple[str, str, dict[str, Any]]], **options: Any
    ) -> None:
        # The worker dies after its chunk's creates, before their bindings are written.
        if any(crm_id not in killed for crm_id, _, _ in writes):
            killed.update(crm_id for crm_id, _, _ in writes)
            raise RuntimeError("worker killed")
        await real_write(pair, writes, **options)

    monkeypatch.setattr(bindings, "write_many", die_once)
    run = await services.flows.run_now(ACCOUNTS_TO_INTACCT, RunRequest(), datetime.now(UTC))
    pump = Pump(services, duplicate_records=True)
    done = await pump.run_finished(run.id, limit_s=180)
    assert len(killed) == 15 and pump.deliveries >= 30
    assert (done.counts.read, done.counts.failed) == (15, 0)
    names = sorted(r["NAME"] for r in intacct_emulator.admin.rows("CUSTOMER"))
    assert names == [f"Once {n:02d}" for n in range(15)]


async def test_an_erp_mastered_status_changed_in_creatio_is_not_written_and_is_logged(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    creatio_emulator.admin.seed(
        {"Account": [{"Name": "Mastered", "Code": "MST", "UsrActive": True}]}
    )
    await run_flow(services, ACCOUNTS_TO_INTACCT)
    await run_flow(services, CUSTOMERS_TO_CREATIO)
    (account,) = creatio_emulator.rows("Account")
    creatio = await services.connectors.get("creatio")
    await creatio.update("Account", str(account["Id"]), {"UsrActive": False, "Phone": "1"})
    before = intacct_emulator.admin.stats()["writes"]

    run = await run_flow(services, ACCOUNTS_TO_INTACCT)
    assert intacct_emulator.admin.stats()["writes"] == before  # nothing to write: no call
    (customer,) = intacct_emulator.admin.rows("CUSTOMER")
    assert customer["STATUS"] == "active"
    (conflict,) = run.errors
    assert conflict.category.value == "conflict" and conflict.field == "STATUS"
    assert conflict.record == str(account["Id"]) and "intacct masters this field" in (
        conflict.message
    )


async def test_bad_records_fail_alone_against_the_emulators_naming_record_and_field(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    creatio_emulator.admin.seed(
        {
            "Account": [
                *({"Name": f"Good {n}", "Code": f"G{n}"} for n in range(4)),
                {"Name": "N" * 101, "Code": "LONG"},
                {"Name": "   ", "Code": "BLANK"},
                {"Name": "Hash Inc", "Code": "A#1"},
                {"Name": "Bell\x07 Ltd", "Code": "BELL"},
            ]
        }
    )
    by_code = {r["Code"]: str(r["Id"]) for r in creatio_emulator.rows("Account")}
    accounts = await run_flow(services, ACCOUNTS_TO_INTACCT)
    assert accounts.status is RunStatus.PARTIAL
    assert (accounts.counts.created, accounts.counts.failed) == (4, 4)
    errors = {e.record: e for e in accounts.errors}
    assert set(errors) == {by_code[c] for c in ("LONG", "BLANK", "A#1", "BELL")}
    assert all(e.category.value == "validation" for e in errors.values())
    assert errors[by_code["LONG"]].field == "NAME" and "allows 100" in (
        errors[by_code["LONG"]].message
    )
    assert errors[by_code["BLANK"]].field == "NAME"
    assert errors[by_code["A#1"]].field == "CUSTOMERID"
    assert errors[by_code["A#1"]].message and "'#'" in errors[by_code["A#1"]].message
    assert errors[by_code["BELL"]].field == "NAME"
    # Refused before any call: Intacct saw only the four good customers.
    assert sorted(r["CUSTOMERID"] for r in intacct_emulator.admin.rows("CUSTOMER")) == [
        "G0",
        "G1",
        "G2",
        "G3",
    ]

    # What only the ERP can know: a bound customer deleted in Intacct. Its order fails alone
    # with Intacct's own message naming the field; the other orders become invoices.
    intacct = await services.connectors.get("intacct")
    (g3,) = [r for r in intacct_emulator.admin.rows("CUSTOMER") if r["CUSTOMERID"] == "G3"]
    await intacct.client.delete("CUSTOMER", [g3["RECORDNO"]])  # type: ignore[attr-defined]
    creatio_emulator.admin.seed(
        {
            "Order": [
                {
                    "Number": f"ORD-{n}",
                    "AccountId": by_code[f"G{n}"],
                    "Date": "2026-11-20T00:00:00Z",
                }
                for n in range(4)
            ]
        }
    )
    creatio_emulator.admin.seed(
        {
            "OrderProduct": [
                {
                    "OrderId": str(r["Id"]),
                    "Name": "Consulting",
                    "Amount": 100.0,
                    "TotalAmount": 100.0,
                }
                for r in creatio_emulator.rows("Order")
            ]
        }
    )
    # Intacct refuses the reference as it would a parent not synced yet: the order waits (a
    # few short waits here), then fails alone as a dependency.
    services.records.wait_base, services.records.max_waits = 0.2, 2
    orders = await run_flow(services, "creatio-intacct.orders-to-invoices")
    assert (orders.counts.created, orders.counts.failed) == (3, 1)
    (error,) = orders.errors
    order_g3 = next(str(r["Id"]) for r in creatio_emulator.rows("Order") if r["Number"] == "ORD-3")
    assert error.record == order_g3 and error.field == "CUSTOMERID"
    assert error.category.value == "dependency" and "G3" in error.message
    assert sorted(r["RECORDID"] for r in intacct_emulator.admin.rows("ARINVOICE")) == [
        "ORD-0",
        "ORD-1",
        "ORD-2",
    ]


async def test_payments_and_credit_memos_reach_creatio_once_with_the_erps_amounts(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    intacct_emulator.admin.seed(
        {
            "CUSTOMER": [{"CUSTOMERID": "PAYER", "NAME": "Payer & Co", "STATUS": "active"}],
            "ARPAYMENT": [
                {
                    "CUSTOMERID": "PAYER",
                    "DOCNUMBER": f"CHK-{n}",
                    "PAYMENTAMOUNT": f"{n}00.505",
                    "PAYMENTDATE": f"11/2{n}/2026",
                }
                for n in range(1, 4)
            ],
            "ARADJUSTMENT": [
                {
                    "CUSTOMERID": "PAYER",
                    "RECORDID": "CM-1",
                    "DESCRIPTION": "Returned goods",
                    "WHENCREATED": "11/25/2026",
                    "ARADJUSTMENTITEMS": {"aradjustmentitem": [{"TRX_AMOUNT": "-40.00"}]},
                }
            ],
        }
    )
    # A payment before its customer is synced waits for it; here the customer comes first.
    await run_flow(services, CUSTOMERS_TO_CREATIO)
    (account,) = creatio_emulator.rows("Account")

    payments = await run_flow(services, "creatio-intacct.payments-to-creatio")
    memos = await run_flow(services, "creatio-intacct.credit-memos-to-creatio")
    assert (payments.status, payments.counts.created) == (RunStatus.SUCCEEDED, 3), payments.errors
    assert (memos.status, memos.counts.created) == (RunStatus.SUCCEEDED, 1), memos.errors

    recordnos = {
        r["DOCNUMBER"]: str(r["RECORDNO"]) for r in intacct_emulator.admin.rows("ARPAYMENT")
    }
    creatio = await services.connectors.get("creatio")
    rows = {
        r.values["UsrRefNumber"]: r.values
        for r in await creatio.find("UsrPayment", {"UsrAccountId": str(account["Id"])}, limit=10)
    }
    assert sorted(rows) == ["CHK-1", "CHK-2", "CHK-3"]
    assert float(rows["CHK-2"]["UsrAmount"]) == 200.51  # rounded half-up to cents
    assert rows["CHK-2"]["UsrNumber"] == recordnos["CHK-2"]
    assert str(rows["CHK-2"]["UsrAccountId"]) == str(account["Id"])
    assert str(rows["CHK-2"]["UsrDate"]).startswith("2026-11-22")
    (memo,) = [
        r.values
        for r in await creatio.find("UsrCreditMemo", {"UsrAccountId": str(account["Id"])}, limit=10)
    ]
    assert (memo["UsrRefNumber"], memo["UsrName"]) == ("CM-1", "Returned goods")
    assert float(memo["UsrAmount"]) == -40.0

    # Nothing changed in Intacct: the next runs write nothing to Creatio.
    before = writes(creatio_emulator.admin)
    again = [
        await run_flow(services, "creatio-intacct.payments-to-creatio"),
        await run_flow(services, "creatio-intacct.credit-memos-to-creatio"),
    ]
    assert writes(creatio_emulator.admin) == before
    assert all(r.counts.created + r.counts.updated + r.counts.failed == 0 for r in again)


async def test_ar_aging_fills_the_bound_accounts_balances_from_intacct(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    def due(days_ago: int) -> str:
        return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%m/%d/%Y")

    def invoice(customer: str, number: str, amount: str, days_overdue: int) -> dict[str, Any]:
        return {
            "CUSTOMERID": customer,
            "RECORDID": number,
            "WHENDUE": due(days_overdue),
            "ARINVOICEITEMS": {"arinvoiceitem": [{"TRX_AMOUNT": amount}]},
        }

    intacct_emulator.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": c, "NAME": f"Owes {c}", "STATUS": "active"} for c in ("LATE", "PAID")
            ],
            "ARINVOICE": [
                invoice("LATE", "A-1", "100.00", 5),
                invoice("LATE", "A-2", "250.00", 45),
                invoice("LATE", "A-3", "75.50", 120),
            ],
        }
    )
    await run_flow(services, CUSTOMERS_TO_CREATIO)
    accounts = {r["Code"]: str(r["Id"]) for r in creatio_emulator.rows("Account")}
    creates = creatio_emulator.admin.stats()["writes"].get("create Account", 0)

    aging = await run_flow(services, "creatio-intacct.aging-to-creatio")
    assert aging.status is RunStatus.SUCCEEDED, aging.errors
    assert creatio_emulator.admin.stats()["writes"].get("create Account", 0) == creates
    creatio = await services.connectors.get("creatio")
    late = await creatio.get("Account", accounts["LATE"])
    assert late is not None
    balances = {
        k: float(late.values[k])
        for k in ("UsrCurrBalPymts", "UsrArOver30", "UsrArOver60", "UsrArOver90")
    }
    assert balances == {
        "UsrCurrBalPymts": 425.5,
        "UsrArOver30": 250.0,
        "UsrArOver60": 0.0,
        "UsrArOver90": 75.5,
    }
    assert late.values["Name"] == "Owes LATE"


async def test_a_name_changed_in_both_systems_keeps_the_later_change_and_logs_both_values(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    creatio_emulator.admin.seed(
        {"Account": [{"Name": "Both Ways", "Code": "BOTH", "UsrActive": True}]}
    )
    await run_flow(services, ACCOUNTS_TO_INTACCT)
    (account,) = creatio_emulator.rows("Account")
    intacct = await services.connectors.get("intacct")
    creatio = await services.connectors.get("creatio")
    (customer,) = await intacct.find("CUSTOMER", {"CUSTOMERID": "BOTH"}, limit=2)
    # Finance renames the customer in Intacct, then sales renames the account in Creatio.
    await intacct.update("CUSTOMER", customer.id, {"NAME": "Both Ways (finance)"})
    await creatio.update("Account", str(account["Id"]), {"Name": "Both Ways (sales)"})

    run = await run_flow(services, ACCOUNTS_TO_INTACCT)

    (row,) = intacct_emulator.admin.rows("CUSTOMER")
    assert row["NAME"] == "Both Ways (sales)"  # the later change wins (NAME: master both)
    (conflict,) = run.errors
    assert (conflict.category.value, conflict.field, conflict.record) == (
        "conflict",
        "NAME",
        str(account["Id"]),
    )
    assert '(creatio: "Both Ways (sales)", intacct: "Both Ways (finance)")' in conflict.message
    assert "creatio's change is the later, so creatio's value stands" in conflict.message


async def test_records_deleted_in_either_system_are_reported_by_the_bulk_loads(
    services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    creatio_emulator.admin.seed(
        {"Account": [{"Name": f"Crm {n}", "Code": f"CRM{n}", "UsrActive": True} for n in range(2)]}
    )
    intacct_emulator.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": f"ERP{n}", "NAME": f"Erp {n}", "STATUS": "active"} for n in range(2)
            ]
        }
    )
    await run_flow(services, ACCOUNTS_TO_INTACCT)
    await run_flow(services, CUSTOMERS_TO_CREATIO)
    accounts = {r["Code"]: str(r["Id"]) for r in creatio_emulator.rows("Account")}
    intacct = await services.connectors.get("intacct")
    customers = {
        code: (await intacct.find("CUSTOMER", {"CUSTOMERID": code}, limit=2))[0]
        for code in accounts
    }
    assert set(accounts) == {"CRM0", "CRM1", "ERP0", "ERP1"}

    # Sales deletes an account in Creatio; finance deletes a customer in Intacct.
    client, _ = login(creatio_emulator.url)
    try:
        assert client.delete(f"/0/odata/Account({accounts['CRM0']})").status_code == 204
    finally:
        client.close()
    gone = next(r for r in intacct_emulator.admin.rows("CUSTOMER") if r["CUSTOMERID"] == "ERP1")
    await intacct.client.delete("CUSTOMER", [gone["RECORDNO"]])  # type: ignore[attr-defined]
    before = writes(creatio_emulator.admin), writes(intacct_emulator.admin)

    to_erp = await run_flow(services, "creatio-intacct.bulk-accounts-to-intacct")
    to_crm = await run_flow(services, "creatio-intacct.bulk-customers-to-creatio")

    assert (writes(creatio_emulator.admin), writes(intacct_emulator.admin)) == before
    (crm_gone,) = [e for e in to_erp.errors if e.category.value == "not_found"]
    assert crm_gone.record == accounts["CRM0"] and crm_gone.message == (
        f"deleted at source: creatio Account {accounts['CRM0']}; bound to intacct CUSTOMER "
        f"{customers['CRM0'].id}"
    )
    (erp_gone,) = [e for e in to_crm.errors if e.category.value == "not_found"]
    assert erp_gone.record == customers["ERP1"].id and erp_gone.message == (
        f"deleted at source: intacct CUSTOMER {customers['ERP1'].id}; bound to creatio Account "
        f"{accounts['ERP1']}"
    )
    # Nothing was deleted on the other side.
    assert len(intacct_emulator.admin.rows("CUSTOMER")) == 3
    assert len(creatio_emulator.rows("Account")) == 3
