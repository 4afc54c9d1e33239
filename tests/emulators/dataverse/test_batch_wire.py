"""$batch on the wire: multipart/mixed, change sets, limits."""

from __future__ import annotations

import httpx
import pytest

from tests.support.dataverse import RunningDataverse

BATCH = "batch_AAA"
CHANGESET = "changeset_BBB"


@pytest.fixture
def api(dataverse: RunningDataverse) -> httpx.Client:
    return dataverse.http()


def _part(method: str, url: str, body: str | None = None, content_id: int | None = None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"{method} {url} HTTP/1.1", "Content-Type: application/json", "", body or ""]
    return "\r\n".join(lines)


def _changeset(*parts: str) -> str:
    inner = "".join(f"--{CHANGESET}\r\n{p}\r\n" for p in parts) + f"--{CHANGESET}--"
    return f"Content-Type: multipart/mixed; boundary={CHANGESET}\r\n\r\n{inner}"


def _send(api: httpx.Client, *parts: str, prefer: str | None = None) -> httpx.Response:
    body = "".join(f"--{BATCH}\r\n{p}\r\n" for p in parts) + f"--{BATCH}--\r\n"
    headers = {"Content-Type": f"multipart/mixed; boundary={BATCH}"}
    if prefer:
        headers["Prefer"] = prefer
    return api.post("$batch", content=body.encode(), headers=headers)


def test_the_documented_example_round_trips(api: httpx.Client, dataverse: RunningDataverse) -> None:
    response = _send(
        api,
        _changeset(
            _part("POST", "/api/data/v9.2/accounts", '{"name":"Acme","accountnumber":"A-1"}', 1)
        ),
        _part("GET", "accounts?$select=name"),
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("multipart/mixed; boundary=batchresponse_")
    text = response.text
    assert "changesetresponse_" in text and "HTTP/1.1 204 No Content" in text
    assert "OData-EntityId: " in text and "HTTP/1.1 200 OK" in text and '"Acme"' in text
    assert dataverse.admin.stats()["protection"]["accepted"] == 1  # one request


def test_a_failing_change_set_is_rolled_back(
    api: httpx.Client, dataverse: RunningDataverse
) -> None:
    response = _send(
        api,
        _changeset(
            _part("POST", "accounts", '{"name":"A"}', 1),
            _part("POST", "accounts", '{"accountcategorycode":99}', 2),
        ),
    )
    assert response.status_code == 400
    assert "HTTP/1.1 400 Bad Request" in response.text and "0x8004431A" in response.text
    assert "changesetresponse_" not in response.text
    assert dataverse.admin.rows("account") == []


def test_content_id_references(api: httpx.Client, dataverse: RunningDataverse) -> None:
    response = _send(
        api,
        _changeset(
            _part("POST", "accounts", '{"name":"Parent"}', 1),
            _part(
                "POST", "contacts", '{"lastname":"L","parentcustomerid_account@odata.bind":"$1"}', 2
            ),
        ),
    )
    assert response.status_code == 200
    account = dataverse.admin.rows("account")[0]["accountid"]
    assert dataverse.admin.rows("contact")[0]["_parentcustomerid_value"] == account


def test_change_set_parts_need_a_content_id_and_references_an_earlier_one(
    api: httpx.Client, dataverse: RunningDataverse
) -> None:
    anonymous = _send(api, _changeset(_part("POST", "accounts", '{"name":"A"}')))
    assert anonymous.status_code == 400 and "Content-ID" in anonymous.json()["error"]["message"]
    forward = _send(
        api,
        _changeset(
            _part("POST", "contacts", '{"parentcustomerid_account@odata.bind":"$2"}', 1),
            _part("POST", "accounts", '{"name":"A"}', 2),
        ),
    )
    assert forward.status_code == 400
    assert "Content-ID Reference: '$2' does not exist in the batch context." in forward.text
    outside = _send(api, _part("PATCH", "$1", '{"name":"A"}'))
    assert outside.status_code == 400 and "does not exist in the batch context" in outside.text
    assert dataverse.admin.rows("account") == [] and dataverse.admin.rows("contact") == []


def test_get_in_a_change_set_and_more_than_1000_operations_are_refused(api: httpx.Client) -> None:
    assert _send(api, _changeset(_part("GET", "accounts"))).status_code == 400
    many = [_part("POST", "accounts", '{"name":"x"}') for _ in range(1001)]
    assert _send(api, *many).status_code == 400


def test_continue_on_error_runs_every_part(api: httpx.Client, dataverse: RunningDataverse) -> None:
    parts = [
        _part("POST", "accounts", '{"accountcategorycode":5}'),
        _part("POST", "accounts", '{"name":"B"}'),
    ]
    assert _send(api, *parts).status_code == 400
    assert dataverse.admin.rows("account") == []
    kept = _send(api, *parts, prefer="odata.continue-on-error")
    assert kept.status_code == 200 and kept.text.count("HTTP/1.1") == 2
    assert len(dataverse.admin.rows("account")) == 1


def test_a_rolled_back_delete_is_not_reported_as_deleted(
    api: httpx.Client, dataverse: RunningDataverse
) -> None:
    api.post("accounts", json={"name": "stays"})
    account = dataverse.admin.rows("account")[0]["accountid"]
    track = {"Prefer": "odata.track-changes"}
    link = api.get("accounts", headers=track).json()["@odata.deltaLink"]
    failed = _send(
        api,
        _changeset(
            _part("DELETE", f"accounts({account})", None, 1),
            _part("POST", "accounts", '{"accountcategorycode":99}', 2),
        ),
    )
    assert failed.status_code == 400
    assert [r["name"] for r in dataverse.admin.rows("account")] == ["stays"]
    assert api.get(link, headers=track).json()["value"] == []
