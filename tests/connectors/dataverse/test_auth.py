"""MSAL client credentials against the identity emulator, over real HTTPS."""

from __future__ import annotations

import asyncio
import logging

import pytest

from sandbox.emulators.identity import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from shared.connectors.dataverse import DataverseClient
from shared.connectors.dataverse.auth import MsalAuth, certificate_credential
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory
from tests.support.dataverse import RunningDataverse, client_certificate, config
from tests.support.polling import eventually


async def test_many_calls_share_one_token(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    await asyncio.gather(*(client.who_am_i() for _ in range(30)))
    await client.query("accounts")
    assert dataverse.identity_admin.stats()["tokens_issued"] == 1
    assert dataverse.admin.stats()["tokens_seen"] == 1
    assert isinstance(client.auth, MsalAuth) and client.auth.acquired == 1


async def test_a_second_client_in_the_worker_reuses_the_msal_token_cache(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    await client.who_am_i()
    async with DataverseClient(config(dataverse)) as second:
        await second.who_am_i()
    assert dataverse.identity_admin.stats()["tokens_issued"] == 1


async def test_certificate_credential_as_content_and_as_path(
    dataverse: RunningDataverse, tmp_path: pytest.TempPathFactory
) -> None:
    pem, cert = client_certificate()
    dataverse.identity_admin.options(
        clients=[{"client_id": SANDBOX_CLIENT_ID, "certificate_pem": cert}]
    )
    path = tmp_path / "client.pem"  # type: ignore[operator]
    path.write_text(pem)
    for value in (pem, str(path)):
        async with DataverseClient(
            config(dataverse, client_secret=None, client_cert=value)
        ) as instance:
            assert (await instance.who_am_i())["UserId"]
    stats = dataverse.identity_admin.stats()
    # Same key material -> the same MSAL app and its cached token.
    assert stats["tokens_by_method"] == {"certificate": 1}


async def test_a_certificate_the_app_does_not_know_is_an_auth_error(
    dataverse: RunningDataverse,
) -> None:
    _, registered = client_certificate("registered")
    other, _ = client_certificate("other")
    dataverse.identity_admin.options(
        clients=[{"client_id": SANDBOX_CLIENT_ID, "certificate_pem": registered}]
    )
    async with DataverseClient(config(dataverse, client_secret=None, client_cert=other)) as c:
        with pytest.raises(ConnectorError) as caught:
            await c.who_am_i()
    assert caught.value.category is ErrorCategory.AUTH
    assert "AADSTS700027" in str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)


async def test_an_expired_token_is_renewed_once_and_the_call_succeeds(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    await client.who_am_i()
    assert dataverse.admin.expire_tokens() == 1
    results = await asyncio.gather(*(client.who_am_i() for _ in range(10)))
    assert len(results) == 10
    assert isinstance(client.auth, MsalAuth)
    assert client.auth.refreshed == 1
    assert dataverse.identity_admin.stats()["tokens_issued"] == 2
    assert dataverse.admin.stats()["unauthorized"] >= 1


async def test_a_token_is_renewed_before_it_expires(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    # Tokens that really expire (4 s): the client renews ahead of time, so Dataverse never
    # sees an expired one and no call pays for a 401.
    dataverse.identity_admin.options(token_lifetime_s=4)
    assert isinstance(client.auth, MsalAuth)
    await eventually(
        client.who_am_i,
        until=lambda _: client.auth.acquired == 2,  # type: ignore[union-attr]
        timeout=15,
        what="a second token",
    )
    assert dataverse.identity_admin.stats()["tokens_issued"] == 2
    assert dataverse.admin.stats()["unauthorized"] == 0
    assert client.auth.refreshed == 0


async def test_a_token_refused_again_after_renewal_is_an_auth_error(
    dataverse: RunningDataverse,
) -> None:
    # A token for another resource: Dataverse refuses it, and the renewed one as well.
    other = config(dataverse).model_copy(update={"url": dataverse.authority})
    auth = MsalAuth(other)
    async with DataverseClient(config(dataverse), auth=auth) as instance:
        with pytest.raises(ConnectorError) as caught:
            await instance.who_am_i()
    assert caught.value.category is ErrorCategory.AUTH
    assert caught.value.status == 401
    assert auth.refreshed == 1


async def test_a_wrong_secret_is_an_auth_error_that_never_shows_the_secret(
    dataverse: RunningDataverse, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-secret-value-1234"
    caplog.set_level(logging.DEBUG)
    async with DataverseClient(config(dataverse, client_secret=wrong)) as instance:
        with pytest.raises(ConnectorError) as caught:
            await instance.who_am_i()
    assert caught.value.category is ErrorCategory.AUTH
    assert "AADSTS7000215" in str(caught.value)
    assert wrong not in str(caught.value)
    assert wrong not in caplog.text
    assert SANDBOX_CLIENT_SECRET not in caplog.text


async def test_tokens_never_appear_in_logs_or_errors(
    dataverse: RunningDataverse, client: DataverseClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dataverse.admin.faults({"fault": "5xx", "path": "*/WhoAmI", "status": 503, "times": 1})
    await client.who_am_i()
    dataverse.admin.faults({"fault": "5xx", "path": "*/WhoAmI", "status": 403, "times": 1})
    with pytest.raises(ConnectorError) as caught:
        await client.who_am_i()
    assert caught.value.category is ErrorCategory.AUTH
    token = client.auth._token  # type: ignore[attr-defined]
    assert token and token not in caplog.text and token not in str(caught.value)
    assert "retrying" in caplog.text  # the 503 was logged, without the token


async def test_unknown_tenant_is_an_auth_error(dataverse: RunningDataverse) -> None:
    async with DataverseClient(config(dataverse, tenant_id="no-such-tenant")) as instance:
        with pytest.raises(ConnectorError) as caught:
            await instance.who_am_i()
    assert caught.value.category is ErrorCategory.AUTH
    assert caught.value.code == "bad_authority"


def test_a_certificate_setting_without_a_key_is_rejected() -> None:
    _, cert_only = client_certificate()
    with pytest.raises(ConnectorError) as caught:
        certificate_credential(cert_only)
    assert caught.value.category is ErrorCategory.AUTH
    with pytest.raises(ConnectorError) as missing:
        certificate_credential("/no/such/file.pem")
    assert missing.value.code == "bad_certificate"
