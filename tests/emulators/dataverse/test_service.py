"""`start_local` of the identity and Dataverse emulators (what `shuttle dev` calls)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx
import pytest

from sandbox.emulators.dataverse import service as dataverse_service
from sandbox.emulators.identity import service as identity_service
from sandbox.tls import ensure_tls


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_remote_urls_start_nothing() -> None:
    assert identity_service.start_local("https://login.microsoftonline.com") is None
    assert dataverse_service.start_local("https://contoso.crm.dynamics.com") is None


def test_both_start_over_https_and_trust_the_sandbox_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = ensure_tls(tmp_path)
    monkeypatch.setattr("sandbox.tls.ensure_tls", lambda directory=None: tls)
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        monkeypatch.setenv(name, "unchanged")
    identity_url = f"https://127.0.0.1:{_free_port()}"
    dataverse_url = f"https://127.0.0.1:{_free_port()}"
    identity = identity_service.start_local(identity_url)
    assert identity is not None
    try:
        dataverse = dataverse_service.start_local(dataverse_url, authority_host=identity_url)
        assert dataverse is not None
        try:
            assert os.environ["SSL_CERT_FILE"] == str(tls.bundle_path)
            assert os.environ["REQUESTS_CA_BUNDLE"] == str(tls.bundle_path)
            answer = httpx.get(f"{dataverse_url}/api/data/v9.2/WhoAmI", verify=tls.client_context())
            assert answer.status_code == 401  # up, over HTTPS, asking for a token
            # Already listening: a second start leaves it alone.
            assert dataverse_service.start_local(dataverse_url) is None
        finally:
            dataverse.stop()
    finally:
        identity.stop()
