"""Notification tests against real parts: the session's Azurite, an aiosmtpd sink on a free
port (sandbox/mailsink.py), the emulators, and a starlette webhook receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.azurite import free_port
from sandbox.emulators.server import EmulatorServer
from sandbox.mailsink import MailSink
from shared.api.control import ControlApi
from shared.flows.definitions import FlowKind
from shared.notifications.monitor import Probe
from shared.runtime import Services
from shared.settings import Settings
from tests.support.creatio import creatio, creatio_server  # noqa: F401
from tests.support.dataverse import dataverse, dataverse_server  # noqa: F401
from tests.support.intacct import intacct, intacct_server  # noqa: F401

ADMIN, CC, BCC = "ops@example.com", "cfo@example.com", "audit@example.com"
HOSTING = "noc@host.example"
T0 = datetime(2026, 12, 5, 5, 0, tzinfo=UTC)

# Every system configured (the monitor checks only configured ones); the scripted checker or
# the emulators answer instead of real systems.
SYSTEMS = {
    "CREATIO_URL": "http://127.0.0.1:9",
    "CREATIO_USERNAME": "Supervisor",
    "CREATIO_PASSWORD": "creatio-Pa55word",
    "INTACCT_SENDER_ID": "S",
    "INTACCT_SENDER_PASSWORD": "intacct-sender-Pa55",
    "INTACCT_COMPANY_ID": "C",
    "INTACCT_USER_ID": "U",
    "INTACCT_USER_PASSWORD": "intacct-user-Pa55",
}


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    with MailSink(free_port(), directory=None) as sink:
        yield sink


def notify_settings(
    conn: str, prefix: str, smtp_port: int, drop: tuple[str, ...] = (), **extra: str
) -> Settings:
    values = {
        "AzureWebJobsStorage": conn,
        "SHUTTLE_TABLE_PREFIX": prefix,
        "SHUTTLE_SOLUTIONS": "creatio-intacct",
        "SHUTTLE_SMTP_HOST": "127.0.0.1",
        "SHUTTLE_SMTP_PORT": str(smtp_port),
        "SHUTTLE_SMTP_SECURITY": "none",
        "SHUTTLE_MAIL_FROM": "shuttle@example.com",
        "SHUTTLE_NOTIFY_MODE": "none",
        "SHUTTLE_ADMIN_EMAIL": ADMIN,
        **SYSTEMS,
        **extra,
    }
    return Settings.model_validate({k: v for k, v in values.items() if k not in drop})


MakeServices = Callable[..., Awaitable[Services]]


@pytest.fixture
async def make_services(
    storage_connection_string: str, table_prefix: str, mail_sink: MailSink
) -> AsyncIterator[MakeServices]:
    """Services (each a "host") on the session's Azurite and this test's tables; alert
    retries wait on a recorded no-op sleep instead of the clock."""
    built: list[Services] = []

    async def make(
        drop: tuple[str, ...] = (), notify: dict[str, Any] | None = None, **extra: str
    ) -> Services:
        """A host with app settings `extra` (less `drop`); `notify`: its notification
        settings, stored as PATCH /api/settings/notifications stores them."""
        settings = notify_settings(
            storage_connection_string, table_prefix, mail_sink.port, drop, **extra
        )
        services = await Services.create(settings)
        assert services.notifications is not None
        services.notifications.notifier.mailer.sleep = _no_wait
        services.notifications.notifier.webhooks.sleep = _no_wait
        built.append(services)
        if notify is not None:
            await services.notifications.patch_settings(json.dumps(notify).encode())
        return services

    yield make
    for services in built:
        await services.close()


def flows_of(services: Services, kind: FlowKind = FlowKind.SCHEDULED) -> list[str]:
    """The creatio-intacct flows of `kind`, in catalog order."""
    return [
        e.flow_id for e in services.catalog.in_solution("creatio-intacct") if e.flow.kind is kind
    ]


def status_api(services: Services) -> ControlApi:
    """The control API of /api/status, with the host's notifications."""
    return ControlApi(
        services.flows,
        services.settings,
        services.engine.outcomes,
        notifications=services.notifications,
    )


async def _no_wait(seconds: float) -> None:
    SLEEPS.append(seconds)


SLEEPS: list[float] = []


class Scripted:
    """A connection check that answers what the test scripts, per system (default ok)."""

    def __init__(self, **script: list[Probe]) -> None:
        self.script = script
        self.calls: list[str] = []

    async def __call__(self, system: str) -> Probe:
        self.calls.append(system)
        queue = self.script.get(system)
        return queue.pop(0) if queue else Probe(ok=True)


class WebhookReceiver:
    """A starlette app on a free port that keeps every JSON body posted to it, by path."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []

        async def receive(request: Request) -> JSONResponse:
            self.posts.append((request.url.path, json.loads(await request.body())))
            return JSONResponse({"ok": True})

        self.app = Starlette(routes=[Route("/{hook:path}", receive, methods=["POST"])])


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    receiver = WebhookReceiver()
    with EmulatorServer(receiver.app, name="webhook-receiver") as server:
        yield receiver, server.url
