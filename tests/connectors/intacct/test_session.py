"""Sessions over real HTTP: one login for many calls, one re-login after expiry, credentials
refused as auth errors that never show a secret."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shared.connectors.errors import ConnectorError
from shared.connectors.intacct import IntacctClient
from shared.errors import ErrorCategory
from tests.support.intacct import SENDER_PASSWORD, USER_PASSWORD, RunningIntacct, config


async def test_one_login_for_many_calls(client: IntacctClient, intacct: RunningIntacct) -> None:
    for number in range(10):
        await client.create("CUSTOMER", {"CUSTOMERID": f"C{number}", "NAME": "n"})
    await asyncio.gather(*(client.read("CUSTOMER", ["1"]) for _ in range(10)))
    assert client.logins == 1
    assert intacct.admin.stats()["logins"] == 1
    bodies = [r["body"] for r in intacct.admin.requests()]
    assert sum("<login>" in body for body in bodies) == 1
    assert all("<sessionid>" in body for body in bodies[1:])


async def test_expired_session_is_renewed_once(
    client: IntacctClient, intacct: RunningIntacct
) -> None:
    await client.check()
    intacct.admin.expire_sessions()
    # Many callers find the session gone at once: still one new login.
    await asyncio.gather(*(client.read("CUSTOMER", ["1"]) for _ in range(6)))
    assert client.logins == 2
    assert intacct.admin.stats()["logins"] == 2


async def test_local_expiry_logs_in_before_the_gateway_refuses(intacct: RunningIntacct) -> None:
    now = [0.0]
    intacct.admin.options(session_timeout_s=100)
    async with IntacctClient(config(intacct.endpoint), clock=lambda: now[0]) as client:
        await client.check()
        now[0] = 95.0  # inside the renewal margin (a tenth of 100 s)
        await client.check()
        assert client.logins == 2
    assert intacct.admin.stats()["failed_logins"] == 0


async def test_each_call_extends_the_session(intacct: RunningIntacct) -> None:
    now = [0.0]
    intacct.admin.options(session_timeout_s=100)
    async with IntacctClient(config(intacct.endpoint), clock=lambda: now[0]) as client:
        await client.check()
        now[0] = 60.0
        await client.check()  # the gateway's answer slides the expiry to 60 + 100
        now[0] = 140.0  # past the first call's expiry, inside the second's
        await client.check()
        assert client.logins == 1


async def test_wrong_user_password_is_auth_and_hides_secrets(
    intacct: RunningIntacct, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with IntacctClient(config(intacct.endpoint, user_password="s3cret-pw!")) as client:
        with pytest.raises(ConnectorError) as raised:
            await client.check()
    error = raised.value
    assert error.category is ErrorCategory.AUTH
    assert error.code == "XL03000006"
    for text in (str(error), caplog.text):
        assert "s3cret-pw!" not in text and SENDER_PASSWORD not in text


async def test_wrong_sender_is_auth(intacct: RunningIntacct) -> None:
    async with IntacctClient(config(intacct.endpoint, sender_password="bad-sender")) as client:
        with pytest.raises(ConnectorError) as raised:
            await client.check()
    assert raised.value.category is ErrorCategory.AUTH
    assert "bad-sender" not in str(raised.value)


async def test_session_id_never_in_messages(client: IntacctClient, intacct: RunningIntacct) -> None:
    await client.check()
    session = client.sessions.current()
    assert session is not None
    with pytest.raises(ConnectorError) as raised:
        await client.update("CUSTOMER", {"CUSTOMERID": "NOPE", "NAME": "x"})
    assert session.id not in str(raised.value)
    assert USER_PASSWORD not in str(raised.value)
