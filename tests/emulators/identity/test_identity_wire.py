"""The identity emulator's wire behaviour: discovery, tokens, client assertions."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from sandbox.emulators.identity import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TENANT
from sandbox.emulators.identity.tokens import thumbprints
from tests.support.dataverse import RunningDataverse, client_certificate, trust


@pytest.fixture
def http(dataverse: RunningDataverse) -> httpx.Client:
    return httpx.Client(base_url=dataverse.authority, verify=trust(dataverse.ca), timeout=10)


def _token_form(**extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": SANDBOX_CLIENT_ID,
        "scope": "https://127.0.0.1:8203/.default",
        **extra,
    }


def test_openid_discovery(http: httpx.Client, dataverse: RunningDataverse) -> None:
    doc = http.get(f"/{SANDBOX_TENANT}/v2.0/.well-known/openid-configuration").json()
    assert doc["token_endpoint"] == f"{dataverse.authority}/{SANDBOX_TENANT}/oauth2/v2.0/token"
    assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]
    assert http.get(doc["jwks_uri"]).json()["keys"][0]["kty"] == "RSA"
    unknown = http.get("/nope/v2.0/.well-known/openid-configuration")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_tenant"
    assert unknown.json()["error_codes"] == [90002]


def test_client_secret_gives_an_expiring_token_for_the_resource(http: httpx.Client) -> None:
    response = http.post(
        f"/{SANDBOX_TENANT}/oauth2/v2.0/token",
        data=_token_form(client_secret=SANDBOX_CLIENT_SECRET),
    )
    body = response.json()
    assert response.status_code == 200 and body["token_type"] == "Bearer"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://127.0.0.1:8203"
    assert claims["appid"] == SANDBOX_CLIENT_ID
    assert claims["exp"] - claims["iat"] == body["expires_in"] == 3600


def test_token_errors(http: httpx.Client) -> None:
    url = f"/{SANDBOX_TENANT}/oauth2/v2.0/token"
    wrong = http.post(url, data=_token_form(client_secret="nope"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.json()["error_description"].startswith("AADSTS7000215")
    assert "nope" not in wrong.text
    unknown = http.post(url, data={**_token_form(client_secret="x"), "client_id": "other"})
    assert unknown.status_code == 400 and unknown.json()["error"] == "unauthorized_client"
    scope = http.post(
        url,
        data={
            **_token_form(client_secret=SANDBOX_CLIENT_SECRET),
            "scope": "https://127.0.0.1:8203/user_impersonation",
        },
    )
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"


def test_client_secret_basic_is_accepted_too(http: httpx.Client) -> None:
    url = f"/{SANDBOX_TENANT}/oauth2/v2.0/token"
    form = {k: v for k, v in _token_form().items() if k != "client_id"}
    basic = http.post(url, data=form, auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET))
    assert basic.status_code == 200
    claims = jwt.decode(basic.json()["access_token"], options={"verify_signature": False})
    assert claims["appid"] == SANDBOX_CLIENT_ID
    wrong = http.post(url, data=form, auth=(SANDBOX_CLIENT_ID, "nope"))
    assert wrong.status_code == 401 and wrong.json()["error_codes"] == [7000215]
    other = http.post(
        url, data={**form, "client_id": "other"}, auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
    )
    assert other.status_code == 400 and other.json()["error"] == "invalid_request"
    garbage = http.post(url, data=form, headers={"Authorization": "Basic !!!"})
    assert garbage.status_code == 401 and garbage.json()["error"] == "invalid_client"


def _assertion(pem: str, cert: str, audience: str, **overrides: object) -> str:
    key = serialization.load_pem_private_key(pem.split("-----BEGIN CERTIFICATE")[0].encode(), None)
    now = int(time.time())
    claims = {
        "aud": audience,
        "iss": SANDBOX_CLIENT_ID,
        "sub": SANDBOX_CLIENT_ID,
        "jti": str(uuid.uuid4()),
        "nbf": now,
        "exp": now + 600,
        **overrides,
    }
    _, x5t256 = thumbprints(cert)
    return jwt.encode(claims, key, algorithm="PS256", headers={"x5t#S256": x5t256})  # type: ignore[arg-type]


def test_certificate_assertions_are_checked(
    http: httpx.Client, dataverse: RunningDataverse
) -> None:
    pem, cert = client_certificate()
    dataverse.identity_admin.options(
        clients=[{"client_id": SANDBOX_CLIENT_ID, "certificate_pem": cert}]
    )
    url = f"/{SANDBOX_TENANT}/oauth2/v2.0/token"
    audience = f"{dataverse.authority}{url}"
    kind = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    def post(assertion: str) -> httpx.Response:
        return http.post(
            url, data=_token_form(client_assertion=assertion, client_assertion_type=kind)
        )

    assert post(_assertion(pem, cert, audience)).status_code == 200
    other_pem, _ = client_certificate("intruder")
    forged = post(_assertion(other_pem, cert, audience))
    assert forged.status_code == 401
    assert forged.json()["error_description"].startswith("AADSTS700027")
    expired = post(_assertion(pem, cert, audience, exp=int(time.time()) - 3600))
    assert expired.json()["error_description"].startswith("AADSTS700024")
    elsewhere = post(_assertion(pem, cert, "https://elsewhere/token"))
    assert elsewhere.status_code == 401
    assert dataverse.identity_admin.stats()["tokens_by_method"] == {"certificate": 1}
