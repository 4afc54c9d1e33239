"""Both auth modes against the emulator over HTTP: login once, CSRF, re-login on expiry,
OAuth token caching and renewal, and errors that never show a secret."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from shared.connectors.creatio import CreatioClient
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory
from tests.support.creatio import CLIENT_SECRET, PASSWORD, RunningCreatio, config

ACCOUNTS = "GET /0/odata/Account"


async def test_forms_logs_in_once_and_sends_bpmcsrf(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    await client.check()
    for _ in range(5):
        await client.query("Account", top=1)
    stats = creatio.admin.stats()
    assert stats["logins"] == 1
    # The emulator refuses cookie calls without a matching BPMCSRF header (401); none were.
    assert not any(key.endswith(" 401") for key in stats["statuses"])
    assert stats["statuses"][f"{ACCOUNTS} 200"] == 5


async def test_a_forged_csrf_token_is_refused_and_the_client_logs_in_again(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    await client.check()
    client.auth._cookies["BPMCSRF"] = "forged"  # type: ignore[attr-defined]
    assert await client.query("Account") == []
    stats = creatio.admin.stats()
    assert stats["statuses"][f"{ACCOUNTS} 401"] == 1  # CSRF enforced
    assert stats["logins"] == 2


@pytest.mark.parametrize("answer", ["401", "redirect"])
async def test_an_expired_session_is_renewed_once_and_the_call_retried(
    creatio: RunningCreatio, client: CreatioClient, answer: str
) -> None:
    creatio.admin.options(expired_session=answer)
    await client.check()
    creatio.admin.expire_sessions()
    created = await client.create("Account", {"Name": "after expiry"})
    assert created.created
    stats = creatio.admin.stats()
    assert stats["logins"] == 2
    status = "401" if answer == "401" else "302"
    assert stats["statuses"][f"POST /0/odata/Account {status}"] == 1
    assert stats["writes"] == {"create Account": 1}


async def test_many_calls_failing_together_share_one_relogin(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    await client.check()
    creatio.admin.expire_sessions()
    results = await asyncio.gather(*(client.query("Account") for _ in range(12)))
    assert results == [[]] * 12
    assert creatio.admin.stats()["logins"] == 2


async def test_wrong_password_is_an_auth_error_without_the_password(
    creatio: RunningCreatio,
) -> None:
    secret = "not-the-password-9z"
    async with CreatioClient(config(creatio.url, password=SecretStr(secret))) as bad:
        with pytest.raises(ConnectorError) as raised:
            await bad.query("Account")
    error = raised.value
    assert error.category is ErrorCategory.AUTH and error.code == "login_failed"
    assert "CREATIO_PASSWORD" in error.message and secret not in str(error)
    stats = creatio.admin.stats()
    assert stats["failed_logins"] == 1  # an auth error is not retried
    assert ACCOUNTS not in stats["calls"]


async def test_a_login_lost_on_the_way_is_retried(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    creatio.admin.faults({"fault": "drop", "path": "/ServiceModel/*"})
    await client.check()
    assert creatio.admin.calls("POST /ServiceModel/AuthService.svc/Login") == 2


async def test_oauth_fetches_one_token_for_many_calls_without_cookies(
    creatio: RunningCreatio, oauth_client: CreatioClient
) -> None:
    await oauth_client.check()
    await asyncio.gather(*(oauth_client.query("Account") for _ in range(10)))
    stats = creatio.admin.stats()
    assert (stats["tokens_issued"], stats["logins"], stats["sessions"]) == (1, 0, 0)


async def test_oauth_renews_the_token_shortly_before_it_expires(creatio: RunningCreatio) -> None:
    now = [0.0]
    async with CreatioClient(config(creatio.url, "oauth"), clock=lambda: now[0]) as client:
        await client.query("Account")
        now[0] = 3600 - 61  # more than the 60 s margin left: the cached token is used
        await client.query("Account")
        assert creatio.admin.stats()["tokens_issued"] == 1
        now[0] = 3600 - 59
        await client.query("Account")
        assert creatio.admin.stats()["tokens_issued"] == 2


async def test_oauth_gets_a_new_token_when_the_server_rejects_the_old_one(
    creatio: RunningCreatio, oauth_client: CreatioClient
) -> None:
    await oauth_client.query("Account")
    creatio.admin.expire_tokens()
    await oauth_client.query("Account")
    stats = creatio.admin.stats()
    assert stats["tokens_issued"] == 2
    assert stats["statuses"][f"{ACCOUNTS} 401"] == 1


async def test_oauth_bad_secret_is_an_auth_error_without_the_secret(
    creatio: RunningCreatio,
) -> None:
    wrong = "wrong-" + CLIENT_SECRET
    cfg = config(creatio.url, "oauth", client_secret=SecretStr(wrong))
    async with CreatioClient(cfg) as bad:
        with pytest.raises(ConnectorError) as raised:
            await bad.check()
    error = raised.value
    assert (error.category, error.code) == (ErrorCategory.AUTH, "token_refused")
    assert "invalid_client" in error.message and "CREATIO_CLIENT_SECRET" in error.message
    assert wrong not in str(error) and CLIENT_SECRET not in str(error)


async def test_no_error_message_ever_carries_a_credential(
    creatio: RunningCreatio, client: CreatioClient
) -> None:
    await client.check()
    cookies = dict(client.auth._cookies)  # type: ignore[attr-defined]
    creatio.admin.faults({"fault": "5xx", "times": 20})
    with pytest.raises(ConnectorError) as raised:
        await client.query("Account")
    text = str(raised.value) + raised.value.message
    assert PASSWORD not in text.replace("CREATIO_PASSWORD", "")
    assert not any(value and value in text for value in cookies.values())
