"""The local host started over a flows table that already holds an unreadable row (what a
PATCH of query_starts 0001-01-01 wrote before it was refused): start-up passes, the row is
reported, its routes answer 500, and the scheduler keeps running every other flow."""

from __future__ import annotations

import uuid
from pathlib import Path

from azure.data.tables import EdmType, EntityProperty, TableServiceClient

from sandbox.azurite import Azurite
from tests.e2e.conftest import EmulatedSystems, start_host, stop_host, wait_for

ACCOUNTS = "creatio-intacct.accounts-to-intacct"
CONTACTS = "creatio-intacct.contacts-to-intacct"


def test_host_starts_reports_and_schedules_around_an_unreadable_row(
    own_azurite: Azurite, tmp_path: Path, emulated_systems: EmulatedSystems
) -> None:
    prefix = "u" + uuid.uuid4().hex[:10]
    with TableServiceClient.from_connection_string(own_azurite.connection_string) as service:
        table = service.create_table(f"{prefix}flows")
        table.create_entity(
            {
                "PartitionKey": "creatio-intacct",
                "RowKey": "accounts-to-intacct",
                "state": "STOPPED",
                "interval_ms": 600000,
                "shift_ms": 0,
                "counter": 0,
                "volume_limit": 5000,
                "error_policy": "never_stop",
                "state_changed_at": EntityProperty("2026-01-01T00:00:00Z", EdmType.DATETIME),
                "query_starts": EntityProperty("1-01-01T00:00:00Z", EdmType.DATETIME),
            }
        )
    host = start_host(own_azurite, tmp_path, SHUTTLE_TABLE_PREFIX=prefix, **emulated_systems.env)
    try:
        with host.client() as api:
            listing = api.get("/flows")
            assert listing.status_code == 200
            assert ACCOUNTS not in {f["id"] for f in listing.json()["flows"]}
            assert [u["flow_id"] for u in listing.json()["unreadable"]] == [ACCOUNTS]
            status = api.get("/status").json()
            (row,) = status["unreadable"]
            assert (row["flow_id"], row["field"]) == (ACCOUNTS, "query_starts")

            own = api.get(f"/flows/{ACCOUNTS}")
            assert own.status_code == 500
            assert own.json()["error"]["code"] == "unreadable_row"
            assert ACCOUNTS in own.json()["error"]["message"]

            # What wrote the row in the first place is refused now, and stores nothing.
            patch = api.patch(f"/flows/{CONTACTS}", json={"query_starts": "0001-01-01T00:00:00Z"})
            assert patch.status_code == 422 and patch.json()["error"]["field"] == "query_starts"
            runs = api.get(f"/flows/{CONTACTS}/runs", params={"limit": "9" * 5000})
            assert runs.status_code == 422 and runs.json()["error"]["field"] == "limit"

            assert api.patch(f"/flows/{CONTACTS}", json={"shift_ms": 0}).status_code == 200
            assert api.post(f"/flows/{CONTACTS}/start").status_code == 200

            def ran() -> bool:
                last = api.get(f"/flows/{CONTACTS}").json()["last_run"]
                return last is not None and last["status"] != "running"

            wait_for(ran, 60, "the scheduler to run the other flow")
            last_run = api.get(f"/flows/{CONTACTS}").json()["last_run"]
            assert last_run["status"] == "succeeded", last_run
            assert api.post(f"/flows/{CONTACTS}/stop").status_code == 200
    finally:
        stop_host(host)
