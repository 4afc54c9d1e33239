"""JSON `$batch` on the wire (docs/wire-notes.md C6)."""

from __future__ import annotations

import uuid

import httpx

from tests.support.creatio import RunningCreatio


def _post(name: str, **extra: object) -> dict[str, object]:
    return {"method": "POST", "url": "Account", "body": {"Name": name, **extra}}


def test_batch_answers_200_with_one_response_per_request(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    known = str(uuid.uuid4())
    requests = [
        {"id": "a", **_post("One", Id=known)},
        {"id": "b", "method": "GET", "url": f"Account({known})?$select=Name"},
        {
            "id": "c",
            "method": "PATCH",
            "url": f"{creatio.url}/0/odata/Account({known})",
            "body": {"Name": "Uno"},
        },
        {"id": "d", "method": "GET", "url": f"/0/odata/Account({known})?$select=Name"},
        {"id": "e", "method": "DELETE", "url": f"Account({known})"},
    ]
    response = session.post("/0/odata/$batch", json={"requests": requests})
    assert response.status_code == 200
    answers = response.json()["responses"]
    assert [(a["id"], a["status"]) for a in answers] == [
        ("a", 201),
        ("b", 200),
        ("c", 204),
        ("d", 200),
        ("e", 204),
    ]
    assert answers[0]["body"]["Id"] == known
    assert answers[1]["body"]["Name"] == "One" and answers[3]["body"]["Name"] == "Uno"
    assert "body" not in answers[2]
    assert creatio.admin.calls("POST /0/odata/$batch") == 1
    writes = creatio.admin.stats()["writes"]
    assert writes == {"create Account": 1, "update Account": 1, "delete Account": 1}


def test_batch_stops_at_the_first_failure_without_continue_on_error(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    requests = [_post("ok1"), _post(""), _post("ok2")]  # the second lacks the required Name
    answers = session.post("/0/odata/$batch", json={"requests": requests}).json()["responses"]
    assert [a["status"] for a in answers] == [201, 400]  # the third was not executed
    assert "error" in answers[1]["body"]
    assert creatio.admin.writes("create Account") == 1


def test_continue_on_error_runs_every_request(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    requests = [_post("ok1"), _post(""), _post("ok2")]
    response = session.post(
        "/0/odata/$batch", json={"requests": requests}, headers={"Prefer": "continue-on-error"}
    )
    assert [a["status"] for a in response.json()["responses"]] == [201, 400, 201]
    assert creatio.admin.writes("create Account") == 2


def test_at_most_100_requests(creatio: RunningCreatio, session: httpx.Client) -> None:
    ok = session.post("/0/odata/$batch", json={"requests": [_post(f"a{i}") for i in range(100)]})
    assert ok.status_code == 200 and len(ok.json()["responses"]) == 100
    too_many = session.post(
        "/0/odata/$batch", json={"requests": [_post(f"b{i}") for i in range(101)]}
    )
    assert too_many.status_code == 400
    assert "maximum of 100" in too_many.json()["error"]["message"]
    assert creatio.admin.writes("create Account") == 100


def test_multipart_batches_are_refused(session: httpx.Client) -> None:
    response = session.post(
        "/0/odata/$batch",
        content=b"--batch_1\r\n--batch_1--",
        headers={"Content-Type": "multipart/mixed; boundary=batch_1"},
    )
    assert response.status_code == 400 and "JSON" in response.json()["error"]["message"]


def test_batches_need_auth_too(creatio: RunningCreatio) -> None:
    response = httpx.post(f"{creatio.url}/0/odata/$batch", json={"requests": [_post("x")]})
    assert response.status_code == 401


def test_a_sub_request_body_keeps_json_numbers_exact(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    # A decimal sent as a JSON number (not an IEEE754Compatible string) inside a batch.
    sub = '{"id": "1", "method": "POST", "url": "Product", '
    sub += '"body": {"Name": "p", "Price": 1234567.89}}'
    body = ('{"requests": [' + sub + "]}").encode()
    response = session.post(
        "/0/odata/$batch", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    (answer,) = response.json()["responses"]
    assert answer["status"] == 201
    (row,) = creatio.rows("Product")
    assert str(row["Price"]) == "1234567.89"
