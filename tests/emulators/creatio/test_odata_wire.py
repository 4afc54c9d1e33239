"""The emulator's OData 4 service on the wire (docs/wire-notes.md C3, C4, C7)."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal

import httpx

from tests.support.creatio import RunningCreatio

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z")
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"


def _create(session: httpx.Client, entity: str, **values: object) -> dict:
    response = session.post(f"/0/odata/{entity}", json=values)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_collection_envelope_and_headers(creatio: RunningCreatio, session: httpx.Client) -> None:
    _create(session, "Account", Name="Acme")
    response = session.get("/0/odata/Account")
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["@odata.context"] == f"{creatio.url}/0/odata/$metadata#Account"
    assert [r["Name"] for r in body["value"]] == ["Acme"]
    assert "@odata.count" not in body and "@odata.nextLink" not in body


def test_create_answers_201_with_the_entity_and_a_location(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    chosen = str(uuid.uuid4())
    response = session.post("/0/odata/Contact", json={"Id": chosen, "Name": "Ann Lee"})
    assert response.status_code == 201
    body = response.json()
    assert body["Id"] == chosen
    assert body["@odata.context"] == f"{creatio.url}/0/odata/$metadata#Contact/$entity"
    assert response.headers["Location"] == f"{creatio.url}/0/odata/Contact({chosen})"
    # Server-maintained columns, in UTC with up to 7 fractional digits.
    assert TIMESTAMP.fullmatch(body["CreatedOn"]) and body["CreatedOn"] == body["ModifiedOn"]
    assert body["CreatedById"] != EMPTY_GUID
    # Conventions for empty values: the empty GUID, the empty date, "" and zeros.
    assert body["AccountId"] == EMPTY_GUID
    assert body["BirthDate"] == "0001-01-01T00:00:00Z"
    assert body["Email"] == "" and body["Age"] == 0 and body["Confirmed"] is False
    # A server-chosen Id when none is given.
    other = _create(session, "Contact", Name="Bob")
    assert uuid.UUID(other["Id"]) and other["Id"] != chosen


def test_return_minimal_answers_204(session: httpx.Client) -> None:
    response = session.post(
        "/0/odata/Account", json={"Name": "M"}, headers={"Prefer": "return=minimal"}
    )
    assert response.status_code == 204 and response.content == b""
    assert "Account(" in response.headers["OData-EntityId"]


def test_single_record_property_and_value(creatio: RunningCreatio, session: httpx.Client) -> None:
    row = _create(session, "Account", Name="Acme")
    one = session.get(f"/0/odata/Account({row['Id']})", params={"$select": "Id,Name"})
    assert one.status_code == 200
    assert one.json() == {
        "@odata.context": f"{creatio.url}/0/odata/$metadata#Account/$entity",
        "Id": row["Id"],
        "Name": "Acme",
    }
    prop = session.get(f"/0/odata/Account({row['Id']})/Name").json()
    assert prop["value"] == "Acme"
    raw = session.get(f"/0/odata/Account({row['Id']})/Name/$value")
    assert (raw.text, raw.headers["content-type"].split(";")[0]) == ("Acme", "text/plain")


def test_patch_is_204_and_changes_modified_on_only_when_a_value_changes(
    session: httpx.Client,
) -> None:
    row = _create(session, "Account", Name="Acme")
    url = f"/0/odata/Account({row['Id']})"
    response = session.patch(url, json={"Name": "Acme Ltd"})
    assert (response.status_code, response.content) == (204, b"")
    after = session.get(url).json()
    assert after["Name"] == "Acme Ltd" and after["ModifiedOn"] > row["ModifiedOn"]
    assert after["CreatedOn"] == row["CreatedOn"]
    unchanged = session.patch(url, json={"Name": "Acme Ltd"})
    assert unchanged.status_code == 204
    assert session.get(url).json()["ModifiedOn"] == after["ModifiedOn"]


def test_patch_silently_ignores_unknown_properties(session: httpx.Client) -> None:
    row = _create(session, "Account", Name="Acme", NoSuchColumn="x")
    url = f"/0/odata/Account({row['Id']})"
    assert session.patch(url, json={"UsrErpFullNam": "typo"}).status_code == 204
    assert "UsrErpFullNam" not in session.get(url).json()


def test_system_columns_sent_by_a_client_are_ignored(session: httpx.Client) -> None:
    row = _create(session, "Account", Name="A", ModifiedOn="2000-01-01T00:00:00Z")
    assert not row["ModifiedOn"].startswith("2000")
    url = f"/0/odata/Account({row['Id']})"
    other = str(uuid.uuid4())
    assert (
        session.patch(url, json={"Id": other, "CreatedOn": "2000-01-01T00:00:00Z"}).status_code
        == 204
    )
    assert session.get(url).json()["CreatedOn"] == row["CreatedOn"]
    assert session.get(f"/0/odata/Account({other})").status_code == 404


def test_delete_is_204_and_a_deleted_key_is_404(session: httpx.Client) -> None:
    row = _create(session, "Account", Name="Gone")
    url = f"/0/odata/Account({row['Id']})"
    assert session.delete(url).status_code == 204
    missing = session.get(url)
    assert missing.status_code == 404
    assert set(missing.json()["error"]) >= {"code", "message"}
    assert session.delete(url).status_code == 404
    assert session.patch(url, json={"Name": "x"}).status_code == 404


def test_unknown_select_column_is_a_400_odata_error(session: httpx.Client) -> None:
    response = session.get("/0/odata/Account", params={"$select": "Id,Nope"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "",
            "message": "Could not find a property named 'Nope' on type "
            "'Terrasoft.Configuration.OData.Account'.",
        }
    }


def test_select_count_top_skip_and_orderby(creatio: RunningCreatio, session: httpx.Client) -> None:
    for name in ["c", "a", "e", "b", "d"]:
        _create(session, "Product", Name=name)
    response = session.get(
        "/0/odata/Product",
        params={
            "$select": "Name",
            "$orderby": "Name desc",
            "$top": "2",
            "$skip": "1",
            "$count": "true",
        },
    )
    body = response.json()
    assert body["@odata.context"] == f"{creatio.url}/0/odata/$metadata#Product(Name)"
    assert body["@odata.count"] == 5
    assert body["value"] == [{"Name": "d"}, {"Name": "c"}]
    count = session.get("/0/odata/Product/$count", params={"$filter": "Name gt 'b'"})
    assert (count.status_code, count.text) == (200, "3")
    bad = session.get("/0/odata/Product", params={"$top": "-1"})
    assert bad.status_code == 400 and "$top" in bad.json()["error"]["message"]


def test_ties_come_back_in_varying_order_unless_the_key_is_in_the_order(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    stamp = "2024-05-01T10:00:00.1234567Z"
    creatio.admin.seed({"Contact": [{"Name": f"c{i}", "ModifiedOn": stamp} for i in range(40)]})
    params = {"$filter": f"ModifiedOn eq {stamp}", "$orderby": "ModifiedOn", "$select": "Id"}
    orders = {
        tuple(r["Id"] for r in session.get("/0/odata/Contact", params=params).json()["value"])
        for _ in range(5)
    }
    assert len(orders) > 1  # a database returns ties in no fixed order
    params["$orderby"] = "ModifiedOn,Id"
    keyed = {
        tuple(r["Id"] for r in session.get("/0/odata/Contact", params=params).json()["value"])
        for _ in range(5)
    }
    assert len(keyed) == 1


def test_guids_order_as_sql_server_uniqueidentifiers(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    # SQL Server compares the last byte group first: ...-000000000001 sorts after
    # ffffffff-...-000000000000.
    low, high = "ffffffff-ffff-4fff-bfff-000000000000", "00000000-0000-4000-8000-000000000001"
    creatio.admin.seed({"Product": [{"Id": high, "Name": "p"}, {"Id": low, "Name": "p"}]})
    ids = [
        r["Id"] for r in session.get("/0/odata/Product", params={"$orderby": "Id"}).json()["value"]
    ]
    assert ids == [low, high]
    after = session.get("/0/odata/Product", params={"$filter": f"Id gt {low}"}).json()["value"]
    assert [r["Id"] for r in after] == [high]


def test_answers_are_capped_at_max_rows_without_a_next_link(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    assert creatio.admin.options()["max_rows"] == 20000  # docs/wire-notes.md C7
    creatio.admin.options(max_rows=5)
    creatio.admin.seed({"Product": [{"Name": f"p{i}"} for i in range(8)]})
    body = session.get("/0/odata/Product").json()
    assert len(body["value"]) == 5 and "@odata.nextLink" not in body


def test_server_paging_gives_a_skip_next_link(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    creatio.admin.options(server_page_size=3)
    creatio.admin.seed({"Product": [{"Name": f"p{i}"} for i in range(7)]})
    names: list[str] = []
    url: str | None = "/0/odata/Product?$orderby=Name&$select=Name"
    while url:
        body = session.get(url).json()
        names += [r["Name"] for r in body["value"]]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(f"{creatio.url}/0/odata/Product?") and "$skip=" in url
    assert names == [f"p{i}" for i in range(7)]


def test_server_paging_with_skiptoken_continues_after_the_last_row(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    creatio.admin.options(server_page_size=3, next_link_style="skiptoken")
    creatio.admin.seed({"Product": [{"Name": f"p{i}"} for i in range(7)]})
    first = session.get("/0/odata/Product?$orderby=Name&$select=Name").json()
    link = first["@odata.nextLink"]
    assert "$skiptoken=" in link and "$skip=" not in link
    # Rows before the token that disappear do not shift the next page (unlike $skip).
    p0 = session.get("/0/odata/Product", params={"$filter": "Name eq 'p0'"}).json()["value"][0]
    session.delete(f"/0/odata/Product({p0['Id']})")
    second = session.get(link).json()
    assert [r["Name"] for r in second["value"]] == ["p3", "p4", "p5"]
    bad = session.get("/0/odata/Product", params={"$skiptoken": "garbage"})
    assert bad.status_code == 400


def test_decimals_are_exact_numbers_or_ieee754_strings(session: httpx.Client) -> None:
    row = _create(session, "Opportunity", Title="Big", Amount="12345678901234.56")
    raw = session.get(f"/0/odata/Opportunity({row['Id']})", params={"$select": "Amount"})
    assert json.loads(raw.text, parse_float=Decimal)["Amount"] == Decimal("12345678901234.56")
    assert '"Amount":12345678901234.56' in raw.text  # a bare number, every digit kept
    ieee = session.get(
        f"/0/odata/Opportunity({row['Id']})",
        params={"$select": "Amount"},
        headers={"Accept": "application/json;IEEE754Compatible=true"},
    )
    assert ieee.json()["Amount"] == "12345678901234.56"


def test_service_document_and_metadata(creatio: RunningCreatio, session: httpx.Client) -> None:
    service = session.get("/0/odata/").json()
    names = {s["name"] for s in service["value"]}
    assert {
        "Account",
        "Contact",
        "Opportunity",
        "OpportunityProductInterest",
        "Order",
        "OrderProduct",
        "Product",
        "Invoice",
        "UsrPayment",
        "UsrCreditMemo",
        "OpportunityStage",
    } <= names
    metadata = session.get("/0/odata/$metadata")
    assert metadata.headers["content-type"].startswith("application/xml")
    assert '<EntityType Name="UsrPayment">' in metadata.text
    assert '<NavigationProperty Name="Stage"' in metadata.text


def test_unknown_object_is_the_iis_html_404(session: httpx.Client) -> None:
    response = session.get("/0/odata/NoSuchObject")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "404 - File or directory not found." in response.text


def test_routing_errors_use_the_web_api_shape(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    response = session.get("/0/rest/NoService/Do")
    assert response.status_code == 404
    assert set(response.json()) == {"Message", "MessageDetail"}
    assert response.json()["Message"].startswith("No HTTP resource was found")
    put = session.put("/0/odata/Account(00000000-0000-0000-0000-000000000001)", json={})
    assert put.status_code == 405
    assert put.json() == {"Message": "The requested resource does not support http method 'PUT'."}
    key = session.get("/0/odata/Account(not-a-guid)")
    assert key.status_code == 400 and "Edm.Guid" in key.json()["error"]["message"]


def test_lookup_rows_exist_with_per_instance_guids(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    stages = session.get("/0/odata/OpportunityStage", params={"$select": "Id,Name"}).json()["value"]
    by_name = {s["Name"]: s["Id"] for s in stages}
    assert "Closed won" in by_name
    assert by_name == creatio.admin.lookups()["OpportunityStage"]
