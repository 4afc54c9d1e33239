"""Microsoft Entra ID client credentials through MSAL, as an `httpx.Auth`.

One `ConfidentialClientApplication` per worker and credential (module cache), so its token
cache serves every client built in that worker; this auth keeps the current token too, so
most calls never reach MSAL. MSAL is synchronous: it runs in a thread, one acquisition at a
time. A 401 from Dataverse drops that token from MSAL's cache, gets a new one and sends the
call once more.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any

import httpx
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared.connectors.dataverse.config import SYSTEM, DataverseConfig
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory

_KEY_BLOCK = re.compile(
    r"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----.+?-----END (?:RSA |EC |ENCRYPTED )?"
    r"PRIVATE KEY-----",
    re.DOTALL,
)
_TRANSIENT_AAD = {"temporarily_unavailable", "server_error"}
_APPS: dict[str, msal.ConfidentialClientApplication] = {}
_APPS_LOCK = threading.Lock()


def _auth_error(
    message: str, code: str, category: ErrorCategory = ErrorCategory.AUTH
) -> ConnectorError:
    return ConnectorError(message, category=category, system=SYSTEM, code=code)


def certificate_credential(value: str) -> dict[str, str]:
    """DATAVERSE_CLIENT_CERT (a PEM path, or the PEM itself) -> MSAL's certificate
    credential. MSAL (≥1.35) signs with PS256 and sends the SHA-256 thumbprint."""
    text = value
    if "-----BEGIN" not in value:
        try:
            text = Path(value).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise _auth_error(
                f"DATAVERSE_CLIENT_CERT: cannot read the certificate file ({type(exc).__name__})"
                " — give the path of a PEM file or the PEM content",
                "bad_certificate",
            ) from None
    key_block = _KEY_BLOCK.search(text)
    try:
        if key_block is None:
            raise ValueError("no private key")
        key = serialization.load_pem_private_key(key_block.group(0).encode(), None)
        certificates = x509.load_pem_x509_certificates(text.encode())
    except (ValueError, TypeError):
        raise _auth_error(
            "DATAVERSE_CLIENT_CERT must hold an unencrypted private key and its certificate (PEM)",
            "bad_certificate",
        ) from None
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    cert_pem = certificates[0].public_bytes(serialization.Encoding.PEM).decode()
    return {"private_key": key_pem, "public_certificate": cert_pem}


def _credential(config: DataverseConfig) -> str | dict[str, str]:
    if config.client_cert is not None:
        return certificate_credential(config.client_cert.get_secret_value())
    assert config.client_secret is not None  # the config validator guarantees one
    return config.client_secret.get_secret_value()


def _http_session(config: DataverseConfig) -> requests.Session:
    session = requests.Session()
    if config.ca_file:
        session.verify = config.ca_file
        # Else REQUESTS_CA_BUNDLE from the environment would override the configured CA.
        session.trust_env = False
    return session


def _app_key(config: DataverseConfig, credential: str | dict[str, str]) -> str:
    secret = credential if isinstance(credential, str) else credential["private_key"]
    fingerprint = hashlib.sha256(secret.encode()).hexdigest()
    return "\x1f".join((config.authority, config.client_id, fingerprint, config.ca_file or ""))


def msal_app(config: DataverseConfig) -> msal.ConfidentialClientApplication:
    """The worker's MSAL app for this authority, client and credential (built on first use:
    building reads the authority's OpenID configuration over the network)."""
    credential = _credential(config)
    key = _app_key(config, credential)
    with _APPS_LOCK:
        app = _APPS.get(key)
        if app is None:
            app = msal.ConfidentialClientApplication(
                config.client_id,
                authority=config.authority,
                client_credential=credential,
                # Only login.microsoftonline.com answers instance discovery; a sovereign
                # cloud or the sandbox is known to us, not to it.
                instance_discovery=False,
                http_client=_http_session(config),
                token_cache=msal.TokenCache(),
            )
            _APPS[key] = app
        return app


def forget_apps() -> None:
    """Drop every cached MSAL app (tests; a credential rotation)."""
    with _APPS_LOCK:
        _APPS.clear()


class MsalAuth(httpx.Auth):
    """Bearer tokens for one Dataverse environment; one refresh and retry on 401."""

    def __init__(
        self,
        config: DataverseConfig,
        *,
        clock: Callable[[], float] = time.time,
        app_factory: Callable[[DataverseConfig], Any] = msal_app,
    ) -> None:
        self.config = config
        self._clock = clock
        self._app_factory = app_factory
        self._lock: asyncio.Lock | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        self.acquired = 0  # tokens obtained from MSAL (its cache or the identity provider)
        self.refreshed = 0  # renewals forced by a 401

    def _fresh(self) -> bool:
        return self._token is not None and self._clock() < self._expires_at

    async def token(self) -> str:
        if self._fresh():
            return self._token  # type: ignore[return-value]
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._fresh():
                await self._acquire(rejected=None)
        return self._token  # type: ignore[return-value]

    async def renew(self, rejected: str) -> str:
        """A fresh token after `rejected` was refused (once, however many calls saw it)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token == rejected or self._token is None:
                self.refreshed += 1
                await self._acquire(rejected=rejected)
        return self._token  # type: ignore[return-value]

    async def _acquire(self, rejected: str | None) -> None:
        result = await asyncio.to_thread(self._acquire_sync, rejected)
        token = result.get("access_token")
        if not token:
            raise self._failure(result)
        lifetime = float(result.get("expires_in") or 0)
        # MSAL itself stops serving a cached token 5 minutes before it expires.
        margin = min(300.0, lifetime / 2)
        self._token = str(token)
        self._expires_at = self._clock() + lifetime - margin
        self.acquired += 1

    def _acquire_sync(self, rejected: str | None) -> dict[str, Any]:
        try:
            app = self._app_factory(self.config)
            if rejected is not None:
                cache = app.token_cache
                stale = [
                    entry
                    for entry in cache.search(
                        msal.TokenCache.CredentialType.ACCESS_TOKEN, target=[self.config.scope]
                    )
                    if entry.get("secret") == rejected
                ]
                for entry in stale:
                    cache.remove_at(entry)
            result: dict[str, Any] = app.acquire_token_for_client(scopes=[self.config.scope])
            return result
        except ConnectorError:
            raise
        except requests.exceptions.RequestException as exc:
            raise _auth_error(
                f"get a Dataverse token: no answer from {self.config.authority_host} "
                f"({type(exc).__name__}) — check DATAVERSE_AUTHORITY_HOST and the network",
                "connection",
                ErrorCategory.CONNECTION,
            ) from None
        except msal.exceptions.MsalServiceError as exc:
            raise _auth_error(
                f"get a Dataverse token: the identity provider failed ({exc.error})",
                "identity_provider",
                ErrorCategory.CONNECTION,
            ) from None
        except ValueError as exc:  # authority discovery: unknown tenant, bad URL
            first = str(exc).split(". ")[0]
            raise _auth_error(
                f"get a Dataverse token: {first} — check DATAVERSE_TENANT_ID and "
                "DATAVERSE_AUTHORITY_HOST",
                "bad_authority",
            ) from None

    def _failure(self, result: dict[str, Any]) -> ConnectorError:
        error = str(result.get("error") or "no_token")
        description = str(result.get("error_description") or "").split(" Trace ID:")[0]
        category = ErrorCategory.CONNECTION if error in _TRANSIENT_AAD else ErrorCategory.AUTH
        return _auth_error(
            f"get a Dataverse token: {error}: {description[:300]} — check DATAVERSE_CLIENT_ID "
            "and the secret or certificate",
            error,
            category,
        )

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = await self.renew(token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    def sync_auth_flow(self, request: httpx.Request) -> Any:  # pragma: no cover
        raise RuntimeError("MsalAuth is for httpx.AsyncClient")
