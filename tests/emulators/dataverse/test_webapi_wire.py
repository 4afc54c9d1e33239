"""The Dataverse emulator's wire behaviour, pinned to docs/wire-notes.md D1-D6."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from urllib.parse import unquote

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.dataverse import RunningDataverse, trust
from tests.support.polling import eventually

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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_not_signed_by_the_identity_provider_is_401(dataverse: RunningDataverse) -> None:
    token = dataverse.token()
    assert dataverse.http(token).get("WhoAmI").status_code == 200
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered = f"{header}.{_b64(json.dumps({**claims, 'oid': str(uuid.uuid4())}).encode())}"
    assert dataverse.http(f"{tampered}.{signature}").get("WhoAmI").status_code == 401
    # Signed by another key that claims the provider's key id.
    intruder = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = jwt.get_unverified_header(token)["kid"]
    forged = jwt.encode(claims, intruder, algorithm="RS256", headers={"kid": kid})
    assert dataverse.http(forged).get("WhoAmI").status_code == 401


async def test_a_token_is_refused_once_its_lifetime_is_over(dataverse: RunningDataverse) -> None:
    dataverse.identity_admin.options(token_lifetime_s=2)
    token = dataverse.token()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 2
    api = dataverse.http(token)
    assert api.get("WhoAmI").status_code == 200
    await eventually(
        lambda: api.get("WhoAmI").status_code,
        until=lambda s: s == 401,
        timeout=10,
        what="the expired token to be refused",
    )


def test_create_answers_204_with_odata_entityid(api: httpx.Client) -> None:
    response = api.post("accounts", json={"name": "Acme"})
    assert response.status_code == 204 and response.content == b""
    assert GUID.search(response.headers["OData-EntityId"])
    assert response.headers["OData-Version"] == "4.0"


def test_return_representation_answers_201_with_the_row(api: httpx.Client) -> None:
    response = api.post(
        "accounts?$select=name",
        json={"name": "Acme"},
        headers={"Prefer": "return=representation"},
    )
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


def test_conditional_get_answers_304_while_unchanged(api: httpx.Client) -> None:
    url = GUID.search(api.post("accounts", json={"name": "A"}).headers["OData-EntityId"])
    assert url
    first = api.get(f"accounts({url.group(1)})", headers={"If-None-Match": "null"})
    etag = first.headers["ETag"]
    assert first.status_code == 200 and first.json()["@odata.etag"] == etag
    same = api.get(f"accounts({url.group(1)})", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    api.patch(f"accounts({url.group(1)})", json={"name": "B"})
    changed = api.get(f"accounts({url.group(1)})", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["name"] == "B"


def test_option_set_date_and_length_validation(api: httpx.Client) -> None:
    status, code, message = _error(api.post("accounts", json={"accountcategorycode": 99}))
    assert (status, code) == (400, "0x8004431A")
    assert message == (
        "A validation error occurred. The value 99 of 'accountcategorycode' on record of type "
        "'account' is outside the valid range. Accepted Values: 1,2"
    )
    assert _error(api.post("invoices", json={"duedate": "2024-05-01T10:00:00Z"}))[:2] == (
        400,
        "0x80060888",
    )
    assert api.post("invoices", json={"duedate": "2024-05-01"}).status_code == 204
    assert _error(api.post("accounts", json={"accountnumber": "x" * 21})) == (
        400,
        "0x80044331",
        "A validation error occurred.  The length of the 'accountnumber' attribute of the "
        "'account' entity exceeded the maximum allowed length of '20'.",
    )
    assert _error(api.post("contacts", json={"birthdate": 20240501}))[2] == (
        "Cannot convert the literal '20240501' to the expected type 'Edm.Date'."
    )


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
        assert link.startswith(f"{dataverse.url}/api/data/v9.2/accounts?")  # absolute
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
        {
            "account": [
                {"name": "O'Brien", "modifiedon": "2024-05-01T10:00:00Z"},
                {"name": "Other", "modifiedon": "2024-05-02T10:00:00Z"},
            ]
        }
    )

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


async def test_the_concurrency_limit_answers_429(dataverse: RunningDataverse) -> None:
    dataverse.admin.limits(max_concurrent=1)
    dataverse.admin.knobs(latency_ms=300)  # the first call holds the only slot meanwhile
    headers = {"Authorization": f"Bearer {dataverse.token()}", "Accept": "application/json"}
    async with httpx.AsyncClient(
        base_url=f"{dataverse.url}/api/data/v9.2/", verify=trust(dataverse.ca), headers=headers
    ) as http:
        answers = await asyncio.gather(http.get("WhoAmI"), http.get("WhoAmI"))
    assert sorted(a.status_code for a in answers) == [200, 429]
    refused = next(a for a in answers if a.status_code == 429)
    assert _error(refused) == (
        429,
        "0x80072326",
        "Number of concurrent requests exceeded the limit of 1.",
    )
    assert refused.headers["Retry-After"] == "1"
    assert dataverse.admin.stats()["protection"]["throttled"] == {"concurrency": 1}


async def test_the_request_window_slides(api: httpx.Client, dataverse: RunningDataverse) -> None:
    dataverse.admin.limits(window_s=1, max_requests=2)
    assert [api.get("WhoAmI").status_code for _ in range(3)] == [200, 200, 429]
    # Refused calls are not counted: once the first two age out, calls go through again.
    await eventually(
        lambda: api.get("WhoAmI").status_code,
        until=lambda s: s == 200,
        timeout=10,
        what="the window to make room",
    )


def test_execution_time_limit(api: httpx.Client, dataverse: RunningDataverse) -> None:
    dataverse.admin.limits(window_s=60, max_execution_ms=30)
    dataverse.admin.knobs(latency_ms=40)
    assert api.get("WhoAmI").status_code == 200
    status, code, _ = _error(api.get("WhoAmI"))
    assert (status, code) == (429, "0x80072321")


def test_change_tracking_gives_a_delta_link_and_deleted_entities(
    api: httpx.Client, dataverse: RunningDataverse
) -> None:
    kept, gone = (
        GUID.search(api.post("accounts", json={"name": n}).headers["OData-EntityId"])
        for n in ("kept", "gone")
    )
    assert kept and gone
    track = {"Prefer": "odata.track-changes"}
    first = api.get("accounts?$select=name", headers=track)
    body = first.json()
    assert first.status_code == 200 and "odata.track-changes" in first.headers["Preference-Applied"]
    assert body["@odata.context"].endswith("$metadata#accounts(name)/$delta")
    assert sorted(r["name"] for r in body["value"]) == ["gone", "kept"]
    link = body["@odata.deltaLink"]
    assert link.startswith(f"{dataverse.url}/api/data/v9.2/accounts?$select=name&$deltatoken=")
    token = unquote(link.split("$deltatoken=")[1])
    assert re.fullmatch(r"\d+!\d\d/\d\d/\d{4} \d\d:\d\d:\d\d", token)
    assert api.delete(f"accounts({gone.group(1)})").status_code == 204
    api.patch(f"accounts({kept.group(1)})", json={"name": "kept 2"})
    delta = api.get(link, headers=track).json()
    assert delta["value"] == [
        {
            "@odata.context": f"{dataverse.url}/api/data/v9.2/$metadata#accounts/$deletedEntity",
            "id": gone.group(1),
            "reason": "deleted",
        },
        {**delta["value"][1], "name": "kept 2", "accountid": kept.group(1)},
    ]
    assert api.get(delta["@odata.deltaLink"], headers=track).json()["value"] == []


def test_change_tracking_refuses_what_dataverse_does_not_allow(api: httpx.Client) -> None:
    track = {"Prefer": "odata.track-changes"}
    for query in ("$filter=name eq 'x'", "$orderby=name", "$top=1"):
        assert api.get(f"accounts?{query}", headers=track).status_code == 400, query
    expired = api.get("accounts", params={"$deltatoken": "1000!01/01/2020 00:00:00"})
    assert expired.status_code == 400 and "expired" in expired.json()["error"]["message"]
    assert api.get("accounts", params={"$deltatoken": "nonsense"}).status_code == 400
