"""The caller of a control route, and the role it acts with.

Two modes (SHUTTLE_AUTH_MODE):
- `keys` (default): the Functions host has already checked the function key (FUNCTION auth
  level), so a key holder is trusted and acts as admin. The key's name never reaches a
  Python worker (the host keeps its claims to itself; azure.functions.HttpRequest has no
  identities), so the caller is named by a fingerprint of the key (the first 12 hex digits of
  its SHA-256), or by the name SHUTTLE_KEY_NAMES gives that fingerprint. Without a key (only
  possible on the local host with no SHUTTLE_LOCAL_KEY) the caller is `local`, also admin.
  X-MS-CLIENT-PRINCIPAL is ignored: without App Service Authentication in front, anybody
  can send it.
- `appservice`: App Service Authentication (Entra ID) sits in front, removes any
  X-MS-CLIENT-PRINCIPAL a client sends and sets its own, so the header is trusted: the
  caller's roles are its `roles` claims (app roles Shuttle.Viewer, .Operator, .Admin).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from enum import IntEnum
from typing import Literal

from pydantic import BaseModel, ValidationError

PRINCIPAL_HEADER = "x-ms-client-principal"
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"

# Claim types App Service puts in the principal (Entra ID tokens, v1 and v2).
_OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
_NAME_CLAIMS = (
    "name",
    "preferred_username",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
)
_ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")


class Role(IntEnum):
    """Ordered: each role may do what the ones below it may."""

    NONE = 0
    VIEWER = 1  # read
    OPERATOR = 2  # start, stop, run, retry, cancel
    ADMIN = 3  # change flow properties and settings

    @property
    def app_role(self) -> str:
        return f"Shuttle.{self.name.title()}"


APP_ROLES = {role.app_role: role for role in Role if role is not Role.NONE}


class Caller(BaseModel):
    kind: Literal["principal", "key", "local"]
    name: str
    object_id: str | None = None
    roles: list[str] = []
    role: Role

    @property
    def label(self) -> str:
        return f"{self.name} ({self.object_id})" if self.object_id else self.name


class _Claim(BaseModel):
    typ: str
    val: str


class _ClientPrincipal(BaseModel):
    auth_typ: str | None = None
    name_typ: str | None = None
    role_typ: str | None = None
    claims: list[_Claim] = []


def key_fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def parse_key_names(raw: str | None) -> dict[str, str]:
    """`name=fingerprint,name=fingerprint` -> {fingerprint: name}."""
    names: dict[str, str] = {}
    for part in (raw or "").split(","):
        name, sep, fingerprint = part.strip().partition("=")
        if sep and name.strip() and fingerprint.strip():
            names[fingerprint.strip().lower()] = name.strip()
    return names


def decode_principal(value: str) -> Caller | None:
    """The caller App Service describes in X-MS-CLIENT-PRINCIPAL (base64 JSON); None when
    the header cannot be read (treated as no principal at all)."""
    try:
        raw = json.loads(base64.b64decode(value + "=" * (-len(value) % 4), validate=False))
        principal = _ClientPrincipal.model_validate(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, ValidationError):
        return None

    def first(types: tuple[str, ...]) -> str | None:
        for claim in principal.claims:
            if claim.typ in types and claim.val:
                return claim.val
        return None

    name_types = ((principal.name_typ,) if principal.name_typ else ()) + _NAME_CLAIMS
    role_types = ((principal.role_typ,) if principal.role_typ else ()) + _ROLE_CLAIMS
    roles = sorted({c.val for c in principal.claims if c.typ in role_types})
    role = max((APP_ROLES[r] for r in roles if r in APP_ROLES), default=Role.NONE)
    object_id = first(_OBJECT_ID_CLAIMS)
    name = first(name_types) or object_id or "unnamed principal"
    return Caller(kind="principal", name=name, object_id=object_id, roles=roles, role=role)


def identify(
    headers: Mapping[str, str],
    params: Mapping[str, str],
    *,
    mode: str,
    key_names: Mapping[str, str],
) -> Caller | None:
    """The caller of a request, or None when it names nobody this mode accepts (401)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if mode == "appservice":
        value = lowered.get(PRINCIPAL_HEADER)
        return decode_principal(value) if value else None
    key = lowered.get(KEY_HEADER) or params.get(KEY_QUERY)
    if key:
        fingerprint = key_fingerprint(key)
        name = key_names.get(fingerprint)
        label = f"key {name} ({fingerprint})" if name else f"key {fingerprint}"
        return Caller(kind="key", name=label, role=Role.ADMIN)
    return Caller(kind="local", name="local", role=Role.ADMIN)
