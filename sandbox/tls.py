"""The sandbox's test CA: HTTPS for the local emulators, like the real services.

The CA and the server certificate are made with trustme; cryptography only reads them back to
check they are still valid. One CA lives in `.sandbox/` at the repo root (git-ignored):
`ca.pem` (what clients trust), `ca-key.pem`, and a server certificate for 127.0.0.1 (IP
subject alternative name) and localhost (`server.pem` with the CA appended,
`server-key.pem`). `trust.pem` is `ca.pem`
plus the CAs trusted before; SSL_CERT_FILE / REQUESTS_CA_BUNDLE point at it. The files are
reused across restarts while they are valid, so a trust set up once (a browser) keeps
working; anything missing, unreadable, expired or not matching is made again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import ssl
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from starlette.types import ASGIApp

from sandbox.emulators import server
from sandbox.emulators.server import EmulatorServer

log = logging.getLogger("shuttle")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO_ROOT / ".sandbox"
SERVER_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1",)
SERVER_DAYS = 825
# Renew a little before the end, so a sandbox started today works all day.
RENEW_BEFORE = dt.timedelta(days=2)
TRUST_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


@dataclass(frozen=True)
class SandboxTLS:
    """Paths of the sandbox CA and server certificate, and ssl contexts built from them."""

    directory: Path

    @property
    def ca_path(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key_path(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def cert_path(self) -> Path:
        return self.directory / "server.pem"

    @property
    def key_path(self) -> Path:
        return self.directory / "server-key.pem"

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))

    @property
    def bundle_path(self) -> Path:
        return self.directory / "trust.pem"

    def write_bundle(self) -> Path:
        """The sandbox CA plus the CAs this process already trusts (SSL_CERT_FILE, else
        the system's): trusting the sandbox must not stop a real service's TLS from verifying
        (a real Creatio beside a local Dataverse emulator)."""
        existing = os.environ.get("SSL_CERT_FILE")
        sources = [self.ca_path]
        if existing and Path(existing).is_file() and Path(existing) != self.bundle_path:
            sources.append(Path(existing))
        else:
            paths = ssl.get_default_verify_paths()
            system = paths.cafile or paths.openssl_cafile
            if system and Path(system).is_file():
                sources.append(Path(system))
        _write(self.bundle_path, b"\n".join(p.read_bytes().strip() for p in sources) + b"\n")
        return self.bundle_path

    def trust_env(self, env: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
        """Point SSL_CERT_FILE and REQUESTS_CA_BUNDLE of `env` (default: this process, so
        the processes it starts inherit them) at the sandbox CA plus the CAs trusted before
        (`trust.pem`)."""
        target: MutableMapping[str, str] = os.environ if env is None else env
        bundle = str(self.write_bundle())
        for name in TRUST_VARIABLES:
            target[name] = bundle
        return target


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    # Whole or not at all: another `shuttle` or test of this checkout may be loading the
    # file (SSL_CERT_FILE) while this one rewrites it.
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    if secret:
        partial.chmod(0o600)
    os.replace(partial, path)


def _make_ca(tls: SandboxTLS) -> trustme.CA:
    # trustme's CA is valid from 2000 to 3000: it never needs renewing.
    ca = trustme.CA(organization_name="Shuttle", organization_unit_name="Shuttle sandbox test CA")
    _write(tls.ca_key_path, ca.private_key_pem.bytes(), secret=True)
    _write(tls.ca_path, ca.cert_pem.bytes())
    return ca


def _make_server(tls: SandboxTLS, ca: trustme.CA) -> None:
    now = _now()
    leaf = ca.issue_cert(
        *SERVER_IPS,
        *SERVER_NAMES,
        common_name=SERVER_IPS[0],
        not_before=now - dt.timedelta(hours=1),
        not_after=now + dt.timedelta(days=SERVER_DAYS),
    )
    chain = b"".join(pem.bytes() for pem in leaf.cert_chain_pems) + ca.cert_pem.bytes()
    _write(tls.key_path, leaf.private_key_pem.bytes(), secret=True)
    _write(tls.cert_path, chain)


def _fresh(cert: x509.Certificate) -> bool:
    now = _now()
    return cert.not_valid_before_utc <= now and now + RENEW_BEFORE < cert.not_valid_after_utc


def _public_pem(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _load_ca(tls: SandboxTLS) -> tuple[trustme.CA, x509.Certificate] | None:
    try:
        cert_pem, key_pem = tls.ca_path.read_bytes(), tls.ca_key_path.read_bytes()
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, None)
    except (OSError, ValueError, TypeError):
        return None
    if not _fresh(cert) or _public_pem(cert.public_key()) != _public_pem(key.public_key()):
        return None
    return trustme.CA.from_pem(cert_pem, key_pem), cert


def _server_valid(tls: SandboxTLS, ca: x509.Certificate) -> bool:
    try:
        cert = x509.load_pem_x509_certificates(tls.cert_path.read_bytes())[0]
        key = serialization.load_pem_private_key(tls.key_path.read_bytes(), None)
        cert.verify_directly_issued_by(ca)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, IndexError, x509.ExtensionNotFound):
        return False
    except Exception:  # InvalidSignature and kin: make a new one
        return False
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    dns = set(sans.get_values_for_type(x509.DNSName))
    return (
        _fresh(cert)
        and ips >= set(SERVER_IPS)
        and dns >= set(SERVER_NAMES)
        and _public_pem(key.public_key()) == _public_pem(cert.public_key())
    )


def ensure_tls(directory: Path | str | None = None) -> SandboxTLS:
    """The sandbox CA and server certificate in `directory` (default `.sandbox/` at the repo
    root): reused when valid, (re)made otherwise. A new CA always gets a new server cert."""
    tls = SandboxTLS(Path(directory) if directory is not None else DEFAULT_DIR)
    tls.directory.mkdir(parents=True, exist_ok=True)
    loaded = _load_ca(tls)
    if loaded is None:
        _make_server(tls, _make_ca(tls))
        return tls
    ca, ca_cert = loaded
    if not _server_valid(tls, ca_cert):
        _make_server(tls, ca)
    return tls


# -- starting the HTTPS emulators (identity, Dataverse) --------------------------------------
def start_https(
    url: str | None,
    *,
    default_port: int,
    name: str,
    app: Callable[[SandboxTLS], ASGIApp],
    tls: SandboxTLS | None = None,
) -> EmulatorServer | None:
    """Start an emulator over HTTPS with the sandbox CA on the port of `url` (when local),
    and point this process's SSL_CERT_FILE / REQUESTS_CA_BUNDLE at the CA so whatever it
    starts trusts it. None when `url` is remote or the port is already taken."""
    tls = tls or ensure_tls()

    def build() -> ASGIApp:
        tls.trust_env()  # only when it really starts here
        return app(tls)

    return server.start_local(
        url,
        default_port=default_port,
        name=name,
        app=build,
        ssl_certfile=str(tls.cert_path),
        ssl_keyfile=str(tls.key_path),
    )
