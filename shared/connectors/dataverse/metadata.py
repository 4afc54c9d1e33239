"""Dataverse table definitions through the Web API's metadata endpoints (docs/wire-notes.md):
`EntityDefinitions(LogicalName='x')` with its attributes and alternate keys (and each key's
index status), string lengths through the StringAttributeMetadata cast; and the two writes
provisioning needs: a string column (POST .../Attributes) and an alternate key (POST .../Keys)."""

from __future__ import annotations

from typing import Any

from shared.connectors.dataverse.client import DataverseClient, _json
from shared.connectors.metadata import FieldInfo, KeyInfo, ObjectInfo

CRM = "Microsoft.Dynamics.CRM."


def _definition(logical: str) -> str:
    if not logical.replace("_", "").isalnum():
        raise ValueError(f"not a table logical name: {logical!r}")
    return f"EntityDefinitions(LogicalName='{logical}')"


async def _get(client: DataverseClient, resource: str, params: dict[str, str]) -> Any:
    response = await client._request(
        "GET",
        client.url(resource),
        action=f"read {resource}",
        params=params,
        missing_ok=True,
    )
    return None if response is None else _json(response, f"read {resource}")


async def _post(client: DataverseClient, resource: str, body: dict[str, Any], action: str) -> None:
    """A metadata create: not idempotent, so sent once and never retried."""
    await client._request(
        "POST", client.url(resource), action=action, body=body, ok=(204, 201), idempotent=False
    )


async def read_table(client: DataverseClient, logical: str) -> ObjectInfo | None:
    """The table's set name, primary id, attributes (strings with MaxLength) and keys, or
    None when the environment has no such table (404)."""
    base = _definition(logical)
    entity = await _get(
        client,
        base,
        {
            "$select": "LogicalName,EntitySetName,PrimaryIdAttribute",
            "$expand": "Attributes($select=LogicalName,AttributeType,IsCustomAttribute),"
            "Keys($select=LogicalName,KeyAttributes,EntityKeyIndexStatus)",
        },
    )
    if entity is None:
        return None
    lengths: dict[str, int] = {}
    for cast in ("StringAttributeMetadata", "MemoAttributeMetadata"):
        answer = await _get(
            client, f"{base}/Attributes/{CRM}{cast}", {"$select": "LogicalName,MaxLength"}
        )
        for item in (answer or {}).get("value", []):
            if isinstance(item.get("MaxLength"), int):
                lengths[item["LogicalName"]] = item["MaxLength"]
    info = ObjectInfo(
        logical, entity_set=entity.get("EntitySetName"), primary_id=entity.get("PrimaryIdAttribute")
    )
    for item in entity.get("Attributes", []):
        name = item.get("LogicalName", "")
        info.fields[name] = FieldInfo(
            name,
            item.get("AttributeType") or "",
            lengths.get(name),
            custom=bool(item.get("IsCustomAttribute")),
        )
    info.keys = [
        KeyInfo(
            k.get("LogicalName", ""),
            tuple(k.get("KeyAttributes") or ()),
            k.get("EntityKeyIndexStatus") or "",
        )
        for k in entity.get("Keys", [])
    ]
    return info


def _label(text: str) -> dict[str, Any]:
    return {
        "@odata.type": f"{CRM}Label",
        "LocalizedLabels": [
            {"@odata.type": f"{CRM}LocalizedLabel", "Label": text, "LanguageCode": 1033}
        ],
    }


async def create_string_column(
    client: DataverseClient,
    logical: str,
    schema_name: str,
    max_length: int,
    label: str,
    description: str | None = None,
) -> None:
    body = {
        "@odata.type": f"{CRM}StringAttributeMetadata",
        "AttributeType": "String",
        "AttributeTypeName": {"Value": "StringType"},
        "SchemaName": schema_name,
        "MaxLength": max_length,
        "FormatName": {"Value": "Text"},
        "RequiredLevel": {
            "Value": "None",
            "CanBeChanged": True,
            "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
        },
        "DisplayName": _label(label),
        "Description": _label(description or f"{label} (written by Shuttle; an alternate key)"),
    }
    await _post(
        client,
        f"{_definition(logical)}/Attributes",
        body,
        f"create column {schema_name} on {logical}",
    )


async def create_money_column(
    client: DataverseClient, logical: str, schema_name: str, label: str, description: str
) -> None:
    """A currency column (Dataverse adds its `<name>_base` twin in the base currency); its
    precision is the record's currency's (PrecisionSource 2), as the standard totals."""
    body = {
        "@odata.type": f"{CRM}MoneyAttributeMetadata",
        "AttributeType": "Money",
        "AttributeTypeName": {"Value": "MoneyType"},
        "SchemaName": schema_name,
        "PrecisionSource": 2,
        "MinValue": -922337203685477.0,
        "MaxValue": 922337203685477.0,
        "RequiredLevel": {
            "Value": "None",
            "CanBeChanged": True,
            "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
        },
        "DisplayName": _label(label),
        "Description": _label(description),
    }
    await _post(
        client,
        f"{_definition(logical)}/Attributes",
        body,
        f"create column {schema_name} on {logical}",
    )


async def create_key(
    client: DataverseClient, logical: str, schema_name: str, columns: list[str], label: str
) -> None:
    body = {"SchemaName": schema_name, "DisplayName": _label(label), "KeyAttributes": columns}
    await _post(
        client,
        f"{_definition(logical)}/Keys",
        body,
        f"create alternate key {schema_name} on {logical}",
    )
