"""GET / PATCH /api/settings/notifications through the registered functions (azure.functions
request objects, no host) on Azurite: defaults from the app settings, stored changes, and a
422 naming the field for every bad value."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import azure.functions as func
import pytest

from functions import control
from shared.runtime import Services, reset_services
from tests.support.app_env import app_services

URL = "/api/settings/notifications"


@pytest.fixture
async def app_env(
    monkeypatch: pytest.MonkeyPatch, storage_connection_string: str, table_prefix: str
) -> AsyncIterator[Services]:
    settings = {"SHUTTLE_NOTIFY_MODE": "error_daily", "SHUTTLE_ADMIN_EMAIL": "admin@example.com"}
    async with app_services(
        monkeypatch, storage_connection_string, table_prefix, settings
    ) as services:
        yield services


def patch(body: object) -> func.HttpRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return func.HttpRequest("PATCH", URL, body=raw, route_params={}, params={})


async def test_defaults_come_from_the_app_settings(app_env: Services) -> None:
    resp = await control.get_notification_settings(
        func.HttpRequest("GET", URL, body=b"", route_params={}, params={})
    )
    assert resp.status_code == 200
    assert json.loads(resp.get_body()) == {
        "mode": "error_daily",
        "use_admin_email": True,
        "admin_email": "admin@example.com",
        "cc": [],
        "bcc": [],
        "hosting_provider": [],
        "daily_report_at": "07:00:00",
        "time_zone": "UTC",
        "webhooks": [],
    }


async def test_patch_changes_only_the_given_fields_and_is_stored(app_env: Services) -> None:
    body = {
        "mode": "every_error",
        "cc": ["a@example.com", "b@example.org"],
        "daily_report_at": "23:59:59",
        "time_zone": "America/New_York",
        "webhooks": [{"url": "https://hooks.slack.com/services/T/B/X", "format": "slack"}],
    }
    resp = await control.patch_notification_settings(patch(body))
    assert resp.status_code == 200, resp.get_body()
    await reset_services()  # another worker reads what was stored
    resp = await control.get_notification_settings(
        func.HttpRequest("GET", URL, body=b"", route_params={}, params={})
    )
    got = json.loads(resp.get_body())
    assert {k: got[k] for k in body} == body
    assert got["admin_email"] == "admin@example.com"  # untouched
    resp = await control.patch_notification_settings(patch({"admin_email": None}))
    assert json.loads(resp.get_body())["admin_email"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"admin_email": "not-an-address"}, "admin_email"),
        ({"cc": ["ok@example.com", "two@@example.com"]}, "cc.1"),
        ({"bcc": ["a@example.com, b@example.com"]}, "bcc.0"),
        ({"hosting_provider": ["noc@example.com\r\nBcc: x@evil.example"]}, "hosting_provider.0"),
        ({"daily_report_at": "25:00:00"}, "daily_report_at"),
        ({"daily_report_at": "7:00"}, "daily_report_at"),
        ({"mode": "sometimes"}, "mode"),
        ({"mode": None}, "mode"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"use_admin_email": "yes"}, "use_admin_email"),
        ({"cc": "a@example.com"}, "cc"),
        ({"webhooks": [{"url": "ftp://example.com/x", "format": "slack"}]}, "webhooks.0.url"),
        (
            {"webhooks": [{"url": "https://example.com/x", "format": "discord"}]},
            "webhooks.0.format",
        ),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_bad_values_are_422_naming_the_field(
    app_env: Services, body: dict, field: str
) -> None:
    resp = await control.patch_notification_settings(patch(body))
    assert resp.status_code == 422, resp.get_body()
    error = json.loads(resp.get_body())["error"]
    assert error["code"] == "validation" and error["field"] == field
    assert field.split(".")[0] in error["message"]
    # nothing was stored
    _, current = await app_env.notifications.get_settings()  # type: ignore[union-attr]
    assert current.mode.value == "error_daily" and current.cc == []


async def test_a_body_that_is_not_json_is_422(app_env: Services) -> None:
    resp = await control.patch_notification_settings(patch(b"{mode: every"))
    assert resp.status_code == 422
    assert json.loads(resp.get_body())["error"]["code"] == "invalid_json"
