"""The Dataverse emulator's dropped connections are real connection resets over HTTPS, even
behind its service-protection layer (which wraps the answer to add its headers): `drop`
loses the request, `drop_after` loses only the answer, and neither is ever a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.support.dataverse import RunningDataverse

KEY = "accounts(shuttle_creatioaccountid='c-drop')"


@pytest.fixture
def api(dataverse: RunningDataverse) -> httpx.Client:
    return dataverse.http()


def test_drop_resets_the_connection_and_writes_nothing(
    dataverse: RunningDataverse, api: httpx.Client
) -> None:
    dataverse.admin.faults({"fault": "drop", "method": "PATCH"})
    with pytest.raises(httpx.TransportError):  # no answer at all, not a 500
        api.patch(KEY, json={"name": "never"})
    assert dataverse.admin.rows("account") == []
    statuses = dataverse.admin.stats()["statuses"]
    assert statuses == {"PATCH /api/data/v9.2/accounts({key}) dropped": 1}


def test_drop_after_commits_then_resets_the_connection(
    dataverse: RunningDataverse, api: httpx.Client
) -> None:
    dataverse.admin.faults({"fault": "drop_after", "method": "PATCH"})
    with pytest.raises(httpx.TransportError):
        api.patch(KEY, json={"name": "committed"})
    (row,) = dataverse.admin.rows("account")
    assert (row["name"], row["shuttle_creatioaccountid"]) == ("committed", "c-drop")
    # The service-protection layer saw the call end: nothing is left in flight.
    assert dataverse.admin.stats()["in_flight"] == 0
    assert api.get(KEY).json()["name"] == "committed"


def test_random_drops_are_resets_too(dataverse: RunningDataverse, api: httpx.Client) -> None:
    dataverse.admin.knobs(fail_rate=1.0, fail_modes={"drop": 1}, seed=3)
    outcomes = []
    for n in range(4):
        try:
            outcomes.append(api.get("accounts", params={"$top": str(n + 1)}).status_code)
        except httpx.TransportError:
            outcomes.append("reset")
    assert outcomes == ["reset"] * 4
