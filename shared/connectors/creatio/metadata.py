"""Creatio's `$metadata` (the OData 4 EDMX, docs/wire-notes.md C3) as ObjectInfo per entity set:
every property with its Edm type and MaxLength."""

from __future__ import annotations

from defusedxml import ElementTree

from shared.connectors.creatio.client import CreatioClient
from shared.connectors.creatio.config import SYSTEM
from shared.connectors.errors import ConnectorError
from shared.connectors.metadata import FieldInfo, ObjectInfo
from shared.errors import ErrorCategory

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def parse_metadata(document: bytes) -> dict[str, ObjectInfo]:
    """EDMX -> {entity set name: ObjectInfo} (entity sets without a type are skipped)."""
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as exc:
        raise ConnectorError(
            f"read $metadata: Creatio answered a document that is not XML ({exc})",
            category=ErrorCategory.INTERNAL,
            system=SYSTEM,
            code="bad_answer",
        ) from None
    types: dict[str, dict[str, FieldInfo]] = {}
    for schema in root.iter(f"{EDM}Schema"):
        namespace = schema.get("Namespace", "")
        for entity_type in schema.findall(f"{EDM}EntityType"):
            fields = {}
            for prop in entity_type.findall(f"{EDM}Property"):
                name = prop.get("Name", "")
                length = prop.get("MaxLength")
                size = int(length) if length and length.isdigit() else None
                fields[name] = FieldInfo(
                    name, prop.get("Type", ""), size, custom=name.startswith("Usr")
                )
            types[f"{namespace}.{entity_type.get('Name')}"] = fields
    out: dict[str, ObjectInfo] = {}
    for entity_set in root.iter(f"{EDM}EntitySet"):
        columns = types.get(entity_set.get("EntityType", ""))
        if columns is not None:
            name = entity_set.get("Name", "")
            out[name] = ObjectInfo(name, columns, entity_set=name)
    return out


async def read_objects(client: CreatioClient) -> dict[str, ObjectInfo]:
    response = await client.http.call(
        "GET",
        client.http.url("$metadata"),
        action="read $metadata",
        headers={"Accept": "application/xml"},
    )
    return parse_metadata(response.content)
