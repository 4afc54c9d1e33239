"""A Creatio forms login and a call over real HTTP with httpx/httpcore at DEBUG: the wire
trace carries the session cookies, and the product's log redaction removes every value."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from shared.connectors.creatio import CreatioClient
from shared.log_redaction import REDACTED, install_log_redaction
from tests.support.creatio import CLIENT_SECRET, RunningCreatio, config

COOKIES = (".ASPXAUTH", "BPMCSRF", "BPMSESSIONID", "UserName")


@pytest.fixture
def record_factory() -> Iterator[None]:
    before = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(before)


async def login_and_call(creatio: RunningCreatio, caplog: pytest.LogCaptureFixture) -> dict:
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    async with CreatioClient(config(creatio.url)) as client:
        await client.check()
        cookies = dict(client.auth._cookies)  # type: ignore[attr-defined]
    assert set(COOKIES) <= set(cookies)
    return cookies


async def test_auth_cookies_never_reach_the_logs(
    creatio: RunningCreatio, caplog: pytest.LogCaptureFixture, record_factory: None
) -> None:
    # Without the product's redaction (importing function_app elsewhere in the session may have
    # installed it) the trace holds the cookie values: what issue 12 saw...
    logging.setLogRecordFactory(logging.LogRecord)
    leaked = await login_and_call(creatio, caplog)
    assert any(leaked[name] in caplog.text for name in COOKIES)

    install_log_redaction()
    cookies = await login_and_call(creatio, caplog)
    assert "set-cookie" in caplog.text.lower() and REDACTED in caplog.text
    for record in caplog.records:
        message = record.getMessage()
        for name in COOKIES:
            assert cookies[name] not in message, (name, record.name, message)


async def test_oauth_secret_and_token_never_reach_the_logs(
    creatio: RunningCreatio, caplog: pytest.LogCaptureFixture, record_factory: None
) -> None:
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    async with CreatioClient(config(creatio.url, "oauth")) as client:
        await client.check()
        headers, _ = await client.auth.prepare()
    token = headers["Authorization"].split()[-1]
    assert caplog.records and CLIENT_SECRET not in caplog.text and token not in caplog.text
