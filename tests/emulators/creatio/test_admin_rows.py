"""`GET /_emulator/rows/{object}`: a table as OData renders it, for benches in another
process; never counted as a Creatio call."""

from __future__ import annotations

import httpx

from tests.support.creatio import RunningCreatio


def test_rows_render_a_table_as_odata_does_and_are_not_counted(creatio: RunningCreatio) -> None:
    creatio.admin.seed({"Account": [{"Name": "Acme", "Code": "A1"}]})
    answer = httpx.get(f"{creatio.url}/_emulator/rows/Account")
    assert answer.status_code == 200
    (row,) = answer.json()["rows"]
    assert (row["Name"], row["Code"]) == ("Acme", "A1")
    assert row["Id"] == str(creatio.rows("Account")[0]["Id"])
    assert row["PrimaryContactId"] == "00000000-0000-0000-0000-000000000000"  # empty lookup
    assert httpx.get(f"{creatio.url}/_emulator/rows/Nope").status_code == 404
    assert creatio.admin.stats()["calls"] == {}
