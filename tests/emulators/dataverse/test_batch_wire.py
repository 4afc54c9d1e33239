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


def test_service_protection_counts_a_batch_as_one_request_and_its_time_in_full(
    api: httpx.Client, dataverse: RunningDataverse
) -> None:
    # docs/wire-notes.md D5: a $batch is one request for the request count; the server
    # time of its operations (10 x 5 ms here) is all execution time.
    dataverse.admin.limits(window_s=60, max_requests=2, max_execution_ms=100_000)
    dataverse.admin.options(operation_ms=5)
    parts = [_part("POST", "accounts", f'{{"name":"N{n}"}}') for n in range(10)]
    first = _send(api, *parts, prefer="odata.continue-on-error")
    assert first.status_code == 200 and len(dataverse.admin.rows("account")) == 10
    assert first.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "1"
    second = _send(api, *parts[:1], prefer="odata.continue-on-error")
    assert second.status_code == 200
    # What the first batch took was already spent when the second arrived.
    left = float(second.headers["x-ms-ratelimit-time-remaining-xrm-requests"])
    assert left <= 100_000 - 50
    refused = _send(api, *parts[:1])
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "0x80072322"
    usage = dataverse.admin.stats()["protection"]["usage"]
    assert usage["requests"] == 2 and usage["execution_ms"] >= 55


def test_a_call_is_refused_once_the_window_reached_the_execution_limit(
    api: httpx.Client, dataverse: RunningDataverse
) -> None:
    # The call that takes the window past the limit is let in (it was under when it
    # arrived); the next is refused with the execution-time code and a Retry-After.
    dataverse.admin.limits(window_s=60, max_execution_ms=30)
    dataverse.admin.options(operation_ms=10)
    parts = [_part("POST", "accounts", f'{{"name":"T{n}"}}') for n in range(5)]
    assert _send(api, *parts, prefer="odata.continue-on-error").status_code == 200
    refused = _send(api, *parts[:1])
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "0x80072321"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(dataverse.admin.rows("account")) == 5  # the refused batch ran nothing
