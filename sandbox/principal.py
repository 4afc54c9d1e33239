"""X-MS-CLIENT-PRINCIPAL values as App Service Authentication sends them, so the local host
and the tests can act as a given role (SHUTTLE_AUTH_MODE=appservice, shared/access/caller.py)."""

from __future__ import annotations

import base64
import json

OBJECT_ID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"


def encode_principal(name: str, roles: list[str], object_id: str | None = None) -> str:
    claims = [{"typ": "name", "val": name}]
    if object_id:
        claims.append({"typ": OBJECT_ID_CLAIM, "val": object_id})
    claims += [{"typ": "roles", "val": role} for role in roles]
    body = {"auth_typ": "aad", "name_typ": "name", "role_typ": "roles", "claims": claims}
    return base64.b64encode(json.dumps(body).encode()).decode()
