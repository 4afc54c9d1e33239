"""Syncing through the local Functions host (queue triggers on Azurite, timers, HTTP) with the
Creatio and Intacct emulators over HTTP: a dependency wait resolved by the parent's flow, and
a record whose worker crashes on every delivery failing alone through the poison queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.azurite import Azurite
from tests.e2e.conftest import RunningHost, start_host, stop_host, wait_for
from tests.e2e.intacct_host import systems_env
from tests.e2e.runs import finished
from tests.support.creatio import RunningCreatio
from tests.support.intacct import RunningIntacct

pytestmark = pytest.mark.e2e

ACCOUNTS = "creatio-intacct.accounts-to-intacct"
ORDERS = "creatio-intacct.orders-to-invoices"


@pytest.fixture
def host(
    own_azurite: Azurite, tmp_path: Path, creatio: RunningCreatio, intacct: RunningIntacct
) -> Iterator[RunningHost]:
    creatio.admin.reset()
    intacct.admin.reset()
    running = start_host(
        own_azurite,
        tmp_path,
        preload=["tests.support.crashing_records"],
        **systems_env(creatio, intacct),
    )
    yield running
    stop_host(running)
    # The host closes the app's storage and connector sessions when it stops.
    assert "Unclosed client session" not in running.log()


def test_an_order_waits_for_its_account_then_becomes_an_invoice(
    host: RunningHost, creatio: RunningCreatio, intacct: RunningIntacct
) -> None:
    seeded = creatio.admin.seed({"Account": [{"Name": "Waiting & Sons", "Code": "WAIT"}]})
    assert seeded == {"Account": 1}
    (account,) = creatio.rows("Account")
    creatio.admin.seed(
        {
            "Order": [
                {
                    "Number": "ORD-77",
                    "AccountId": str(account["Id"]),
                    "Date": "2026-11-20T00:00:00Z",
                }
            ]
        }
    )
    (order,) = creatio.rows("Order")
    # Intacct takes no invoice without a line.
    creatio.admin.seed(
        {
            "OrderProduct": [
                {
                    "OrderId": str(order["Id"]),
                    "Name": "Setup",
                    "Amount": 250.0,
                    "TotalAmount": 250.0,
                }
            ]
        }
    )
    with host.client() as api:
        order_run = api.post(f"/flows/{ORDERS}/run").json()["run_id"]

        def waiting() -> bool:
            run = api.get(f"/runs/{order_run}").json()
            return run["counts"]["pending"] == 1

        wait_for(waiting, 60, "the order to wait for its account")
        assert not intacct.admin.rows("ARINVOICE")

        accounts_run = finished(api, api.post(f"/flows/{ACCOUNTS}/run").json()["run_id"])
        assert accounts_run["counts"]["created"] == 1
        run = finished(api, order_run)
        assert run["status"] == "succeeded" and run["counts"]["created"] == 1
    (invoice,) = intacct.admin.rows("ARINVOICE")
    assert invoice["CUSTOMERID"] == "WAIT" and invoice["RECORDID"] == "ORD-77"


def test_a_record_that_crashes_every_delivery_fails_alone_via_the_poison_queue(
    host: RunningHost, creatio: RunningCreatio, intacct: RunningIntacct
) -> None:
    creatio.admin.seed({"Account": [{"Name": n} for n in ("Fine 1", "Crash me", "Fine 2")]})
    crash_id = next(str(r["Id"]) for r in creatio.rows("Account") if r["Name"] == "Crash me")
    with host.client() as api:
        run = finished(api, api.post(f"/flows/{ACCOUNTS}/run").json()["run_id"], timeout=180)
    assert run["status"] == "partial"
    assert (run["counts"]["created"], run["counts"]["failed"]) == (2, 1)
    (error,) = run["errors"]
    assert error["record"] == crash_id and error["category"] == "internal"
    assert "gave up after 5 deliveries" in error["message"]
    assert sorted(r["NAME"] for r in intacct.admin.rows("CUSTOMER")) == ["Fine 1", "Fine 2"]
    assert "record-upserts-poison" in host.log()
