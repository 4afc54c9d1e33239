"""The database errors a Creatio install answers with (HttpError shape) and required
columns (OData error shape)."""

from __future__ import annotations

import uuid

import httpx

from tests.support.creatio import RunningCreatio

HTTP_ERROR_KEYS = {"Message", "ExceptionMessage", "ExceptionType", "StackTrace"}


def test_duplicate_id_is_a_500_http_error_with_sql_servers_message(session: httpx.Client) -> None:
    chosen = str(uuid.uuid4())
    assert session.post("/0/odata/Account", json={"Id": chosen, "Name": "a"}).status_code == 201
    again = session.post("/0/odata/Account", json={"Id": chosen, "Name": "b"})
    assert again.status_code == 500
    body = again.json()
    assert set(body) == HTTP_ERROR_KEYS and body["Message"] == "An error has occurred."
    assert "Violation of PRIMARY KEY constraint" in body["ExceptionMessage"]
    assert "duplicate key" in body["ExceptionMessage"] and chosen in body["ExceptionMessage"]


def test_a_lookup_to_a_missing_row_violates_a_foreign_key(session: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    response = session.post("/0/odata/Contact", json={"Name": "Ann", "AccountId": missing})
    assert response.status_code == 500
    message = response.json()["ExceptionMessage"]
    assert "INSERT statement conflicted with the FOREIGN KEY constraint" in message
    assert "FK_Contact_AccountId" in message
    # Lookups whose object is not emulated (owner's city...) accept any GUID.
    assert (
        session.post("/0/odata/Contact", json={"Name": "Bo", "CityId": missing}).status_code == 201
    )


def test_too_long_text_is_truncation_error_naming_the_column(session: httpx.Client) -> None:
    response = session.post("/0/odata/Account", json={"Name": "a", "UsrErpFullName": "x" * 211})
    assert response.status_code == 500
    assert (
        "would be truncated in table 'dbo.Account', column 'UsrErpFullName'"
        in (response.json()["ExceptionMessage"])
    )
    exact = session.post("/0/odata/Account", json={"Name": "a", "UsrErpFullName": "x" * 210})
    assert exact.status_code == 201


def test_required_columns_are_400_odata_errors(session: httpx.Client) -> None:
    response = session.post("/0/odata/Account", json={"Code": "A-1"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "", "message": 'Column "Name" of object "Account" must be filled in.'}
    }
    ok = session.post("/0/odata/Account", json={"Name": "n"}).json()
    cleared = session.patch(f"/0/odata/Account({ok['Id']})", json={"Name": "  "})
    assert cleared.status_code == 400


def test_wrong_value_types_are_400_odata_errors(session: httpx.Client) -> None:
    for values in (
        {"Name": 5},
        {"Name": "a", "UsrActive": "yes"},
        {"Name": "a", "OwnerId": "x"},
        {"Name": "a", "UsrErpLastModified": "2024-05-01"},
    ):
        response = session.post("/0/odata/Account", json=values)
        assert response.status_code == 400, values
        assert "Cannot convert the literal" in response.json()["error"]["message"]
    assert (
        session.post(
            "/0/odata/Account", content=b"{", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )


def test_deleting_a_referenced_row_is_refused_but_lines_go_with_their_header(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    account = session.post("/0/odata/Account", json={"Name": "A"}).json()
    session.post("/0/odata/Contact", json={"Name": "C", "AccountId": account["Id"]})
    refused = session.delete(f"/0/odata/Account({account['Id']})")
    assert refused.status_code == 500
    assert "REFERENCE constraint" in refused.json()["ExceptionMessage"]
    product = session.post("/0/odata/Product", json={"Name": "P"}).json()
    order = session.post("/0/odata/Order", json={"AccountId": account["Id"]}).json()
    assert order["Number"] == "ORD-1"  # auto-numbered
    line = session.post(
        "/0/odata/OrderProduct",
        json={"OrderId": order["Id"], "ProductId": product["Id"], "Quantity": 2, "Price": "9.5"},
    ).json()
    assert session.delete(f"/0/odata/Order({order['Id']})").status_code == 204
    assert session.get(f"/0/odata/OrderProduct({line['Id']})").status_code == 404
