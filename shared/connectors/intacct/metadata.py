"""Intacct object definitions through `lookup` (docs/wire-notes.md): an object's fields with
their DATATYPE and whether they are custom; None when the company has no such object.
Several objects are looked up in one request (one function each)."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # building only

from shared.connectors.intacct.client import Call, IntacctClient
from shared.connectors.metadata import FieldInfo, ObjectInfo

NO_OBJECT = "DL02000001"  # "Object definition ... not found"


def lookup_element(object: str) -> ET.Element:
    node = ET.Element("lookup")
    ET.SubElement(node, "object").text = object
    return node


def parse_lookup(object: str, data: ET.Element | None) -> ObjectInfo:
    info = ObjectInfo(object)
    if data is None:
        return info
    for field in data.iter("Field"):
        name = (field.findtext("ID") or "").strip()
        if name:
            custom = (field.findtext("ISCUSTOM") or "").strip().lower() == "true"
            info.fields[name] = FieldInfo(
                name, (field.findtext("DATATYPE") or "").strip(), custom=custom
            )
    return info


async def read_objects(client: IntacctClient, objects: list[str]) -> dict[str, ObjectInfo | None]:
    calls = [Call(lookup_element(name), f"lookup {name}") for name in objects]
    out: dict[str, ObjectInfo | None] = {}
    for name, call, result in zip(objects, calls, await client.execute(calls), strict=True):
        if not result.ok and any(e.errorno == NO_OBJECT for e in result.errors):
            out[name] = None
            continue
        out[name] = parse_lookup(name, client.raise_for(result, call).data)
    return out
