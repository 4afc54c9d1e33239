"""The identity and Dataverse emulators over HTTPS (the sandbox CA, made in a temp dir) on
free 127.0.0.1 ports, their admin APIs, and connector configs pointed at them."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sandbox.emulators.dataverse import DataverseEmulator, Options
from sandbox.emulators.dataverse import create_app as create_dataverse
from sandbox.emulators.identity import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_TENANT,
    IdentityEmulator,
)
from sandbox.emulators.identity import create_app as create_identity
from sandbox.emulators.server import EmulatorServer
from sandbox.tls import SandboxTLS, ensure_tls
from shared.connectors.dataverse import DataverseConfig
from shared.connectors.dataverse.auth import forget_apps
from shared.connectors.retry import RetryPolicy
from tests.support.emulator_admin import EmulatorAdmin

FAST_RETRY = RetryPolicy(attempts=6, base_delay_s=0.02, max_delay_s=0.5, total_s=30.0)
API = "/api/data/v9.2/"


def trust(ca: Path | str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


class Admin(EmulatorAdmin):
    """The Dataverse emulator's /_emulator API, over TLS: the shared routes and its own."""

    def __init__(self, url: str, ca: Path) -> None:
        super().__init__(url, verify=trust(ca))

    def put(self, path: str, **values: Any) -> dict[str, Any]:
        return self._ok(self.http.put(path, json=values))  # type: ignore[no-any-return]

    def limits(self, **values: Any) -> dict[str, Any]:
        return self.put("/limits", **values)

    def rows(self, table: str) -> list[dict[str, Any]]:
        return self._ok(self.http.get(f"/rows/{table}"))["rows"]  # type: ignore[no-any-return]

    def expire_tokens(self) -> int:
        return int(self._ok(self.http.post("/tokens/expire"))["expired"])


@dataclass
class RunningDataverse:
    tls: SandboxTLS
    identity: IdentityEmulator
    identity_server: EmulatorServer
    emulator: DataverseEmulator
    server: EmulatorServer
    admin: Admin
    identity_admin: Admin

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def authority(self) -> str:
        return self.identity_server.url

    @property
    def ca(self) -> str:
        return str(self.tls.ca_path)

    def token(self, resource: str | None = None) -> str:
        """A token by a raw client-credentials call (for wire tests)."""
        response = httpx.post(
            f"{self.authority}/{SANDBOX_TENANT}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": SANDBOX_CLIENT_ID,
                "client_secret": SANDBOX_CLIENT_SECRET,
                "scope": f"{resource or self.url}/.default",
            },
            verify=trust(self.ca),
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def http(self, token: str | None = None) -> httpx.Client:
        """A raw Web API session with a bearer token and the standard headers."""
        return httpx.Client(
            base_url=f"{self.url}{API}",
            verify=trust(self.ca),
            timeout=30,
            headers={
                "Authorization": f"Bearer {token or self.token()}",
                "Accept": "application/json",
                "OData-MaxVersion": "4.0",
                "OData-Version": "4.0",
            },
        )


@contextmanager
def running_dataverse(directory: Path) -> Iterator[RunningDataverse]:
    tls = ensure_tls(directory)
    ssl_files = {"ssl_certfile": str(tls.cert_path), "ssl_keyfile": str(tls.key_path)}
    identity = create_identity()
    with EmulatorServer(identity.asgi, name="identity-test", **ssl_files) as identity_server:
        emulator = create_dataverse(
            Options(identity_url=identity_server.url, ca_file=str(tls.ca_path))
        )
        with EmulatorServer(emulator.asgi, name="dataverse-test", **ssl_files) as server:
            admin = Admin(server.url, tls.ca_path)
            identity_admin = Admin(identity_server.url, tls.ca_path)
            try:
                yield RunningDataverse(
                    tls, identity, identity_server, emulator, server, admin, identity_admin
                )
            finally:
                admin.close()
                identity_admin.close()


def config(running: RunningDataverse, **overrides: Any) -> DataverseConfig:
    values: dict[str, Any] = {
        "url": running.url,
        "tenant_id": SANDBOX_TENANT,
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": SANDBOX_CLIENT_SECRET,
        "authority_host": running.authority,
        "ca_file": running.ca,
        "timeout_s": 5.0,
        "retry": FAST_RETRY,
        **overrides,
    }
    return DataverseConfig(**values)


def client_certificate(common_name: str = "shuttle-test") -> tuple[str, str]:
    """(PEM with private key + certificate, certificate PEM) of a new self-signed RSA
    certificate, as an app registration would hold."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return key_pem + cert_pem, cert_pem


# -- pytest fixtures (imported by the conftests that use them) --------------------------------
@pytest.fixture(scope="session")
def dataverse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDataverse]:
    """One pair of emulators for the session (starting them costs more than a test)."""
    with running_dataverse(tmp_path_factory.mktemp("sandbox-tls")) as running:
        yield running


@pytest.fixture
def dataverse(dataverse_server: RunningDataverse) -> RunningDataverse:
    """The session's emulators, reset: no rows, default limits, knobs and options, no
    faults, zero counts; and no MSAL app cached in this worker."""
    dataverse_server.admin.reset()
    dataverse_server.identity_admin.reset()
    forget_apps()
    return dataverse_server
