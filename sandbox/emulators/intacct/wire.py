"""XML in and out: requests are parsed with defusedxml, answers built with ElementTree (which
escapes every value), both in the envelope shapes of docs/wire-notes.md I1 and I3."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # building only; parsing uses defusedxml
from collections.abc import Iterable
from typing import Any

from defusedxml import ElementTree as SafeET
from starlette.responses import Response

MEDIA_TYPE = "text/xml; charset=UTF-8"
ErrorEntry = tuple[str, str, str, str]  # errorno, description, description2, correction


class MalformedRequest(Exception):
    """The body is not XML, or not a request envelope: a control-level XL03000003."""


def parse(body: bytes) -> ET.Element:
    try:
        root = SafeET.fromstring(body)
    except Exception as exc:  # ParseError, or defusedxml's entity/DTD refusals
        raise MalformedRequest(str(exc)) from None
    if root.tag != "request":
        raise MalformedRequest(f"root element is <{root.tag}>, expected <request>")
    return root


def text(parent: ET.Element | None, path: str, default: str = "") -> str:
    if parent is None:
        return default
    found = parent.find(path)
    if found is None or found.text is None:
        return default
    return found.text


def to_value(element: ET.Element) -> Any:
    """An element as a value: text when it has no children, else a dict of its children
    (a name that repeats becomes a list)."""
    children = list(element)
    if not children:
        return element.text or ""
    out: dict[str, Any] = {}
    for child in children:
        value = to_value(child)
        if child.tag in out:
            existing = out[child.tag]
            if not isinstance(existing, list):
                out[child.tag] = [existing]
            out[child.tag].append(value)
        else:
            out[child.tag] = value
    return out


def add(parent: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            add(parent, name, item)
        return
    child = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, item in value.items():
            add(child, key, item)
    elif value is not None:
        child.text = str(value)


def errors_element(parent: ET.Element, errors: Iterable[ErrorEntry]) -> ET.Element:
    block = ET.SubElement(parent, "errormessage")
    for errorno, description, description2, correction in errors:
        error = ET.SubElement(block, "error")
        ET.SubElement(error, "errorno").text = errorno
        ET.SubElement(error, "description").text = description or None
        ET.SubElement(error, "description2").text = description2 or None
        ET.SubElement(error, "correction").text = correction or None
    return block


def control_element(parent: ET.Element, status: str, control: dict[str, str]) -> None:
    block = ET.SubElement(parent, "control")
    ET.SubElement(block, "status").text = status
    for name in ("senderid", "controlid", "uniqueid", "dtdversion"):
        ET.SubElement(block, name).text = control.get(name) or None


def serialize(root: ET.Element) -> bytes:
    """ElementTree escapes &, < and > in text but writes a carriage return raw, and every XML
    parser reads a raw CR as LF: as a character reference it survives (ElementTree itself
    writes no CR, so every CR here comes from a value)."""
    return ET.tostring(root, encoding="utf-8", xml_declaration=True).replace(b"\r", b"&#13;")


def xml_response(root: ET.Element, status: int = 200) -> Response:
    return Response(serialize(root), status, media_type=MEDIA_TYPE)


def control_failure(
    control: dict[str, str], errors: Iterable[ErrorEntry], status: int = 200
) -> Response:
    """Nothing ran: a failed control block and `errormessage` directly under `response`."""
    root = ET.Element("response")
    control_element(root, "failure", control)
    errors_element(root, errors)
    return xml_response(root, status)


def gateway_error(errorno: str, message: str, status: int) -> Response:
    """An answer of the gateway in front of the XML processor (GW-xxxx)."""
    root = ET.Element("response")
    errors_element(root, [(errorno, message, "", "Wait, then send the request again.")])
    return xml_response(root, status)
