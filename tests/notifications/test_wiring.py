"""The notification timers as function_app registers them, their schedules, and the trigger
functions run against Azurite: a tick never raises, whatever the systems answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.functions.timer import TimerRequest

from functions import monitor, reports
from sandbox.host.schedule import CronSchedule, parse_schedule
from shared.runtime import Services
from shared.settings import Settings
from tests.support.app_env import app_services
from tests.unit.test_function_wiring import bindings


def test_timers_are_registered_with_their_schedules() -> None:
    found = bindings()  # get_functions() may run once per process: share its cached result
    assert found["connection_monitor"]["type"] == "timerTrigger"
    assert found["connection_monitor"]["schedule"] == "%SHUTTLE_CONNECTION_MONITOR_SCHEDULE%"
    assert found["daily_report"]["schedule"] == "0 * * * * *"


def test_the_default_monitor_schedule_is_every_five_minutes() -> None:
    schedule = parse_schedule(Settings.model_fields["connection_monitor_schedule"].default)
    assert isinstance(schedule, CronSchedule)
    start = datetime(2026, 12, 5, 10, 2, 30, tzinfo=UTC)
    first = schedule.next_after(start)
    assert first == datetime(2026, 12, 5, 10, 5, tzinfo=UTC)
    assert schedule.next_after(first) - first == timedelta(minutes=5)


@pytest.fixture
async def app_env(
    monkeypatch: pytest.MonkeyPatch, storage_connection_string: str, table_prefix: str
) -> AsyncIterator[Services]:
    settings = {
        "SHUTTLE_SOLUTIONS": "creatio-intacct",
        # Creatio configured at a closed port; Intacct not configured at all.
        "CREATIO_URL": "http://127.0.0.1:9",
        "CREATIO_USERNAME": "u",
        "CREATIO_PASSWORD": "p-secret",
        "SHUTTLE_SMTP_HOST": "127.0.0.1",
        "SHUTTLE_SMTP_PORT": "9",  # nothing listens: alerts fail
        "SHUTTLE_NOTIFY_MODE": "connection_failures",
        "SHUTTLE_ADMIN_EMAIL": "ops@example.com",
    }
    async with app_services(
        monkeypatch, storage_connection_string, table_prefix, settings
    ) as services:
        assert services.notifications
        services.notifications.notifier.mailer.sleep = _no_wait
        yield services


async def _no_wait(seconds: float) -> None:
    return None


def _timer() -> TimerRequest:
    return TimerRequest(past_due=False)


async def test_the_monitor_function_records_checks_and_never_raises(app_env: Services) -> None:
    await monitor.connection_monitor(_timer())  # Creatio down, SMTP down: no exception
    assert app_env.notifications
    checks = await app_env.notifications.store.checks()
    assert checks["creatio"].status == "failing"
    assert checks["intacct"].status == "unchecked"
    assert checks["storage"].status == "ok"
    (failed,) = await app_env.notifications.store.failures()
    assert failed.event == "connection|creatio|1|failed" and failed.channel == "email"


async def test_the_report_function_runs_without_a_daily_mode(app_env: Services) -> None:
    await reports.daily_report(_timer())  # connection_failures has no daily report
    assert app_env.notifications
    assert await app_env.notifications.store.failures() == []
