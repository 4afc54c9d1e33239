"""`$metadata` for every object the solutions use, with the custom fields' types and lengths,
as our connector reads it; a field or custom object removed in the emulator is gone from it
(and its navigation properties pointing at it), and back after a restore."""

from __future__ import annotations

import httpx

from shared.connectors.creatio.client import CreatioClient
from shared.connectors.creatio.metadata import read_objects
from shared.flows.catalog import load_catalog
from shared.preflight.needs import solution_needs
from tests.support.creatio import RunningCreatio, config


async def test_every_object_the_solutions_use_is_described(creatio: RunningCreatio) -> None:
    async with CreatioClient(config(creatio.url)) as client:
        objects = await read_objects(client)
    catalog = load_catalog(["creatio-intacct", "creatio-dynamics"])
    used = {
        o for s in catalog.solutions.values() for (sys, o) in solution_needs(s) if sys == "creatio"
    }
    assert used <= set(objects)
    account = objects["Account"].fields
    assert (account["UsrErpFullName"].type, account["UsrErpFullName"].max_length) == (
        "Edm.String",
        210,
    )
    assert account["UsrActive"].type == "Edm.Boolean"
    assert account["UsrArOver60"].type == "Edm.Decimal"
    assert objects["UsrPayment"].fields["UsrInvoiceId"].type == "Edm.Guid"


def test_removed_field_and_object_leave_the_metadata(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    creatio.admin.http.delete("/metadata/Account/UsrArOver60").raise_for_status()
    creatio.admin.http.delete("/metadata/UsrPayment").raise_for_status()
    text = session.get("/0/odata/$metadata").text
    assert 'Name="UsrArOver60"' not in text and 'Name="UsrArOver30"' in text
    assert '<EntityType Name="UsrPayment">' not in text
    assert '<EntitySet Name="UsrPayment"' not in text
    assert creatio.admin.http.delete("/metadata/Account/NoSuchField").status_code == 404
    selected = session.get("/0/odata/Account", params={"$select": "Name,UsrArOver60"})
    assert selected.status_code == 400
    assert "UsrArOver60" in selected.json()["error"]["message"]
    creatio.admin.http.post("/metadata/restore").raise_for_status()
    text = session.get("/0/odata/$metadata").text
    assert 'Name="UsrArOver60"' in text and '<EntitySet Name="UsrPayment"' in text
    assert session.get("/0/odata/Account", params={"$select": "UsrArOver60"}).status_code == 200
