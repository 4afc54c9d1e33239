"""The Dataverse emulator's wire behaviour, pinned to api-facts §3."""

from __future__ import annotations

import re
from urllib.parse import unquote

import httpx
import pytest

from tests.support.dataverse import RunningDataverse, trust

GUID = re.compile(r"\(([0-9a-f-]{36})\)$")
MISSING = "3b9c2e0a-0000-4000-8000-000000000001"


@pytest.fixture
def api(dataverse: RunningDataverse) -> httpx.Client:
    return dataverse.http()


def _error(response: httpx.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


def test_a_call_without_a_valid_token_is_401(dataverse: RunningDataverse) -> None:
    bare = httpx.get(f"{dataverse.url}/api/data/v9.2/WhoAmI", verify=trust(dataverse.ca))
    assert bare.status_code == 401 and bare.content == b""
    assert "authorization_uri=" in bare.headers["WWW-Authenticate"]
    foreign = dataverse.http(dataverse.token(resource="https://other.crm.dynamics.com"))
    assert foreign.get("WhoAmI").status_code == 401


def test_create_answers_204_with_odata_entityid(api: httpx.Client) -> None:
    response = api.post("accounts", json={"name": "Acme"})
    assert response.status_code == 204 and response.content == b""
    assert GUID.search(response.headers["OData-EntityId"])
    assert response.headers["OData-Version"] == "4.0"


def test_return_representation_answers_201_with_the_row(api: httpx.Client) -> None:
    response = api.post(
        "accounts?$select=name", json={"name": "Acme"},
        headers={"Prefer": "return=representation"},
    )  # fmt: skip
    body = response.json()
    assert response.status_code == 201
    assert body["@odata.context"].endswith("$metadata#accounts/$entity")
    assert re.fullmatch(r'W/"\d+"', body["@odata.etag"]) and body["name"] == "Acme"


def test_patch_is_an_upsert_with_conditional_headers(api: httpx.Client) -> None:
    url = "accounts(shuttle_creatioaccountid='k1')"
    prefer = {"Prefer": "return=representation"}
    assert api.patch(url, json={"name": "A"}, headers=prefer).status_code == 201
    assert api.patch(url, json={"name": "B"}, headers=prefer).status_code == 200
    assert api.patch(url, json={"name": "C"}).status_code == 204
    status, code, message = _error(
        api.patch(url, json={"name": "D"}, headers={"If-None-Match": "*"})
    )
    assert (status, code) == (412, "0x80040237")
    assert message == "A record with matching key values already exists."
    status, code, _ = _error(api.patch(f"accounts({MISSING})", json={}, headers={"If-Match": "*"}))
    assert (status, code) == (404, "0x80040217")
    stale = api.patch(url, json={"name": "E"}, headers={"If-Match": 'W/"1"'})
    assert _error(stale)[:2] == (412, "0x80060882")


def test_writing_a_lookup_value_column_is_the_entity_reference_error(api: httpx.Client) -> None:
    status, code, message = _error(api.post("contacts", json={"_parentcustomerid_value": MISSING}))
    assert (status, code) == (400, "0x80060888")
    assert message == (
        "CRM do not support direct update of Entity Reference properties, Use Navigation "
        "properties instead."
    )


def test_odata_bind_sets_a_lookup(api: httpx.Client) -> None:
    account = GUID.search(api.post("accounts", json={"name": "A"}).headers["OData-EntityId"])
    assert account
    for value in (f"/accounts({account.group(1)})", f"accounts({account.group(1)})"):
        assert (
            api.post(
                "contacts", json={"lastname": "L", "parentcustomerid_account@odata.bind": value}
            ).status_code
            == 204
        )
    by_key = api.post("accounts", json={"name": "B", "shuttle_creatioaccountid": "ak"})
    assert by_key.status_code == 204
    assert (
        api.post(
            "contacts",
            json={
                "parentcustomerid_account@odata.bind": "/accounts(shuttle_creatioaccountid='ak')"
            },
        ).status_code
        == 204
    )
    rows = api.get(
        "contacts?$select=_parentcustomerid_value",
        headers={"Prefer": 'odata.include-annotations="*"'},
    ).json()["value"]
    assert rows[0]["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    missing = api.post(
        "contacts", json={"parentcustomerid_account@odata.bind": f"/accounts({MISSING})"}
    )
    assert _error(missing) == (404, "0x80040217", f"account With Id = {MISSING} Does Not Exist")


def test_option_set_date_and_length_validation(api: httpx.Client) -> None:
    status, code, message = _error(api.post("accounts", json={"accountcategorycode": 99}))
    assert (status, code) == (400, "0x8004431A")
    assert message == (
        "A validation error occurred. The value 99 of 'accountcategorycode' on record of type "
        "'account' is outside the valid range. Accepted Values: 1,2"
    )
    assert _error(api.post("invoices", json={"duedate": "2024-05-01T10:00:00Z"}))[:2] == (
        400, "0x80060888",
    )  # fmt: skip
    assert api.post("invoices", json={"duedate": "2024-05-01"}).status_code == 204
    assert _error(api.post("accounts", json={"accountnumber": "x" * 21}))[1] == "0x80044331"


def test_paging_with_maxpagesize_and_nextlink(
    api: httpx.Client, dataverse: RunningDataverse
) -> None:
    dataverse.admin.seed(
        {
            "account": {
                "count": 12,
                "template": {"name": "A{n}", "modifiedon": "2024-05-01T10:00:00Z"},
            }
        }
    )
    prefer = {"Prefer": "odata.maxpagesize=5"}
    page = api.get("accounts?$select=name&$orderby=modifiedon asc", headers=prefer)
    assert page.headers["Preference-Applied"] == "odata.maxpagesize=5"
    ids: list[str] = []
    while True:
        body = page.json()
        ids += [r["accountid"] for r in body["value"]]
        link = body.get("@odata.nextLink")
        if not link:
            break
        assert "$skiptoken=" in link and "pagingcookie" in unquote(link)
        page = api.get(link, headers=prefer)
    assert len(ids) == 12 == len(set(ids))


def test_page_size_is_capped_at_5000_and_skip_is_refused(
    api: httpx.Client, dataverse: RunningDataverse
) -> None:
    dataverse.admin.seed({"account": {"count": 5001, "template": {"name": "A{n}"}}})
    page = api.get("accounts?$select=name", headers={"Prefer": "odata.maxpagesize=9000"})
    assert len(page.json()["value"]) == 5000 and "@odata.nextLink" in page.json()
    assert page.headers["Preference-Applied"] == "odata.maxpagesize=5000"
    assert api.get("accounts?$skip=10").status_code == 400


def test_filters(api: httpx.Client, dataverse: RunningDataverse) -> None:
    dataverse.admin.seed(
        {"account": [{"name": "O'Brien", "modifiedon": "2024-05-01T10:00:00Z"},
                     {"name": "Other", "modifiedon": "2024-05-02T10:00:00Z"}]}
    )  # fmt: skip

    def names(filter: str) -> list[str]:
        return [r["name"] for r in api.get("accounts", params={"$filter": filter}).json()["value"]]

    assert names("name eq 'o''brien'") == ["O'Brien"]
    assert names("modifiedon ge 2024-05-02T00:00:00Z") == ["Other"]
    assert names("startswith(name,'Oth') or name eq 'none'") == ["Other"]
    quoted = api.get("accounts", params={"$filter": "modifiedon ge '2024-05-02'"})
    assert quoted.status_code == 400
    unknown = api.get("accounts", params={"$filter": "nosuch eq 1"})
    assert "Could not find a property named 'nosuch'" in unknown.json()["error"]["message"]


def test_service_protection_answers_429_with_retry_after(
    api: httpx.Client, dataverse: RunningDataverse
) -> None:
    dataverse.admin.limits(window_s=60, max_requests=3)
    answers = [api.get("WhoAmI") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "2"
    status, code, message = _error(answers[3])
    assert (status, code) == (429, "0x80072322")
    assert message == "Number of requests exceeded the limit of 3 over time window of 60 seconds."
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60
    stats = dataverse.admin.stats()["protection"]
    assert stats["throttled"] == {"requests": 1} and stats["accepted"] == 3


def test_execution_time_limit(api: httpx.Client, dataverse: RunningDataverse) -> None:
    dataverse.admin.limits(window_s=60, max_execution_ms=30)
    dataverse.admin.knobs(latency_ms=40)
    assert api.get("WhoAmI").status_code == 200
    status, code, _ = _error(api.get("WhoAmI"))
    assert (status, code) == (429, "0x80072321")
