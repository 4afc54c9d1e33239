"""The identity emulator's ASGI app: discovery, JWKS and the token endpoint, behind the
shared fault layer."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import jwt
from cryptography import x509
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.emulators.identity.tokens import ClientApp, Options, Signer, thumbprints
from sandbox.emulators.knobs import FaultLayer
from sandbox.emulators.options import options_routes

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def aad_error(status: int, error: str, code: int, description: str) -> JSONResponse:
    """Entra's error body: the AADSTS code leads the description and is in error_codes."""
    trace = str(uuid.uuid4())
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return JSONResponse(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {trace} "
            f"Correlation ID: {uuid.uuid4()} Timestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": str(uuid.uuid4()),
        },
        status,
    )


def render_fault(status: int, message: str, headers: dict[str, str]) -> Response:
    if status == 429:
        response = aad_error(429, "temporarily_unavailable", 50196, message)
    else:
        response = aad_error(status, "temporarily_unavailable", 90033, message)
    response.headers.update(headers)
    return response


class _Rejected(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


class IdentityEmulator:
    """One emulated Entra tenant. `asgi` is what a server runs."""

    def __init__(self, options: Options | None = None) -> None:
        self.initial_options = options or Options()
        self.options = self.initial_options.model_copy(deep=True)
        self.signer = Signer()
        self.tokens_issued = 0
        self.failed = 0
        self.by_method: dict[str, int] = {}
        self.app = Starlette(routes=self._routes())
        self.faults = FaultLayer(
            self.app,
            render_error=render_fault,
            on_reset=self.reset,
            stats=self.stats,
            admin_routes=self._admin_routes(),
        )
        self.asgi = self.faults

    def reset(self) -> None:
        self.options = self.initial_options.model_copy(deep=True)
        self.tokens_issued = 0
        self.failed = 0
        self.by_method = {}

    def stats(self) -> dict[str, Any]:
        return {
            "tokens_issued": self.tokens_issued,
            "failed_token_requests": self.failed,
            "tokens_by_method": dict(self.by_method),
        }

    def _tenant_ok(self, tenant: str) -> bool:
        return tenant in (self.options.tenant, self.options.tenant_id)

    def _unknown_tenant(self, tenant: str) -> Response:
        return aad_error(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
            "and are signing into the correct cloud.",
        )

    # -- endpoints -----------------------------------------------------------------------
    async def discovery(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not self._tenant_ok(tenant):
            return self._unknown_tenant(tenant)
        base = str(request.base_url).rstrip("/")
        tid = self.options.tenant_id
        return JSONResponse(
            {
                "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/{tid}/v2.0",
                "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
            }
        )

    async def keys(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not self._tenant_ok(tenant):
            return self._unknown_tenant(tenant)
        return JSONResponse(self.signer.jwks())

    async def token(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not self._tenant_ok(tenant):
            self.failed += 1
            return self._unknown_tenant(tenant)
        # application/x-www-form-urlencoded, parsed here (no multipart dependency needed)
        fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        try:
            fields = _basic_credentials(request.headers.get("authorization"), fields)
            client, method = self._authenticate(fields, str(request.url).split("?")[0])
            resource = self._resource(fields.get("scope", ""))
        except _Rejected as rejected:
            self.failed += 1
            return rejected.response
        issued = int(time.time())
        lifetime = self.options.token_lifetime_s
        tid = self.options.tenant_id
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{tid}/",
            "iat": issued,
            "nbf": issued,
            "exp": issued + lifetime,
            "appid": client.client_id,
            "azp": client.client_id,
            "appidacr": "2" if method == "certificate" else "1",
            "idtyp": "app",
            "oid": client.object_id,
            "sub": client.object_id,
            "tid": tid,
            "uti": str(uuid.uuid4()),
            "ver": "1.0",
        }
        self.tokens_issued += 1
        self.by_method[method] = self.by_method.get(method, 0) + 1
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": self.signer.issue(claims),
            },
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    # -- checks ---------------------------------------------------------------------------
    def _authenticate(self, fields: dict[str, str], endpoint: str) -> tuple[ClientApp, str]:
        if fields.get("grant_type") != "client_credentials":
            raise _Rejected(
                aad_error(
                    400,
                    "unsupported_grant_type",
                    70003,
                    "The app requested an unsupported grant type "
                    f"'{fields.get('grant_type', '')}'.",
                )
            )
        client_id = fields.get("client_id", "")
        client = self.options.client(client_id)
        if client is None:
            raise _Rejected(
                aad_error(
                    400,
                    "unauthorized_client",
                    700016,
                    f"Application with identifier '{client_id}' was not found in the directory "
                    f"'{self.options.tenant}'.",
                )
            )
        if "client_assertion" in fields:
            if fields.get("client_assertion_type") != ASSERTION_TYPE:
                raise _Rejected(
                    aad_error(400, "invalid_request", 900023, "Invalid client_assertion_type.")
                )
            self._check_assertion(client, fields["client_assertion"], endpoint)
            return client, "certificate"
        secret = fields.get("client_secret")
        if not secret:
            raise _Rejected(
                aad_error(
                    401,
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' "
                    "or 'client_secret'.",
                )
            )
        if client.secret is None or secret != client.secret:
            raise _Rejected(
                aad_error(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the "
                    f"request is the client secret value, not the client secret ID, for a "
                    f"secret added to app '{client.client_id}'.",
                )
            )
        return client, "secret"

    def _check_assertion(self, client: ClientApp, assertion: str, endpoint: str) -> None:
        def bad(code: int, text: str) -> _Rejected:
            return _Rejected(aad_error(401, "invalid_client", code, text))

        if client.certificate_pem is None:
            raise bad(
                700027,
                "Client assertion failed signature validation. No certificate is "
                f"registered for app '{client.client_id}'.",
            )
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise bad(50027, "JWT token is invalid or malformed.") from None
        x5t, x5t256 = thumbprints(client.certificate_pem)
        # Thumbprints are compared without base64 padding (MSAL sends it, others do not).
        sent256 = str(header.get("x5t#S256", x5t256)).rstrip("=")
        if sent256 != x5t256 or str(header.get("x5t", x5t)).rstrip("=") != x5t:
            raise bad(
                700027,
                "Client assertion failed signature validation. The key was not "
                f"found: the thumbprint does not match a certificate of app "
                f"'{client.client_id}'.",
            )
        key = x509.load_pem_x509_certificate(client.certificate_pem.encode()).public_key()
        try:
            claims = jwt.decode(
                assertion,
                key,  # type: ignore[arg-type]
                algorithms=["PS256", "RS256"],
                audience=endpoint,
                leeway=self.options.assertion_leeway_s,
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise bad(700024, "Client assertion is not within its valid time range.") from None
        except jwt.InvalidAudienceError:
            raise bad(
                700212,
                "No matching federated identity record found for presented assertion audience.",
            ) from None
        except jwt.InvalidSignatureError:
            raise bad(700027, "Client assertion failed signature validation.") from None
        except jwt.PyJWTError:
            raise bad(50027, "JWT token is invalid or malformed.") from None
        if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
            raise bad(
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter.",
            )

    def _resource(self, scope: str) -> str:
        scopes = scope.split()
        defaults = [s for s in scopes if s.endswith("/.default")]
        if len(defaults) != 1:
            raise _Rejected(
                aad_error(
                    400,
                    "invalid_scope",
                    1002012,
                    f"The provided value for scope {scope} is not valid. Client credential "
                    "flows must have a scope value with /.default suffixed to the resource "
                    "identifier (application ID URI).",
                )
            )
        return defaults[0][: -len("/.default")]

    # -- routes ---------------------------------------------------------------------------
    def _routes(self) -> list[BaseRoute]:
        return [
            Route("/{tenant}/v2.0/.well-known/openid-configuration", self.discovery),
            Route("/{tenant}/discovery/v2.0/keys", self.keys),
            Route("/{tenant}/oauth2/v2.0/token", self.token, methods=["POST"]),
        ]

    def _admin_routes(self) -> list[BaseRoute]:
        return [
            *options_routes(self),
        ]


def _basic_credentials(header: str | None, fields: dict[str, str]) -> dict[str, str]:
    """`client_secret_basic` (RFC 6749 §2.3.1): `Authorization: Basic base64(id:secret)`,
    each part form-urlencoded, merged into the form fields `client_secret_post` uses."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return fields
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        malformed = "The client credentials in the Authorization header are malformed."
        raise _Rejected(aad_error(401, "invalid_client", 7000216, malformed))
    client_id, secret = unquote_plus(client_id), unquote_plus(secret)
    if fields.get("client_id", client_id) != client_id:
        mismatch = "The client_id in the body does not match the one in the Authorization header."
        raise _Rejected(aad_error(400, "invalid_request", 900144, mismatch))
    return {**fields, "client_id": client_id, "client_secret": secret}


def create_app(options: Options | None = None) -> IdentityEmulator:
    return IdentityEmulator(options)
