"""The emulator's authentication on the wire (docs/wire-notes.md C1, C2)."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from tests.support.creatio import (
    CLIENT_ID,
    CLIENT_SECRET,
    LOGIN,
    PASSWORD,
    USER,
    RunningCreatio,
    login,
)


def test_login_success_sets_the_documented_cookies(creatio: RunningCreatio) -> None:
    response = httpx.post(
        creatio.url + LOGIN,
        json={"UserName": USER, "UserPassword": PASSWORD},
        headers={"ForceUseSession": "true"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "Code": 0,
        "Message": "",
        "Exception": None,
        "PasswordChangeUrl": None,
        "RedirectUrl": None,
    }
    cookies = {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}
    assert {"BPMLOADER", ".ASPXAUTH", "BPMCSRF", "UserName"} <= set(cookies)
    assert "HttpOnly" in cookies[".ASPXAUTH"] and "HttpOnly" in cookies["UserName"]
    assert "HttpOnly" not in cookies["BPMCSRF"]  # scripts read it to copy it into the header
    # The user name as character codes joined by "|", with an expiry.
    assert re.match(
        r"UserName=83\|117\|112\|101\|114\|118\|105\|115\|111\|114;", cookies["UserName"]
    )
    assert "expires=" in cookies["UserName"]


def test_failed_login_is_http_200_with_code_1_and_no_cookies(creatio: RunningCreatio) -> None:
    response = httpx.post(creatio.url + LOGIN, json={"UserName": USER, "UserPassword": "wrong"})
    assert response.status_code == 200
    body = response.json()
    assert body["Code"] == 1 and body["Message"]
    assert set(body) == {"Code", "Message", "Exception", "PasswordChangeUrl", "RedirectUrl"}
    assert response.headers.get_list("set-cookie") == []
    unknown = httpx.post(creatio.url + LOGIN, json={"UserName": "nobody", "UserPassword": "x"})
    assert (unknown.status_code, unknown.json()["Code"]) == (200, 1)


def test_login_with_a_malformed_body_is_400(creatio: RunningCreatio) -> None:
    response = httpx.post(creatio.url + LOGIN, content=b"not json")
    assert response.status_code == 400


def test_data_calls_need_a_session(creatio: RunningCreatio) -> None:
    response = httpx.get(creatio.url + "/0/odata/Account")
    assert response.status_code == 401


def test_cookie_sessions_must_send_the_bpmcsrf_header(creatio: RunningCreatio) -> None:
    client = httpx.Client(base_url=creatio.url)
    login = client.post(LOGIN, json={"UserName": USER, "UserPassword": PASSWORD})
    csrf = login.cookies["BPMCSRF"]
    assert client.get("/0/odata/Account").status_code == 401  # cookies alone are refused
    assert client.get("/0/odata/Account", headers={"BPMCSRF": "forged"}).status_code == 401
    assert client.get("/0/odata/Account", headers={"BPMCSRF": csrf}).status_code == 200
    assert client.post("/0/odata/Account", json={"Name": "x"}).status_code == 401
    assert creatio.admin.stats()["writes"] == {}


def test_expired_sessions_answer_401_or_a_redirect_to_the_login_page(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    assert session.get("/0/odata/Account").status_code == 200
    creatio.admin.expire_sessions()
    assert session.get("/0/odata/Account").status_code == 401
    creatio.admin.options(expired_session="redirect")
    response = session.get("/0/odata/Account", params={"$top": "1"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/Login/NuiLogin.aspx?ReturnUrl=%2F0%2Fodata")


def test_sessions_slide_and_time_out(
    creatio: RunningCreatio, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [0.0]
    monkeypatch.setattr(creatio.emulator.identity, "clock", lambda: clock[0])
    creatio.admin.options(session_timeout_s=60)
    fresh, _ = login(creatio.url)
    try:
        clock[0] = 50
        assert fresh.get("/0/odata/Account").status_code == 200  # extends to 110
        clock[0] = 100
        assert fresh.get("/0/odata/Account").status_code == 200  # extends to 160
        clock[0] = 161
        assert fresh.get("/0/odata/Account").status_code == 401
    finally:
        fresh.close()


def test_token_endpoint_issues_bearer_tokens(creatio: RunningCreatio) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    response = httpx.post(creatio.url + "/connect/token", data=form)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert isinstance(body["access_token"], str) and len(body["access_token"]) > 20
    # Bearer calls need no cookies and no BPMCSRF.
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert httpx.get(creatio.url + "/0/odata/Account", headers=bearer).status_code == 200
    # client_secret_basic works too.
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    response = httpx.post(
        creatio.url + "/connect/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200


def test_token_endpoint_errors(creatio: RunningCreatio) -> None:
    bad = httpx.post(
        creatio.url + "/connect/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "no"},
    )
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid_client"})
    grant = httpx.post(
        creatio.url + "/connect/token",
        data={"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    assert (grant.status_code, grant.json()) == (400, {"error": "unsupported_grant_type"})


def test_invalid_or_expired_tokens_are_401_with_www_authenticate(creatio: RunningCreatio) -> None:
    bogus = httpx.get(creatio.url + "/0/odata/Account", headers={"Authorization": "Bearer nope"})
    assert bogus.status_code == 401
    assert bogus.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    token = httpx.post(
        creatio.url + "/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    ).json()["access_token"]
    creatio.admin.expire_tokens()
    expired = httpx.get(
        creatio.url + "/0/odata/Account", headers={"Authorization": f"Bearer {token}"}
    )
    assert expired.status_code == 401


def test_ping_needs_a_session(creatio: RunningCreatio, session: httpx.Client) -> None:
    assert httpx.get(creatio.url + "/0/ping").status_code == 401
    assert session.get("/0/ping").status_code == 200
