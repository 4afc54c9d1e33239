"""Who a request names, in each SHUTTLE_AUTH_MODE: App Service principals and their roles,
function keys by fingerprint or configured name, and headers that must not be trusted."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from sandbox.principal import encode_principal
from shared.access.caller import Role, decode_principal, identify, key_fingerprint, parse_key_names


def principal(claims: list[dict[str, str]], **top: str) -> str:
    body = {"auth_typ": "aad", "claims": claims, **top}
    return base64.b64encode(json.dumps(body).encode()).decode()


def test_appservice_principal_names_the_caller_and_its_highest_role() -> None:
    value = encode_principal("ada@contoso.example", ["Shuttle.Viewer", "Shuttle.Admin"], "oid-1")
    caller = identify({"X-MS-CLIENT-PRINCIPAL": value}, {}, mode="appservice", key_names={})
    assert caller is not None
    assert (caller.kind, caller.name, caller.object_id) == (
        "principal",
        "ada@contoso.example",
        "oid-1",
    )
    assert caller.role is Role.ADMIN
    assert caller.roles == ["Shuttle.Admin", "Shuttle.Viewer"]


def test_entra_v2_claim_types_and_unknown_roles() -> None:
    value = principal(
        [
            {"typ": "preferred_username", "val": "otto@contoso.example"},
            {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "o2"},
            {
                "typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
                "val": "Shuttle.Operator",
            },
            {"typ": "roles", "val": "Some.Other.App"},
        ],
    )
    caller = decode_principal(value)
    assert caller is not None and caller.role is Role.OPERATOR
    assert (caller.name, caller.object_id) == ("otto@contoso.example", "o2")
    nobody = decode_principal(principal([{"typ": "name", "val": "guest"}]))
    assert nobody is not None and nobody.role is Role.NONE


def test_unreadable_principal_is_no_principal() -> None:
    for value in ("not base64 !!", base64.b64encode(b"[1, 2]").decode(), "e30", ""):
        caller = identify({"x-ms-client-principal": value}, {}, mode="appservice", key_names={})
        assert caller is None or caller.role is Role.NONE


def test_appservice_mode_needs_a_principal_and_ignores_keys() -> None:
    assert (
        identify({"x-functions-key": "k"}, {"code": "k"}, mode="appservice", key_names={}) is None
    )


def test_keys_mode_ignores_principals_and_names_keys_by_fingerprint() -> None:
    forged = encode_principal("mallory", ["Shuttle.Viewer"])
    caller = identify(
        {"X-MS-CLIENT-PRINCIPAL": forged, "x-functions-key": "s3cret"},
        {},
        mode="keys",
        key_names={},
    )
    assert caller is not None and caller.role is Role.ADMIN and caller.kind == "key"
    assert caller.name == f"key {key_fingerprint('s3cret')}"
    assert "s3cret" not in caller.model_dump_json()
    names = parse_key_names(f"portal={key_fingerprint('s3cret')}, broken, =x")
    named = identify({}, {"code": "s3cret"}, mode="keys", key_names=names)
    assert named is not None and named.name == f"key portal ({key_fingerprint('s3cret')})"
    local = identify({"X-MS-CLIENT-PRINCIPAL": forged}, {}, mode="keys", key_names={})
    assert local is not None and (local.kind, local.name, local.role) == (
        "local",
        "local",
        Role.ADMIN,
    )


def test_routes_are_anonymous_to_the_host_only_behind_app_service_auth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import azure.functions as func

    from functions.guard import api_auth_level
    from shared.settings import get_settings

    try:
        monkeypatch.setenv("SHUTTLE_AUTH_MODE", "appservice")
        get_settings.cache_clear()
        assert api_auth_level() is func.AuthLevel.ANONYMOUS
        monkeypatch.setenv("SHUTTLE_AUTH_MODE", "keys")
        get_settings.cache_clear()
        assert api_auth_level() is func.AuthLevel.FUNCTION
        monkeypatch.setenv("SHUTTLE_AUTH_MODE", "none")
        get_settings.cache_clear()
        with pytest.raises(ValidationError, match="SHUTTLE_AUTH_MODE"):
            get_settings()
    finally:
        monkeypatch.delenv("SHUTTLE_AUTH_MODE")
        get_settings.cache_clear()
