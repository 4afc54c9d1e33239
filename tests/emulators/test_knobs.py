"""The shared fault layer: throttling, scripted and random faults, latency, accounting and
the admin API — over real HTTP against the Creatio emulator, and in-process where only the
injected sleep can show what happened."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.emulators.knobs import FaultLayer
from tests.support.creatio import RunningCreatio, creatio, creatio_server, login, session

__all__ = ["creatio", "creatio_server", "session"]


def test_rate_limit_answers_429_with_retry_after(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    creatio.admin.knobs(rate_limit_per_s=1, rate_limit_burst=3)
    statuses = [session.get("/0/odata/Account").status_code for _ in range(6)]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
    throttled = session.get("/0/odata/Account")
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert throttled.json() == {"Message": "Too many requests."}
    assert creatio.admin.stats()["throttled"] >= 2


def test_scripted_faults_hit_only_matching_calls_the_given_number_of_times(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    creatio.admin.faults(
        {"fault": "5xx", "method": "GET", "path": "/0/odata/Account*", "times": 2, "status": 502}
    )
    assert session.get("/0/odata/Contact").status_code == 200  # does not match
    first, second, third = (session.get("/0/odata/Account") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (502, 502, 200)
    assert first.headers["content-type"].startswith("text/html")
    creatio.admin.faults({"fault": "5xx", "status": 500})
    deadlock = session.get("/0/odata/Account")
    assert deadlock.status_code == 500 and "deadlock" in deadlock.json()["ExceptionMessage"]
    creatio.admin.faults({"fault": "429", "retry_after": 4})
    limited = session.get("/0/odata/Account")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "4")


def test_drop_loses_the_request_and_drop_after_loses_only_the_answer(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    creatio.admin.faults({"fault": "drop", "method": "POST"})
    with pytest.raises(httpx.TransportError):
        session.post("/0/odata/Account", json={"Name": "never"})
    assert creatio.admin.stats()["writes"] == {}
    creatio.admin.faults({"fault": "drop_after", "method": "POST"})
    with pytest.raises(httpx.TransportError):
        session.post("/0/odata/Account", json={"Name": "committed"})
    assert creatio.admin.writes("create Account") == 1  # it happened; the client cannot know
    names = [r["Name"] for r in session.get("/0/odata/Account").json()["value"]]
    assert names == ["committed"]


def test_timeout_holds_the_answer_after_committing(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    creatio.admin.knobs(timeout_s=5)
    creatio.admin.faults({"fault": "timeout", "method": "POST"})
    with pytest.raises(httpx.TimeoutException):
        session.post("/0/odata/Account", json={"Name": "slow"}, timeout=0.3)
    assert creatio.admin.writes("create Account") == 1


def test_failing_share_fails_about_that_share(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    creatio.admin.knobs(fail_rate=1.0, fail_modes={"5xx": 1}, error_status=503, seed=1)
    assert {session.get("/0/odata/Account").status_code for _ in range(5)} == {503}
    creatio.admin.knobs(fail_rate=0.3, seed=42)
    statuses = [session.get("/0/odata/Account").status_code for _ in range(200)]
    failed = statuses.count(503)
    assert 30 <= failed <= 90 and set(statuses) == {200, 503}


def test_calls_are_counted_by_method_and_normalised_path(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    creatio.admin.clear_calls()
    created = session.post("/0/odata/Account", json={"Name": "a"}).json()
    session.get(f"/0/odata/Account({created['Id']})")
    session.patch(f"/0/odata/Account({created['Id']})", json={"Name": "b"})
    session.get("/0/odata/Account", params={"$filter": "Name eq 'b'"})
    stats = creatio.admin.stats()
    assert stats["calls"] == {
        "POST /0/odata/Account": 1,
        "GET /0/odata/Account({id})": 1,
        "PATCH /0/odata/Account({id})": 1,
        "GET /0/odata/Account": 1,
    }
    assert stats["statuses"]["PATCH /0/odata/Account({id}) 204"] == 1
    journal = creatio.admin.requests()
    assert json.loads(journal[2]["body"]) == {"Name": "b"}
    assert "Name%20eq%20%27b%27" in journal[3]["query"] or "Name+eq+%27b%27" in journal[3]["query"]


def test_admin_calls_are_never_counted_throttled_or_failed(creatio: RunningCreatio) -> None:
    creatio.admin.knobs(fail_rate=1.0, rate_limit_per_s=0.001, rate_limit_burst=1)
    for _ in range(5):
        creatio.admin.stats()
    assert creatio.admin.stats()["calls"] == {}


def test_bad_knobs_are_refused(creatio: RunningCreatio) -> None:
    response = creatio.admin.http.put("/knobs", json={"fail_rate": 2})
    assert response.status_code == 422
    response = creatio.admin.http.post("/faults", json={"fault": "explode"})
    assert response.status_code == 422


def test_reset_restores_data_knobs_and_counts(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    session.post("/0/odata/Account", json={"Name": "a"})
    creatio.admin.knobs(latency_ms=5)
    creatio.admin.options(max_rows=3)
    creatio.admin.reset()
    assert creatio.admin.http.get("/knobs").json()["latency_ms"] == 0
    assert creatio.admin.options()["max_rows"] == 20000
    assert creatio.admin.stats()["calls"] == {}
    fresh, _ = login(creatio.url)
    try:
        assert fresh.get("/0/odata/Account").json()["value"] == []
    finally:
        fresh.close()
    assert session.get("/0/odata/Account").status_code == 401  # sessions are gone too


def test_bulk_seed_keeps_given_ids_and_timestamps(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    stamp = "2023-01-02T03:04:05.1234567Z"
    counts = creatio.admin.seed(
        {
            "Account": [
                {
                    "Id": "44444444-4444-4444-8444-444444444444",
                    "Name": "S",
                    "ModifiedOn": stamp,
                    "CreatedOn": "2020-01-01T00:00:00Z",
                }
            ],
            "Product": [{"Name": f"p{i}"} for i in range(50)],
        }
    )
    assert counts == {"Account": 1, "Product": 50}
    row = session.get("/0/odata/Account(44444444-4444-4444-8444-444444444444)").json()
    assert (row["ModifiedOn"], row["CreatedOn"]) == (stamp, "2020-01-01T00:00:00Z")
    assert creatio.admin.http.post("/seed", json={"Nope": []}).status_code == 422


def test_max_in_flight_is_tracked(creatio: RunningCreatio) -> None:
    creatio.admin.knobs(latency_ms=150)

    async def burst() -> None:
        client, csrf = login(creatio.url)
        cookies = dict(client.cookies)
        client.close()
        async with httpx.AsyncClient(
            base_url=creatio.url, cookies=cookies, headers={"BPMCSRF": csrf}
        ) as http:
            await asyncio.gather(*(http.get("/0/odata/Account") for _ in range(6)))

    asyncio.run(burst())
    assert creatio.admin.stats()["max_in_flight"] >= 2  # they overlapped in the emulator


async def test_latency_is_added_before_the_app_runs() -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    async def hello(request: object) -> Response:
        return PlainTextResponse("hi")

    layer = FaultLayer(
        Starlette(routes=[Route("/hello", hello)]),
        render_error=lambda status, message, headers: JSONResponse({"m": message}, status),
        sleep=record,
    )
    layer.state.knobs = layer.state.knobs.model_copy(update={"latency_ms": 250})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=layer), base_url="http://emulator"
    ) as http:
        assert (await http.get("/hello")).text == "hi"
        assert slept == [0.25]
        knobs = await http.put("/_emulator/knobs", json={"latency_ms": 0, "latency_jitter_ms": 0})
        assert knobs.status_code == 200
        await http.get("/hello")
    assert slept == [0.25]
