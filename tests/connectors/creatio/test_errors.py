"""Every error shape Creatio answers with maps to Shuttle's category: real answers from the
emulator fed to the mapper, and the same failures met through the client's public calls."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from sandbox.azurite import free_port
from shared.connectors.creatio import CreatioClient
from shared.connectors.creatio.errors import error_from_response
from shared.connectors.errors import ConnectorError
from shared.connectors.retry import RetryPolicy
from shared.errors import ErrorCategory as C
from tests.support.creatio import RunningCreatio, config, login

Answer = Callable[[httpx.Client, RunningCreatio], httpx.Response]


def _duplicate(s: httpx.Client, c: RunningCreatio) -> httpx.Response:
    key = str(uuid.uuid4())
    s.post("/0/odata/Account", json={"Id": key, "Name": "a"})
    return s.post("/0/odata/Account", json={"Id": key, "Name": "b"})


def _throttled(s: httpx.Client, c: RunningCreatio) -> httpx.Response:
    c.admin.faults({"fault": "429", "retry_after": 3})
    return s.get("/0/odata/Account")


def _fault(status: int) -> Answer:
    def answer(s: httpx.Client, c: RunningCreatio) -> httpx.Response:
        c.admin.faults({"fault": "5xx", "status": status})
        return s.get("/0/odata/Account")

    return answer


CASES: list[tuple[str, Answer, C, str, str | None]] = [
    ("HttpError: duplicate key", _duplicate, C.DUPLICATE, "duplicate_key", None),
    (
        "HttpError: foreign key",
        lambda s, c: s.post("/0/odata/Contact", json={"Name": "x", "AccountId": str(uuid.uuid4())}),
        C.DEPENDENCY,
        "foreign_key",
        "AccountId",
    ),
    (
        "HttpError: truncation",
        lambda s, c: s.post("/0/odata/Account", json={"Name": "n" * 251}),
        C.VALIDATION,
        "value_too_long",
        "Name",
    ),
    ("HttpError: deadlock victim", _fault(500), C.CONNECTION, "server_error", None),
    (
        "OData error: required column",
        lambda s, c: s.post("/0/odata/Account", json={"Code": "x"}),
        C.VALIDATION,
        "invalid_request",
        "Name",
    ),
    (
        "OData error: unknown column",
        lambda s, c: s.get("/0/odata/Account", params={"$select": "Nope"}),
        C.VALIDATION,
        "invalid_request",
        "Nope",
    ),
    (
        "OData error: bad filter",
        lambda s, c: s.get("/0/odata/Account", params={"$filter": "Name eq"}),
        C.VALIDATION,
        "invalid_request",
        None,
    ),
    (
        "OData error: missing key",
        lambda s, c: s.get(f"/0/odata/Account({uuid.uuid4()})"),
        C.NOT_FOUND,
        "not_found",
        None,
    ),
    (
        "IIS HTML 404: unknown object",
        lambda s, c: s.get("/0/odata/Acount"),
        C.NOT_FOUND,
        "unknown_resource",
        None,
    ),
    ("routing 404", lambda s, c: s.get("/0/rest/Nothing"), C.NOT_FOUND, "unknown_resource", None),
    (
        "routing 405",
        lambda s, c: s.put(f"/0/odata/Account({uuid.uuid4()})", json={}),
        C.INTERNAL,
        "http_405",
        None,
    ),
    (
        "401 without a session",
        lambda s, c: httpx.get(c.url + "/0/odata/Account"),
        C.AUTH,
        "unauthorized",
        None,
    ),
    ("429 with Retry-After", _throttled, C.RATE_LIMIT, "rate_limited", None),
    ("503 HTML page", _fault(503), C.CONNECTION, "server_error", None),
    ("502 HTML page", _fault(502), C.CONNECTION, "server_error", None),
]


@pytest.mark.parametrize(
    ("answer", "category", "code", "field"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_documented_error_shape_maps_to_its_category(
    creatio: RunningCreatio, answer: Answer, category: C, code: str, field: str | None
) -> None:
    session, _ = login(creatio.url)
    try:
        response = answer(session, creatio)
    finally:
        session.close()
    assert response.status_code >= 400
    error = error_from_response(response, action="test call", record="r-1")
    assert (error.category, error.code, error.field) == (category, code, field)
    assert error.system == "creatio" and error.record == "r-1"
    assert error.message.startswith(f"test call: HTTP {response.status_code}: ")
    assert error.retryable is (category in (C.CONNECTION, C.RATE_LIMIT))
    if category is C.RATE_LIMIT:
        assert error.retry_after == 3.0


async def test_a_dangling_lookup_is_a_dependency_error_on_its_field(client: CreatioClient) -> None:
    with pytest.raises(ConnectorError) as raised:
        await client.create("Contact", {"Name": "Ann", "AccountId": uuid.uuid4()})
    assert (raised.value.category, raised.value.field) == (C.DEPENDENCY, "AccountId")
    assert "sync it first" in raised.value.message


async def test_a_too_long_value_is_a_validation_error_on_its_field(client: CreatioClient) -> None:
    created = await client.create("Account", {"Name": "ok"})
    with pytest.raises(ConnectorError) as raised:
        await client.update("Account", created.id, {"UsrErpFullName": "x" * 211})
    error = raised.value
    assert (error.category, error.field, error.record) == (
        C.VALIDATION,
        "UsrErpFullName",
        str(created.id),
    )
    assert "UsrErpFullName" in str(error) and str(created.id) in str(error)


async def test_a_throttle_that_outlasts_the_budget_is_a_rate_limit_error(
    creatio: RunningCreatio,
) -> None:
    creatio.admin.faults({"fault": "429", "retry_after": 2, "path": "/0/odata/*", "times": 10})
    policy = RetryPolicy(attempts=5, base_delay_s=0.01, total_s=1.0)
    async with CreatioClient(config(creatio.url, retry=policy)) as client:
        with pytest.raises(ConnectorError) as raised:
            await client.query("Account")
    assert (raised.value.category, raised.value.retry_after) == (C.RATE_LIMIT, 2.0)
    assert creatio.admin.calls("GET /0/odata/Account") == 1  # 2 s would pass the 1 s budget


@pytest.mark.parametrize(("fault", "code"), [("drop", "connection_lost"), ("timeout", "timeout")])
async def test_lost_connections_are_connection_errors_after_retries(
    creatio: RunningCreatio, fault: str, code: str
) -> None:
    creatio.admin.knobs(timeout_s=2)
    creatio.admin.faults({"fault": fault, "path": "/0/odata/Account", "times": 3})
    policy = RetryPolicy(attempts=3, base_delay_s=0.01, total_s=30)
    async with CreatioClient(config(creatio.url, retry=policy, timeout_s=0.3)) as client:
        with pytest.raises(ConnectorError) as raised:
            await client.query("Account")
    assert (raised.value.category, raised.value.code) == (C.CONNECTION, code)
    assert creatio.admin.calls("GET /0/odata/Account") == 3


async def test_an_unreachable_site_is_a_connection_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens
    policy = RetryPolicy(attempts=2, base_delay_s=0.01)
    async with CreatioClient(config(url, retry=policy)) as client:
        with pytest.raises(ConnectorError) as raised:
            await client.check()
    assert (raised.value.category, raised.value.code) == (C.CONNECTION, "connect_failed")
    assert "could not connect" in raised.value.message
