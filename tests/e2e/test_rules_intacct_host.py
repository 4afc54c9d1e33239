"""Per-record rules of issue 16, Creatio ⇄ Sage Intacct, through the local host's HTTP API
and queues: a field changed in both systems since the last sync is logged on the run with the
field and both values, and the master's value ends up in both systems; a customer deactivated
in Intacct (which masters STATUS) is an inactive Account in Creatio, and reactivating it in
Creatio is logged and not written; a bound record deleted at its source is reported by the
full bulk run as deleted at source with its binding, and nothing is deleted on the other side.
Users' edits and the checks go through the vendors' own APIs (Creatio OData, Intacct XML);
the emulators' admin API only seeds and counts.

One host serves the module; each test works on records of its own (own codes)."""

from __future__ import annotations

import math
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import wait_for
from tests.e2e.intacct_host import (  # noqa: F401 (fixtures, registered by name)
    api_fixture,
    host_fixture,
    odata_fixture,
    xml_fixture,
)
from tests.e2e.intacct_host import run as host_run
from tests.e2e.vendors import CreatioOData, IntacctXml
from tests.support.creatio import RunningCreatio
from tests.support.intacct import RunningIntacct

pytestmark = pytest.mark.e2e


def run(api: httpx.Client, flow: str) -> dict[str, Any]:
    """One run of the flow through the host, to its end (each test checks how it ended)."""
    return host_run(api, flow, status=None)


def next_second() -> None:
    """Wait until the wall clock is in a later whole second than now: Intacct stamps
    WHENMODIFIED to the second, so an edit after this is stamped later than one before."""
    now = time.time()
    wait_for(lambda: time.time() >= math.floor(now) + 1, 5, "the next second")


def test_a_field_changed_in_both_systems_is_logged_and_the_masters_value_kept_in_both(
    api: httpx.Client, creatio: RunningCreatio, odata: CreatioOData, xml: IntacctXml
) -> None:
    creatio.admin.seed(
        {
            "Account": [
                {"Name": "Late", "Code": "CFLATE", "UsrActive": True},
                {"Name": "Early", "Code": "CFEARLY", "UsrActive": True},
            ]
        }
    )
    run(api, "accounts-to-intacct")
    run(api, "customers-to-creatio")  # the echoes: bound, nothing written
    late, early = (odata.one("Account", Code=c)["Id"] for c in ("CFLATE", "CFEARLY"))

    # NAME is mastered by both systems: the later change is the master's value.
    # CFLATE: finance renames the customer in Intacct, then sales renames the account.
    xml.update("CUSTOMER", {"CUSTOMERID": "CFLATE", "NAME": "Late (finance)"})
    odata.patch("Account", late, {"Name": "Late (sales)"})
    # CFEARLY: sales first, finance a second later.
    odata.patch("Account", early, {"Name": "Early (sales)"})
    next_second()
    xml.update("CUSTOMER", {"CUSTOMERID": "CFEARLY", "NAME": "Early (finance)"})

    to_erp = run(api, "accounts-to-intacct")
    # (Only this test's records: the module's other tests share the host's flows.)
    conflicts = {e["record"]: e for e in to_erp["errors"] if e["record"] in (late, early)}
    assert {e["category"] for e in conflicts.values()} == {"conflict"} and len(conflicts) == 2
    assert conflicts[late]["field"] == conflicts[early]["field"] == "NAME"
    assert conflicts[late]["message"] == (
        'conflict: NAME changed on both sides since the last sync (creatio: "Late (sales)", '
        'intacct: "Late (finance)"); both master it and creatio\'s change is the later, so '
        "creatio's value stands"
    )
    assert '(creatio: "Early (sales)", intacct: "Early (finance)")' in conflicts[early]["message"]
    assert (
        "intacct's change is the later, so intacct's value stands" in (conflicts[early]["message"])
    )
    assert xml.one("CUSTOMER", "CUSTOMERID = 'CFLATE'")["NAME"] == "Late (sales)"
    assert xml.one("CUSTOMER", "CUSTOMERID = 'CFEARLY'")["NAME"] == "Early (finance)"

    run(api, "customers-to-creatio")
    # The master's value in both systems.
    assert odata.get("Account", late)["Name"] == "Late (sales)"
    assert odata.get("Account", early)["Name"] == "Early (finance)"
    assert xml.one("CUSTOMER", "CUSTOMERID = 'CFLATE'")["NAME"] == "Late (sales)"
    assert xml.one("CUSTOMER", "CUSTOMERID = 'CFEARLY'")["NAME"] == "Early (finance)"


def test_a_customer_deactivated_in_intacct_is_an_inactive_account_in_creatio(
    api: httpx.Client, intacct: RunningIntacct, odata: CreatioOData, xml: IntacctXml
) -> None:
    intacct.admin.seed(
        {"CUSTOMER": [{"CUSTOMERID": "DEACT", "NAME": "Winding Down Ltd", "STATUS": "active"}]}
    )
    run(api, "customers-to-creatio")
    account = odata.one("Account", Code="DEACT")
    assert account["UsrActive"] is True

    xml.update("CUSTOMER", {"CUSTOMERID": "DEACT", "STATUS": "inactive"})
    done = run(api, "customers-to-creatio")
    assert done["status"] == "succeeded" and done["counts"]["updated"] >= 1
    assert odata.get("Account", account["Id"])["UsrActive"] is False
    # The way back is an echo: the customer stays inactive, nothing written to Intacct.
    writes = intacct.admin.stats()["writes"].get("update CUSTOMER", 0)
    run(api, "accounts-to-intacct")
    assert xml.one("CUSTOMER", "CUSTOMERID = 'DEACT'")["STATUS"] == "inactive"
    assert intacct.admin.stats()["writes"].get("update CUSTOMER", 0) == writes

    # Intacct masters STATUS: sales reactivating the account in Creatio is logged on the
    # run and not written; finance's inactive stands.
    odata.patch("Account", account["Id"], {"UsrActive": True})
    blocked = run(api, "accounts-to-intacct")
    (note,) = [e for e in blocked["errors"] if e["record"] == account["Id"]]
    assert (note["category"], note["field"]) == ("conflict", "STATUS")
    assert "intacct masters this field" in note["message"]
    assert xml.one("CUSTOMER", "CUSTOMERID = 'DEACT'")["STATUS"] == "inactive"


def test_a_bound_record_deleted_at_its_source_is_reported_and_nothing_is_deleted(
    api: httpx.Client,
    creatio: RunningCreatio,
    intacct: RunningIntacct,
    odata: CreatioOData,
    xml: IntacctXml,
) -> None:
    creatio.admin.seed(
        {"Account": [{"Name": "Gone From Crm", "Code": "DELCRM", "UsrActive": True}]}
    )
    intacct.admin.seed(
        {"CUSTOMER": [{"CUSTOMERID": "DELERP", "NAME": "Gone From Erp", "STATUS": "active"}]}
    )
    run(api, "accounts-to-intacct")
    run(api, "customers-to-creatio")
    crm_gone = odata.one("Account", Code="DELCRM")["Id"]
    crm_kept = odata.one("Account", Code="DELERP")["Id"]
    # The connector names a customer by its CUSTOMERID; Intacct deletes by RECORDNO.
    erp_kept, erp_gone = "DELCRM", "DELERP"

    # Sales deletes the account in Creatio; finance deletes the customer in Intacct.
    odata.delete("Account", crm_gone)
    xml.delete("CUSTOMER", xml.one("CUSTOMER", "CUSTOMERID = 'DELERP'")["RECORDNO"])

    def deletes() -> tuple[int, int]:
        return (
            creatio.admin.stats()["writes"].get("delete Account", 0),
            intacct.admin.stats()["writes"].get("delete CUSTOMER", 0),
        )

    before = deletes()
    to_erp = run(api, "bulk-accounts-to-intacct")
    to_crm = run(api, "bulk-customers-to-creatio")

    (reported,) = [e for e in to_erp["errors"] if e["category"] == "not_found"]
    assert reported["record"] == crm_gone and reported["message"] == (
        f"deleted at source: creatio Account {crm_gone}; bound to intacct CUSTOMER {erp_kept}"
    )
    (reported,) = [e for e in to_crm["errors"] if e["category"] == "not_found"]
    assert reported["record"] == erp_gone and reported["message"] == (
        f"deleted at source: intacct CUSTOMER {erp_gone}; bound to creatio Account {crm_kept}"
    )
    plan = api.get(f"/runs/{to_erp['id']}/plan", params={"limit": "500"}).json()
    assert {i["record"]: i["action"] for i in plan["items"]}[crm_gone] == "deleted_at_source"

    # Nothing deleted (or changed) on the other side.
    assert deletes() == before
    customer = xml.one("CUSTOMER", "CUSTOMERID = 'DELCRM'")
    assert (customer["NAME"], customer["STATUS"]) == ("Gone From Crm", "active")
    kept = odata.get("Account", crm_kept)
    assert (kept["Name"], kept["UsrActive"]) == ("Gone From Erp", True)
