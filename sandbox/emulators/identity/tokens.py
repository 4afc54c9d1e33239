"""Token signing (the identity emulator) and token checking (the resources that trust it)."""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import time
import uuid
from typing import Any

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_TENANT = "shuttle-sandbox"
DEFAULT_CLIENT_ID = "00000000-0000-0000-0000-00000000a11c"
DEFAULT_SECRET = "sandbox-client-secret"  # noqa: S105 (the sandbox's public default)


class ClientApp(BaseModel):
    """An app registration: a secret and/or a certificate (PEM) it may authenticate with."""

    model_config = ConfigDict(extra="forbid")

    client_id: str
    secret: str | None = None
    certificate_pem: str | None = None
    # The application user's object id (the Dataverse "user" that limits apply to).
    object_id: str = Field(default_factory=lambda: str(uuid.uuid4()))


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = DEFAULT_TENANT
    tenant_id: str = "5d1a6f0e-0000-4000-8000-5a4d0b0c0e01"
    clients: list[ClientApp] = Field(
        default_factory=lambda: [
            ClientApp(
                client_id=DEFAULT_CLIENT_ID,
                secret=DEFAULT_SECRET,
                object_id="7b8e2f57-0000-4000-8000-00000000a11c",
            )
        ]
    )
    token_lifetime_s: int = Field(default=3600, ge=1)
    assertion_leeway_s: int = Field(default=300, ge=0)

    def client(self, client_id: str) -> ClientApp | None:
        return next((c for c in self.clients if c.client_id == client_id), None)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprints(certificate_pem: str) -> tuple[str, str]:
    """(x5t, x5t#S256) of a PEM certificate, base64url as JWT headers carry them."""
    cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    der = cert.public_bytes(serialization.Encoding.DER)
    return _b64(hashlib.sha1(der).digest()), _b64(hashlib.sha256(der).digest())  # noqa: S324


class Signer:
    """The emulator's token-signing key and the JWKS that publishes it."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = _b64(hashlib.sha256(str(uuid.uuid4()).encode()).digest()[:15])

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "kty": "RSA", "alg": "RS256"}]}

    def issue(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims, self.key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"}
        )


class InvalidToken(Exception):
    """The bearer token is missing, malformed, not ours, for another resource or expired."""


class TokenVerifier:
    """Checks access tokens against the identity emulator's JWKS (fetched over HTTPS and
    re-fetched when a token names a key it does not know)."""

    def __init__(self, jwks_url: str, *, verify: ssl.SSLContext | bool = True) -> None:
        self.jwks_url = jwks_url
        self.verify = verify
        self._keys: dict[str, Any] = {}

    async def _refresh(self) -> None:
        async with httpx.AsyncClient(verify=self.verify, timeout=10) as http:
            response = await http.get(self.jwks_url)
            response.raise_for_status()
        self._keys = {
            key["kid"]: RSAAlgorithm.from_jwk(json.dumps(key)) for key in response.json()["keys"]
        }

    async def verify_token(self, token: str, *, audience: str) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        if kid not in self._keys:
            try:
                await self._refresh()
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                raise InvalidToken(f"cannot fetch the signing keys: {exc}") from exc
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("unknown signing key")
        audiences = [audience.rstrip("/"), audience.rstrip("/") + "/"]
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=["RS256"], audience=audiences, leeway=0
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid token: {exc}") from exc
        return claims


def now() -> int:
    return int(time.time())
