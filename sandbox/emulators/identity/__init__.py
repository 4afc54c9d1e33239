"""Identity-provider emulator (Microsoft Entra ID's v2.0 endpoints, client credentials only),
for the Dataverse sandbox: HTTPS on 127.0.0.1:8204 with the sandbox CA (`sandbox/tls.py`).

MSAL talks to it as to login.microsoftonline.com when built with `instance_discovery=False`
and the sandbox CA as its trust:

- `GET /{tenant}/v2.0/.well-known/openid-configuration`: OpenID discovery (issuer,
  authorization/token endpoints, jwks_uri). An unknown tenant answers 400 `invalid_tenant`
  (AADSTS90002), as Entra does.
- `POST /{tenant}/oauth2/v2.0/token`: `grant_type=client_credentials`, `scope` one resource's
  `/.default` (the resource as given, port included), and either a client secret — in the
  form body (`client_secret_post`, what MSAL sends) or as `Authorization: Basic`
  (`client_secret_basic`, form-urlencoded id and secret) — or a certificate client assertion
  (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`) whose
  signature is checked against the client's configured certificate (PS256 with
  `x5t#S256`, as MSAL ≥1.35 sends, or RS256 with `x5t`), with `aud` = the token endpoint,
  `iss` = `sub` = the client id and a current `exp`/`nbf`.
- `GET /{tenant}/discovery/v2.0/keys`: the JWKS of the keys that sign access tokens.

Access tokens are RS256 JWTs (`aud` = the resource, `appid`/`azp` = the client, `oid` = the
application user, `tid`, `iat`/`nbf`/`exp`, a unique `uti`), valid `token_lifetime_s`
(default 3600 s). Errors use Entra's JSON (`error`, `error_description` starting with the
AADSTS code, `error_codes`, `timestamp`, `trace_id`, `correlation_id`).

Chosen where Entra's exact behaviour is not documented: a wrong secret answers 401
`invalid_client` AADSTS7000215; an unknown client 400 `unauthorized_client` AADSTS700016; a
bad assertion signature 401 `invalid_client` AADSTS700027; an expired assertion 401
AADSTS700024; a scope that is not `<resource>/.default` 400 `invalid_scope` AADSTS1002012;
a malformed Basic header 401 `invalid_client` AADSTS7000216; a Basic client id that differs
from the body's 400 `invalid_request` AADSTS900144. Resources that trust this emulator
(`TokenVerifier`) check `exp` with no leeway: a token is refused once its lifetime is over.
The signing key is made per emulator instance (resources fetch the JWKS, as real ones do).

Admin API: the fault layer's `/_emulator/{knobs,faults,calls,requests,reset}` plus
`/_emulator/options` (GET/PUT: tenant, clients, token lifetime).
"""

from sandbox.emulators.identity.app import IdentityEmulator, create_app
from sandbox.emulators.identity.tokens import ClientApp, Options, TokenVerifier

DEFAULT_PORT = 8204
SANDBOX_TENANT = "shuttle-sandbox"
SANDBOX_CLIENT_ID = "00000000-0000-0000-0000-00000000a11c"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 (the sandbox's public default)

__all__ = [
    "DEFAULT_PORT",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SANDBOX_TENANT",
    "ClientApp",
    "IdentityEmulator",
    "Options",
    "TokenVerifier",
    "create_app",
]
