"""A real Creatio emulator on a free 127.0.0.1 port, and a client for its admin API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from sandbox.emulators.creatio import CreatioEmulator, Options, create_app
from sandbox.emulators.server import EmulatorServer
from shared.connectors.creatio import CreatioConfig
from shared.connectors.retry import RetryPolicy
from tests.support.emulator_admin import EmulatorAdmin
from tests.support.polling import eventually  # noqa: F401  (re-exported for tests)

USER, PASSWORD = "Supervisor", "Supervisor"
CLIENT_ID, CLIENT_SECRET = "shuttle-sandbox", "sandbox-client-secret"
LOGIN = "/ServiceModel/AuthService.svc/Login"
T = TypeVar("T")


class Admin(EmulatorAdmin):
    """The Creatio emulator's admin API: besides the common routes, counters by route, lookups
    and OAuth tokens."""

    def calls(self, key: str) -> int:
        return int(self.stats()["calls"].get(key, 0))

    def writes(self, key: str) -> int:
        return int(self.stats()["writes"].get(key, 0))

    def lookups(self) -> dict[str, dict[str, str]]:
        return self._ok(self.http.get("/lookups"))  # type: ignore[no-any-return]

    def expire_tokens(self) -> int:
        return int(self._ok(self.http.post("/tokens/expire"))["expired"])


@dataclass
class RunningCreatio:
    emulator: CreatioEmulator
    server: EmulatorServer
    admin: Admin

    @property
    def url(self) -> str:
        return self.server.url

    def rows(self, entity: str) -> list[dict[str, Any]]:
        """The emulator's table (read after the calls under test have finished)."""
        return list(self.emulator.store.tables[entity].values())


@contextmanager
def running_creatio(
    options: Options | None = None, seed: int | None = 7
) -> Iterator[RunningCreatio]:
    emulator = create_app(options, seed=seed)
    with EmulatorServer(emulator.asgi, name="creatio-emulator-test") as server:
        admin = Admin(server.url)
        try:
            yield RunningCreatio(emulator, server, admin)
        finally:
            admin.close()


FAST_RETRY = RetryPolicy(attempts=6, base_delay_s=0.02, max_delay_s=0.5, total_s=30.0)


def config(url: str, auth: str = "forms", **overrides: Any) -> CreatioConfig:
    values: dict[str, Any] = {
        "url": url,
        "auth": auth,
        "username": USER,
        "password": PASSWORD,
        "identity_url": url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "timeout_s": 5.0,
        "retry": FAST_RETRY,
        **overrides,
    }
    return CreatioConfig(**values)


def login(url: str) -> tuple[httpx.Client, str]:
    """A raw cookie session (for wire tests): the client and the BPMCSRF value."""
    client = httpx.Client(base_url=url, timeout=10)
    response = client.post(LOGIN, json={"UserName": USER, "UserPassword": PASSWORD})
    assert response.json()["Code"] == 0
    csrf = response.cookies["BPMCSRF"]
    client.headers["BPMCSRF"] = csrf
    return client, csrf


# -- pytest fixtures (imported by the conftests that use them) --------------------------------
@pytest.fixture(scope="session")
def creatio_server() -> Iterator[RunningCreatio]:
    """One emulator for the whole session (starting one per test costs more than the test)."""
    with running_creatio() as running:
        yield running


@pytest.fixture
def creatio(creatio_server: RunningCreatio) -> RunningCreatio:
    """The session's emulator, reset: no data but the standard rows, default options and
    knobs, no faults, no sessions, zero counts."""
    creatio_server.admin.reset()
    return creatio_server


@pytest.fixture
def session(creatio: RunningCreatio) -> Iterator[httpx.Client]:
    """A logged-in raw HTTP session with the BPMCSRF header set."""
    client, _ = login(creatio.url)
    try:
        yield client
    finally:
        client.close()
