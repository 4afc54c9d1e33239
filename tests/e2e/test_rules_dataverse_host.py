"""Per-record rules, Creatio ⇄ Dynamics 365, through the local host's HTTP API and queues
against the Creatio, Dataverse and identity emulators, asserting through the vendors' own
APIs: a dry run writes nothing and its plan matches, record by record, what the real run then
does; a field changed on both sides is a conflict logged with the field and both values, the
master's value kept; an account deactivated in Dynamics is inactive in Creatio; an account
deleted on either side while bound is reported as deleted at source and nothing is deleted on
the other. One host and one pair of emulators for the module: each test has its own records."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningHost
from tests.e2e.dataverse_host import (  # noqa: F401 (fixtures, registered by name)
    Crm,
    Dynamics,
    crm_fixture,
    dynamics_fixture,
    host_fixture,
    run,
    writes,
)
from tests.e2e.runs import decided, plan
from tests.support.creatio import RunningCreatio
from tests.support.dataverse import RunningDataverse

pytestmark = pytest.mark.e2e


def test_a_dry_runs_plan_matches_the_real_run_and_writes_nothing(
    host: RunningHost,
    creatio: RunningCreatio,
    dataverse: RunningDataverse,
    crm: Crm,
    dynamics: Dynamics,
) -> None:
    creatio.admin.seed(
        {
            "Account": [
                {"Name": "Renamed Ltd", "Code": "REN"},
                {"Name": "Same Ltd", "Code": "SAME"},
                {"Name": "Finance Numbers", "Code": "FIN"},
            ]
        }
    )
    with host.client() as api:
        first = run(api, "accounts-to-dataverse")
        assert first["counts"]["created"] == 3
        code = {c: crm.one("Account", f"Code eq '{c}'")["Id"] for c in ("REN", "SAME", "FIN")}
        crm.patch("Account", code["REN"], {"Name": "Renamed Ltd (new)"})
        crm.patch("Account", code["SAME"], {"Name": "Same Ltd"})  # touched, not changed
        crm.patch("Account", code["FIN"], {"Code": "FIN-CRM"})  # Dynamics masters the number
        dynamics.create("accounts", {"name": "Link Ltd", "accountnumber": "LNK"})
        creatio.admin.seed(
            {
                "Account": [
                    {"Name": "Link Ltd (CRM)", "Code": "LNK"},
                    *({"Name": f"New {n}", "Code": f"NEW{n}"} for n in range(3)),
                ]
            }
        )
        for c in ("LNK", "NEW0", "NEW1", "NEW2"):
            code[c] = crm.one("Account", f"Code eq '{c}'")["Id"]

        before = writes(creatio.admin), writes(dataverse.admin)
        dry = run(api, "accounts-to-dataverse", dry_run=True)
        assert (writes(creatio.admin), writes(dataverse.admin)) == before
        dry_plan, pages = plan(api, dry["id"], limit=3)
        assert pages == 3  # seven records, three a page

        # The plan test_dry_run_plan_host.py expects against Intacct, written out again on
        # purpose: each scenario reads on its own, and the two ERPs may come to differ.
        actions = {c: dry_plan[rid]["action"] for c, rid in code.items()}
        assert actions == {
            "REN": "update",
            "SAME": "unchanged",
            "FIN": "blocked_by_mastership",
            "LNK": "link",
            "NEW0": "create",
            "NEW1": "create",
            "NEW2": "create",
        }
        assert dry_plan[code["REN"]]["changes"] == {"name": ["Renamed Ltd", "Renamed Ltd (new)"]}
        assert dry_plan[code["LNK"]]["changes"] == {"name": ["Link Ltd", "Link Ltd (CRM)"]}
        assert dry_plan[code["FIN"]]["field"] == "accountnumber"
        assert dry_plan[code["NEW1"]]["changes"]["name"] == [None, "New 1"]
        assert dry_plan[code["NEW1"]]["changes"]["accountnumber"] == [None, "NEW1"]
        assert dynamics.where("accounts", "accountnumber eq 'NEW1'") == []

        real = run(api, "accounts-to-dataverse")
        real_plan, _ = plan(api, real["id"], limit=500)
    assert writes(dataverse.admin) > before[1]

    assert decided(real_plan) == decided(dry_plan)
    assert dynamics.one("accounts", "accountnumber eq 'REN'")["name"] == "Renamed Ltd (new)"
    assert dynamics.one("accounts", "accountnumber eq 'LNK'")["name"] == "Link Ltd (CRM)"
    assert dynamics.one("accounts", "name eq 'Finance Numbers'")["accountnumber"] == "FIN"
    for n in range(3):
        assert dynamics.one("accounts", f"accountnumber eq 'NEW{n}'")["name"] == f"New {n}"


def test_a_field_changed_on_both_sides_is_a_conflict_and_the_masters_value_stays(
    host: RunningHost, creatio: RunningCreatio, crm: Crm, dynamics: Dynamics
) -> None:
    creatio.admin.seed({"Account": [{"Name": "Clash Ltd", "Code": "CLASH"}]})
    with host.client() as api:
        run(api, "accounts-to-dataverse")
        account = crm.one("Account", "Name eq 'Clash Ltd'")["Id"]
        twin = dynamics.one("accounts", "accountnumber eq 'CLASH'")["accountid"]
        # Both sides change the account number, which Dynamics masters.
        crm.patch("Account", account, {"Code": "CLASH-CRM"})
        dynamics.patch("accounts", twin, {"accountnumber": "CLASH-ERP"})

        to_dynamics = run(api, "accounts-to-dataverse", status=None)
        (conflict,) = [e for e in to_dynamics["errors"] if e["record"] == account]
        assert conflict["category"] == "conflict" and conflict["field"] == "accountnumber"
        assert conflict["message"].startswith(
            "conflict: accountnumber changed on both sides since the last sync (creatio: "
            '"CLASH-CRM", dataverse: "CLASH-ERP"); dataverse masters it, so dataverse\'s '
            "value stands;"
        )
        assert dynamics.get("accounts", twin)["accountnumber"] == "CLASH-ERP"

        run(api, "accounts-to-creatio", status=None)  # the master's value comes back
    assert crm.get("Account", account)["Code"] == "CLASH-ERP"


def test_an_account_deactivated_in_dynamics_is_inactive_in_creatio(
    host: RunningHost, crm: Crm, dynamics: Dynamics
) -> None:
    account = dynamics.create("accounts", {"name": "Fading Ltd", "accountnumber": "FADE"})
    with host.client() as api:
        run(api, "accounts-to-creatio")
        assert crm.one("Account", "Code eq 'FADE'")["UsrActive"] is True
        dynamics.patch("accounts", account, {"statecode": 1, "statuscode": 2})
        again = run(api, "accounts-to-creatio")
    assert again["counts"]["updated"] == 1
    faded = crm.one("Account", "Code eq 'FADE'")
    assert faded["UsrActive"] is False and faded["Name"] == "Fading Ltd"


def test_an_account_deleted_in_dynamics_while_bound_is_reported_and_kept_in_creatio(
    host: RunningHost, crm: Crm, dynamics: Dynamics
) -> None:
    account = dynamics.create("accounts", {"name": "Gone Ltd", "accountnumber": "GONE"})
    with host.client() as api:
        run(api, "accounts-to-creatio")
        twin = crm.one("Account", "Code eq 'GONE'")["Id"]
        dynamics.delete("accounts", account)
        bulk = run(api, "bulk-accounts-to-creatio")
        items, _ = plan(api, bulk["id"], limit=500)
    (deleted,) = [e for e in bulk["errors"] if e["record"] == account]
    assert deleted["category"] == "not_found"
    assert deleted["message"] == (
        f"deleted at source: dataverse account {account}; bound to creatio Account {twin}"
    )
    assert items[account]["action"] == "deleted_at_source"
    kept = crm.get("Account", twin)  # `on_delete: report` (the default) deletes nothing
    assert (kept["Name"], kept["Code"], kept["UsrActive"]) == ("Gone Ltd", "GONE", True)


def test_an_account_deleted_in_creatio_while_bound_is_reported_and_kept_in_dynamics(
    host: RunningHost, creatio: RunningCreatio, crm: Crm, dynamics: Dynamics
) -> None:
    creatio.admin.seed({"Account": [{"Name": "Left Ltd", "Code": "LEFT"}]})
    with host.client() as api:
        run(api, "accounts-to-dataverse")
        account = crm.one("Account", "Code eq 'LEFT'")["Id"]
        twin = dynamics.one("accounts", "accountnumber eq 'LEFT'")["accountid"]
        crm.delete("Account", account)
        bulk = run(api, "bulk-accounts-to-dataverse")
    (deleted,) = [e for e in bulk["errors"] if e["record"] == account]
    assert deleted["message"] == (
        f"deleted at source: creatio Account {account}; bound to dataverse account {twin}"
    )
    kept = dynamics.get("accounts", twin)
    assert (kept["name"], kept["statecode"]) == ("Left Ltd", 0)
