"""HTTP triggers through the in-process host: routing, request/response mapping, keys."""

from __future__ import annotations

import httpx
import pytest

from sandbox.host import HostError, LocalHost
from tests.sandbox.helpers import SAMPLE_APP, StartHost

HTTP_FUNCTIONS = (
    "echo",
    "get_item",
    "delete_item",
    "secure",
    "admin_stats",
    "boom",
    "health",
    "whoami",
)


@pytest.fixture(autouse=True)
def _no_local_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHUTTLE_LOCAL_KEY", raising=False)


async def test_request_round_trip(start_host: StartHost) -> None:
    host = await start_host(*HTTP_FUNCTIONS)
    async with httpx.AsyncClient(base_url=host.api_url) as client:
        response = await client.post(
            "/echo/42/a/b",
            params=[("x", "1"), ("y", "two words")],
            headers={"X-Sample": "hi"},
            content=b"payload",
        )
    assert response.status_code == 201
    assert response.headers["x-echo"] == "yes"
    assert response.headers["content-type"] == "application/json"
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["route_params"] == {"item_id": "42", "rest": "a/b"}
    assert seen["params"] == {"x": "1", "y": "two words"}
    assert seen["header"] == "hi"
    assert seen["body"] == "payload"
    assert seen["url"].startswith(f"{host.api_url}/echo/42/a/b?")


async def test_methods_dispatch_to_their_functions(start_host: StartHost) -> None:
    host = await start_host(*HTTP_FUNCTIONS)
    async with httpx.AsyncClient(base_url=host.api_url) as client:
        got = await client.get("/items/7")
        deleted = await client.delete("/items/7")
        posted = await client.post("/items/7")
        not_an_int = await client.get("/items/seven")
        unknown = await client.get("/nothing/here")
    assert got.json() == {"op": "get", "item_id": "7"}
    assert deleted.json() == {"op": "delete", "item_id": "7"}
    assert posted.status_code == 405
    assert posted.headers["allow"] == "DELETE, GET"
    assert not_an_int.status_code == 404  # {item_id:int} does not match
    assert unknown.status_code == 404


async def test_handler_exception_is_500_and_host_keeps_serving(start_host: StartHost) -> None:
    host = await start_host(*HTTP_FUNCTIONS)
    async with httpx.AsyncClient(base_url=host.api_url) as client:
        failed = await client.get("/boom")
        again = await client.get("/boom")
        healthy = await client.get("/health")
    assert failed.status_code == 500
    assert again.status_code == 500
    assert healthy.status_code == 200
    assert healthy.text == "ok"


async def test_context_parameter(start_host: StartHost) -> None:
    host = await start_host(*HTTP_FUNCTIONS)
    async with httpx.AsyncClient(base_url=host.api_url) as client:
        first = (await client.get("/whoami")).json()
        second = (await client.get("/whoami")).json()
    assert first["function"] == "whoami"
    assert first["invocation"] != second["invocation"]


async def test_any_key_accepted_without_local_key(start_host: StartHost) -> None:
    host = await start_host(*HTTP_FUNCTIONS)
    async with httpx.AsyncClient(base_url=host.api_url) as client:
        no_key = await client.get("/secure")
        some_key = await client.get("/secure", headers={"x-functions-key": "anything"})
        admin = await client.get("/admin/stats")
    assert (no_key.status_code, some_key.status_code, admin.status_code) == (200, 200, 200)


async def test_local_key_is_required_when_set(
    start_host: StartHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHUTTLE_LOCAL_KEY", "s3cret")
    host = await start_host(*HTTP_FUNCTIONS)
    async with httpx.AsyncClient(base_url=host.api_url) as client:
        missing = await client.get("/secure")
        wrong = await client.get("/secure", headers={"x-functions-key": "nope"})
        by_header = await client.get("/secure", headers={"x-functions-key": "s3cret"})
        by_query = await client.get("/secure", params={"code": "s3cret"})
        admin_missing = await client.get("/admin/stats")
        admin_ok = await client.get("/admin/stats", headers={"x-functions-key": "s3cret"})
        anonymous = await client.get("/health")
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert (by_header.status_code, by_query.status_code) == (200, 200)
    assert by_header.text == "secret"
    assert (admin_missing.status_code, admin_ok.status_code) == (401, 200)
    assert anonymous.status_code == 200


async def test_unknown_function_name_is_a_startup_error() -> None:
    host = LocalHost(SAMPLE_APP, port=0, functions=["no_such_function"])
    with pytest.raises(HostError, match="no_such_function"):
        await host.start()


async def test_port_in_use_is_a_clear_error(start_host: StartHost) -> None:
    first = await start_host("health")
    second = LocalHost(SAMPLE_APP, port=first.port, functions=["health"])
    with pytest.raises(HostError, match=f"port {first.port}"):
        await second.start()


async def test_disabled_function_is_not_served(
    start_host: StartHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AzureWebJobs.health.Disabled", "true")  # the real host's switch
    host = await start_host("health", "get_item")
    async with httpx.AsyncClient(base_url=host.api_url) as client:
        disabled = await client.get("/health")
        served = await client.get("/items/1")
    assert (disabled.status_code, served.status_code) == (404, 200)
