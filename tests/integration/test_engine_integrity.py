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

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.pump import Pump
from shared.connectors.dataverse import DataverseClient
from shared.connectors.dataverse.sync import DataverseSync
from shared.engine.connections import build_connector
from shared.flows.models import RunStatus
from shared.runtime import Services
from shared.settings import Settings
from tests.support import dataverse as dv
from tests.support.creatio import RunningCreatio, running_creatio
from tests.support.engine import creatio_settings, engine_services, intacct_settings, run_flow
from tests.support.intacct import RunningIntacct, running_intacct

LONE = "\ud800"  # what json.loads makes of the escape "\ud800"


def seed(admin: Any, payload: dict[str, Any]) -> None:
    """Seed through the admin API as JSON text with escapes (httpx's own encoder refuses a
    lone surrogate; a UTF-16 service writes it as the escape `\\ud800`)."""
    response = admin.http.post("/seed", content=json.dumps(payload),
                               headers={"Content-Type": "application/json"})  # fmt: skip
    response.raise_for_status()


@pytest.fixture(scope="module")
def creatio_emulator() -> Iterator[RunningCreatio]:
    with running_creatio() as running:
        yield running


@pytest.fixture(scope="module")
def intacct_emulator() -> Iterator[RunningIntacct]:
    with running_intacct() as running:
        yield running


@pytest.fixture(scope="module")
def dataverse_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dv.RunningDataverse]:
    with dv.running_dataverse(Path(tmp_path_factory.mktemp("tls"))) as running:
        yield running


@pytest.fixture
async def intacct_services(
    storage_connection_string: str,
    table_prefix: str,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
) -> AsyncIterator[Services]:
    creatio_emulator.admin.reset()
    intacct_emulator.admin.reset()
    settings = {"SHUTTLE_PAGE_SIZE": "100", **creatio_settings(creatio_emulator),
                **intacct_settings(intacct_emulator)}  # fmt: skip
    async with engine_services(storage_connection_string, table_prefix, "creatio-intacct",
                               settings) as built:  # fmt: skip
        yield built


@pytest.fixture
async def dynamics_services(
    storage_connection_string: str,
    table_prefix: str,
    creatio_emulator: RunningCreatio,
    dataverse_emulator: dv.RunningDataverse,
) -> AsyncIterator[Services]:
    creatio_emulator.admin.reset()
    dataverse_emulator.admin.reset()

    def factory(system: str, s: Settings) -> Any:
        if system == "dataverse":
            return DataverseSync(DataverseClient(dv.config(dataverse_emulator)))
        return build_connector(system, s)

    async with engine_services(storage_connection_string, table_prefix, "creatio-dynamics",
                               creatio_settings(creatio_emulator), factory) as built:  # fmt: skip
        yield built


async def test_a_creatio_name_with_half_a_surrogate_pair_fails_alone_and_the_page_syncs(
    intacct_services: Services, creatio_emulator: RunningCreatio, intacct_emulator: RunningIntacct
) -> None:
    flow_id = "creatio-intacct.accounts-to-intacct"
    seed(creatio_emulator.admin, {"Account": [
        *({"Name": f"Whole {n}", "Code": f"W{n}"} for n in range(6)),
        {"Name": f"Cut emoji {LONE} Ltd", "Code": "CUT"},
    ]})  # fmt: skip
    cut = next(str(r["Id"]) for r in creatio_emulator.rows("Account") if r["Code"] == "CUT")
    run = await run_flow(intacct_services, flow_id)
    assert run.status is RunStatus.PARTIAL
    c = run.counts
    assert (c.read, c.created, c.failed) == (7, 6, 1)
    (error,) = run.errors
    assert (error.record, error.category.value, error.field) == (cut, "validation", "Name")
    assert "surrogate" in error.message and "U+D800" in error.message
    assert sorted(r["CUSTOMERID"] for r in intacct_emulator.admin.rows("CUSTOMER")) == [
        f"W{n}" for n in range(6)]  # fmt: skip
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
    ids = {"BRK": "0f8fad5b-d9cb-469f-a165-70867728950e",
           "NOTE": "7c9e6679-7425-40de-944b-e07fc1f90ae7"}  # fmt: skip
    seed(dataverse_emulator.admin, {"account": [
        *({"name": f"Fine {n}", "accountnumber": f"F{n}"} for n in range(4)),
        {"accountid": ids["BRK"], "name": f"{LONE}Broken", "accountnumber": "BRK"},
        {"accountid": ids["NOTE"], "name": "Note broken", "accountnumber": "NOTE",
         "telephone1": f"+1 555{LONE}"},
    ]})  # fmt: skip
    run = await run_flow(dynamics_services, "creatio-dynamics.accounts-to-creatio")
    assert run.status is RunStatus.PARTIAL
    assert (run.counts.read, run.counts.created, run.counts.failed) == (6, 4, 2)
    errors = {e.record: e for e in run.errors}
    assert errors[ids["BRK"]].field == "name" and errors[ids["NOTE"]].field == "telephone1"
    assert all(e.category.value == "validation" for e in errors.values())
    assert sorted(r["Code"] for r in creatio_emulator.rows("Account")) == [
        f"F{n}" for n in range(4)]  # fmt: skip


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
