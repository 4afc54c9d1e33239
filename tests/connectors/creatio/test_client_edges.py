"""Client edge cases the emulator does not produce, on httpx.MockTransport: odd login and
token answers, a session refused right after login, hostile or broken answers."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable

import httpx
import pytest

from shared.connectors.creatio import CreatioClient
from shared.connectors.errors import ConnectorError
from shared.connectors.retry import RetryPolicy, retry_after_seconds
from shared.errors import ErrorCategory as C
from tests.support.creatio import config

URL = "http://creatio.test"
LOGIN = f"{URL}/ServiceModel/AuthService.svc/Login"
OK_LOGIN = {
    "Code": 0,
    "Message": "",
    "Exception": None,
    "PasswordChangeUrl": None,
    "RedirectUrl": None,
}
SESSION = [("set-cookie", ".ASPXAUTH=abc; path=/; HttpOnly"), ("set-cookie", "BPMCSRF=tok; path=/")]
QUICK = RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.01)

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def count(self, url_prefix: str) -> int:
        return sum(1 for r in self.requests if str(r.url).startswith(url_prefix))


def _client(
    handler: Handler, auth: str = "forms", **overrides: object
) -> tuple[CreatioClient, Recorder]:
    recorder = Recorder(handler)
    cfg = config(URL, auth, retry=QUICK, **overrides)
    return CreatioClient(cfg, transport=httpx.MockTransport(recorder)), recorder


def _odata(body: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def _logged_in(data: Handler) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == LOGIN:
            return httpx.Response(200, json=OK_LOGIN, headers=SESSION)
        return data(request)

    return handler


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (httpx.Response(200, text="<html>login page</html>"), "login_unreadable"),
        (httpx.Response(200, json=OK_LOGIN), "login_no_session"),
        (httpx.Response(404, text="<html>not found</html>"), "login_not_found"),
        (httpx.Response(403, text=""), "forbidden"),
        (
            httpx.Response(
                200,
                json={
                    **OK_LOGIN,
                    "Code": 1,
                    "Message": "Password expired",
                    "PasswordChangeUrl": "/pwd",
                },
            ),
            "login_failed",
        ),
    ],
)
async def test_odd_login_answers_are_auth_errors(answer: httpx.Response, code: str) -> None:
    client, recorder = _client(lambda request: answer)
    async with client:
        with pytest.raises(ConnectorError) as raised:
            await client.query("Account")
    assert (raised.value.category, raised.value.code) == (C.AUTH, code)
    assert recorder.count(LOGIN) == 1  # auth errors are not retried
    if code == "login_failed":
        assert "password has expired" in raised.value.message


async def test_a_login_that_fails_transiently_is_retried() -> None:
    answers = iter([httpx.Response(503, text="busy")])

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == LOGIN:
            return next(answers, httpx.Response(200, json=OK_LOGIN, headers=SESSION))
        assert request.headers["BPMCSRF"] == "tok"
        assert "ASPXAUTH=abc" in request.headers["Cookie"]
        return _odata({"value": []})

    client, recorder = _client(handler)
    async with client:
        assert await client.query("Account") == []
    assert recorder.count(LOGIN) == 2


async def test_a_session_refused_right_after_a_fresh_login_is_an_auth_error() -> None:
    client, recorder = _client(_logged_in(lambda request: httpx.Response(401)))
    async with client:
        with pytest.raises(ConnectorError) as raised:
            await client.query("Account")
    assert (raised.value.category, raised.value.code) == (C.AUTH, "session_rejected")
    assert recorder.count(LOGIN) == 2  # one login, one re-login, then give up


async def test_renewed_session_cookies_are_kept() -> None:
    seen: list[str] = []

    def data(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Cookie"])
        return httpx.Response(
            200, json={"value": []}, headers=[("set-cookie", ".ASPXAUTH=renewed; path=/")]
        )

    client, _ = _client(_logged_in(data))
    async with client:
        await client.query("Account")
        await client.query("Account")
    assert ".ASPXAUTH=abc" in seen[0] and ".ASPXAUTH=renewed" in seen[1]


async def test_token_refresh_margin_is_at_most_a_tenth_of_a_short_lifetime() -> None:
    now = [0.0]
    tokens = iter(f"t{i}" for i in range(10))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/connect/token":
            form = dict(x.split("=") for x in request.content.decode().split("&"))
            assert form["grant_type"] == "client_credentials"
            return _odata({"access_token": next(tokens), "expires_in": 100})
        assert "Cookie" not in request.headers and "BPMCSRF" not in request.headers
        return _odata({"value": [], "auth": request.headers["Authorization"]})

    recorder = Recorder(handler)
    cfg = config(URL, "oauth", retry=QUICK)
    async with CreatioClient(
        cfg, transport=httpx.MockTransport(recorder), clock=lambda: now[0]
    ) as client:
        await client.query("Account")
        now[0] = 89.0
        await client.query("Account")
        now[0] = 91.0  # within 10 s (a tenth of 100 s) of expiry
        await client.query("Account")
    auths = [
        r.headers.get("Authorization") for r in recorder.requests if r.url.path != "/connect/token"
    ]
    assert auths == ["Bearer t0", "Bearer t0", "Bearer t1"]


async def test_a_token_answer_without_a_token_is_an_auth_error() -> None:
    client, _ = _client(lambda request: _odata({"token_type": "Bearer"}), "oauth")
    async with client:
        with pytest.raises(ConnectorError) as raised:
            await client.check()
    assert (raised.value.category, raised.value.code) == (C.AUTH, "token_unreadable")


async def test_a_next_link_to_another_site_is_never_followed() -> None:
    def data(request: httpx.Request) -> httpx.Response:
        if "$orderby=ModifiedOn%20desc" in str(request.url):
            return _odata({"value": [{"ModifiedOn": "2024-05-01T00:00:00Z"}]})
        return _odata(
            {
                "value": [
                    {
                        "Id": "11111111-1111-4111-8111-111111111111",
                        "ModifiedOn": "2024-05-01T00:00:00Z",
                    }
                ],
                "@odata.nextLink": "http://evil.test/0/odata/Account?$skiptoken=x",
            }
        )

    client, recorder = _client(_logged_in(data))
    async with client:
        cursor = await client.open_changes("Account", "2024-01-01T00:00:00Z")
        with pytest.raises(ConnectorError) as raised:
            await client.read_page(cursor)
    assert raised.value.category is C.INTERNAL
    assert not any(r.url.host == "evil.test" for r in recorder.requests)


async def test_a_modified_on_that_is_not_a_timestamp_never_reaches_a_filter() -> None:
    def data(request: httpx.Request) -> httpx.Response:
        return _odata(
            {"value": [{"Id": "11111111-1111-4111-8111-111111111111", "ModifiedOn": "x or 1 eq 1"}]}
        )

    client, _ = _client(_logged_in(data))
    async with client:
        with pytest.raises(ConnectorError) as raised:
            await client.open_changes("Account", "2024-01-01T00:00:00Z")
    assert raised.value.category is C.INTERNAL


async def test_the_same_page_twice_stops_the_read() -> None:
    row = {"Id": "11111111-1111-4111-8111-111111111111", "ModifiedOn": "2024-05-01T00:00:00Z"}
    client, _ = _client(_logged_in(lambda request: _odata({"value": [row]})))
    async with client:
        cursor = await client.open_changes("Account", "2024-01-01T00:00:00Z", page_size=1)
        page = await client.read_page(cursor)
        assert page.next is not None
        with pytest.raises(ConnectorError) as raised:
            await client.read_page(page.next)
    assert "same page" in raised.value.message


async def test_answers_that_are_not_json_are_internal_errors() -> None:
    client, _ = _client(_logged_in(lambda request: httpx.Response(200, text="<html/>")))
    async with client:
        with pytest.raises(ConnectorError) as raised:
            await client.query("Account")
    assert (raised.value.category, raised.value.code) == (C.INTERNAL, "bad_answer")


async def test_a_batch_answer_without_responses_fails_each_operation() -> None:
    client, _ = _client(_logged_in(lambda request: _odata({"unexpected": True})))
    async with client:
        outcomes = await client.create_many("Account", [(None, {"Name": "a"})] * 3)
    assert [o.error.category if o.error else None for o in outcomes] == [C.INTERNAL] * 3


async def test_batch_requests_not_executed_are_sent_again() -> None:
    calls: list[list[dict]] = []

    def data(request: httpx.Request) -> httpx.Response:
        requests = json.loads(request.content)["requests"]
        calls.append(requests)
        assert request.headers["Prefer"] == "continue-on-error"
        if len(calls) == 1:  # the server stopped after the first request
            return _odata({"responses": [{"id": "1", "status": 201, "body": {"Id": "x"}}]})
        return _odata({"responses": [{"id": r["id"], "status": 201, "body": {}} for r in requests]})

    client, _ = _client(_logged_in(data))
    async with client:
        outcomes = await client.create_many(
            "Account", [(None, {"Name": f"n{i}"}) for i in range(3)]
        )
    assert all(o.ok for o in outcomes)
    assert [len(c) for c in calls] == [3, 2]


def test_retry_after_as_seconds_or_http_date() -> None:
    assert retry_after_seconds("7") == 7.0
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after_seconds(when)
    assert seconds is not None and 25 <= seconds <= 31
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


async def test_bad_names_and_values_are_validation_errors_before_any_call() -> None:
    def data(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("$batch"):
            sent = json.loads(request.content)["requests"]
            return _odata({"responses": [{"id": r["id"], "status": 201} for r in sent]})
        return _odata({"value": []})

    client, recorder = _client(_logged_in(data))
    async with client:
        for call in (
            client.query("Account; DROP"),
            client.find("Account", {"Name) or (1": "x"}),
            client.create("Account", {"Name": object()}),
            client.create("Account", {"Name": "x", "UsrArOver30": float("nan")}),
            client.get("Account", "not-a-guid"),  # type: ignore[arg-type]
            client.open_changes("Account", "yesterday"),
        ):
            with pytest.raises(ConnectorError) as raised:
                await call
            assert raised.value.category is C.VALIDATION, raised.value
        outcomes = await client.create_many(
            "Account", [(None, {"Name": object()}), (None, {"Name": "ok"})]
        )
    assert [o.error.category if o.error else None for o in outcomes] == [C.VALIDATION, None]
    batches = [json.loads(r.content) for r in recorder.requests if r.url.path.endswith("$batch")]
    assert [len(b["requests"]) for b in batches] == [1]  # only the good record was sent
