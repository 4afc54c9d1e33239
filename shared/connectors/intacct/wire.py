"""The XML envelope: requests built with ElementTree (every value escaped by the library,
never pasted into text), answers parsed with defusedxml (docs/wire-notes.md I1, I3)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # building only; parsing uses defusedxml
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from defusedxml import ElementTree as SafeET

# Characters XML 1.0 cannot carry at all (even escaped): a value holding one is refused
# before sending, with the field named, instead of producing a request the gateway rejects.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class InvalidValue(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Login:
    user_id: str
    company_id: str
    password: str
    location_id: str | None = None


@dataclass(frozen=True)
class SessionAuth:
    session_id: str


@dataclass
class ErrorDetail:
    errorno: str = ""
    description: str = ""
    description2: str = ""
    correction: str = ""

    @property
    def text(self) -> str:
        return " ".join(p for p in (self.description, self.description2) if p).strip()


@dataclass
class Result:
    status: str
    function: str
    controlid: str
    data: ET.Element | None = None
    key: str | None = None
    errors: list[ErrorDetail] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "success"


@dataclass
class Response:
    control_ok: bool
    control_errors: list[ErrorDetail]
    auth_ok: bool | None = None
    auth_errors: list[ErrorDetail] = field(default_factory=list)
    session_timestamp: str | None = None
    session_timeout: str | None = None
    results: list[Result] = field(default_factory=list)
    gateway_errors: list[ErrorDetail] = field(default_factory=list)


def format_value(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%m/%d/%Y %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%m/%d/%Y")
    if isinstance(value, str):
        if _XML_ILLEGAL.search(value):
            raise InvalidValue(
                f"field {name} holds a control character XML cannot carry — remove it "
                "from the source record",
                name,
            )
        return value
    raise InvalidValue(f"field {name}: cannot send a {type(value).__name__} to Intacct", name)


def add(parent: ET.Element, name: str, value: Any) -> ET.Element | None:
    """`value` as child element(s) `name`: a mapping nests, a list repeats the element."""
    if isinstance(value, list | tuple):
        for item in value:
            add(parent, name, item)
        return None
    child = ET.SubElement(parent, name)
    if isinstance(value, Mapping):
        for key, item in value.items():
            add(child, str(key), item)
    else:
        child.text = format_value(value, name)
    return child


def element(name: str, **children: Any) -> ET.Element:
    node = ET.Element(name)
    for key, value in children.items():
        if value is not None:
            add(node, key, value)
    return node


def build_request(
    *,
    sender_id: str,
    sender_password: str,
    controlid: str,
    auth: Login | SessionAuth,
    functions: Sequence[tuple[str, ET.Element]],
    transaction: bool = False,
) -> bytes:
    root = ET.Element("request")
    control = ET.SubElement(root, "control")
    for name, value in (
        ("senderid", sender_id),
        ("password", sender_password),
        ("controlid", controlid),
        ("uniqueid", "false"),
        ("dtdversion", "3.0"),
        ("includewhitespace", "false"),
    ):
        ET.SubElement(control, name).text = value
    operation = ET.SubElement(root, "operation", transaction="true" if transaction else "false")
    authentication = ET.SubElement(operation, "authentication")
    if isinstance(auth, SessionAuth):
        ET.SubElement(authentication, "sessionid").text = auth.session_id
    else:
        login = ET.SubElement(authentication, "login")
        ET.SubElement(login, "userid").text = auth.user_id
        ET.SubElement(login, "companyid").text = auth.company_id
        ET.SubElement(login, "password").text = auth.password
        if auth.location_id:
            ET.SubElement(login, "locationid").text = auth.location_id
    content = ET.SubElement(operation, "content")
    for controlid_, body in functions:
        function = ET.SubElement(content, "function", controlid=controlid_)
        function.append(body)
    # ElementTree writes a carriage return in text raw, and every XML parser reads a raw CR
    # as LF; as a character reference it arrives unchanged. ElementTree itself writes no CR,
    # so each one here comes from a value.
    return ET.tostring(root, encoding="utf-8", xml_declaration=True).replace(b"\r", b"&#13;")


class NotXml(ValueError):
    """The answer is not XML (an HTML error page, an empty body)."""


def _text(node: ET.Element | None, path: str) -> str:
    if node is None:
        return ""
    found = node.find(path)
    return (found.text or "").strip() if found is not None else ""


def _errors(node: ET.Element | None) -> list[ErrorDetail]:
    if node is None:
        return []
    block = node.find("errormessage")
    if block is None:
        return []
    return [
        ErrorDetail(
            _text(error, "errorno"),
            _text(error, "description"),
            _text(error, "description2"),
            _text(error, "correction"),
        )
        for error in block.findall("error")
    ]


def parse_response(body: bytes) -> Response:
    try:
        root = SafeET.fromstring(body)
    except Exception as exc:  # ParseError or a defusedxml refusal (DTD, entities)
        raise NotXml(str(exc)) from None
    if root.tag != "response":
        raise NotXml(f"root element <{root.tag}>")
    control = root.find("control")
    if control is None:  # a gateway error (GW-xxxx) answered before the XML processor
        return Response(False, [], gateway_errors=_errors(root))
    parsed = Response(_text(control, "status") == "success", _errors(root))
    operation = root.find("operation")
    if operation is None:
        return parsed
    auth = operation.find("authentication")
    parsed.auth_ok = _text(auth, "status") == "success"
    parsed.auth_errors = _errors(operation)
    parsed.session_timestamp = _text(auth, "sessiontimestamp") or None
    parsed.session_timeout = _text(auth, "sessiontimeout") or None
    for node in operation.findall("result"):
        parsed.results.append(
            Result(
                status=_text(node, "status"),
                function=_text(node, "function"),
                controlid=_text(node, "controlid"),
                data=node.find("data"),
                key=_text(node, "key") or None,
                errors=_errors(node),
            )
        )
    return parsed


def to_value(node: ET.Element) -> Any:
    """An element as a value: its text when it has no children, else a dict of its children
    (a name that repeats becomes a list)."""
    children = list(node)
    if not children:
        return node.text or ""
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


def rows(data: ET.Element | None) -> list[dict[str, Any]]:
    """The records under `<data>` (the wrapper name's case differs between functions)."""
    if data is None:
        return []
    out = []
    for node in data:
        value = to_value(node)
        out.append(value if isinstance(value, dict) else {})
    return out
