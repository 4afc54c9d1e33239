"""Function bodies of the generic 3.0 API (docs/wire-notes.md I4) and the `query` filter, as
ElementTree elements: values become element text, so no value is ever parsed as markup or
as query syntax."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # building only
from collections.abc import Mapping, Sequence
from typing import Any

from shared.connectors.intacct.wire import add, element, format_value

Filter = ET.Element


def get_api_session(location_id: str | None = None) -> ET.Element:
    return element("getAPISession", locationid=location_id)


def create(object: str, values: Mapping[str, Any]) -> ET.Element:
    body = ET.Element("create")
    add(body, object, values)
    return body


def update(object: str, values: Mapping[str, Any]) -> ET.Element:
    body = ET.Element("update")
    add(body, object, values)
    return body


def delete(object: str, keys: Sequence[str | int]) -> ET.Element:
    return element("delete", object=object, keys=",".join(str(k) for k in keys))


def read(object: str, keys: Sequence[str | int], fields: Sequence[str] | None = None) -> ET.Element:
    return element(
        "read",
        object=object,
        keys=",".join(str(k) for k in keys),
        fields=",".join(fields) if fields else "*",
        returnFormat="xml",
    )


def read_by_name(
    object: str, names: Sequence[str], fields: Sequence[str] | None = None
) -> ET.Element:
    for name in names:
        if "," in name:  # keys are a comma list: such an ID cannot be named here
            raise ValueError(f"readByName cannot look up an ID containing a comma: {name!r}")
    return element(
        "readByName",
        object=object,
        keys=",".join(names),
        fields=",".join(fields) if fields else "*",
        returnFormat="xml",
    )


def read_by_query(
    object: str, query: str, fields: Sequence[str] | None = None, page_size: int = 1000
) -> ET.Element:
    """`query` is readByQuery's string language; build it with `rbq_*` helpers."""
    return element(
        "readByQuery",
        object=object,
        fields=",".join(fields) if fields else "*",
        query=query,
        pagesize=page_size,
        returnFormat="xml",
    )


def read_more(result_id: str) -> ET.Element:
    return element("readMore", resultId=result_id)


def query(
    object: str,
    select: Sequence[str],
    *,
    filter: Filter | None = None,
    order_by: Sequence[tuple[str, bool]] = (),
    page_size: int = 1000,
    offset: int = 0,
    case_insensitive: bool = False,
) -> ET.Element:
    body = ET.Element("query")
    ET.SubElement(body, "object").text = object
    chosen = ET.SubElement(body, "select")
    for name in select:
        ET.SubElement(chosen, "field").text = name
    if filter is not None:
        ET.SubElement(body, "filter").append(filter)
    if order_by:
        orders = ET.SubElement(body, "orderby")
        for name, ascending in order_by:
            order = ET.SubElement(orders, "order")
            ET.SubElement(order, "field").text = name
            ET.SubElement(order, "ascending" if ascending else "descending")
    options = ET.SubElement(body, "options")
    ET.SubElement(options, "caseinsensitive").text = "true" if case_insensitive else "false"
    ET.SubElement(options, "returnformat").text = "xml"
    ET.SubElement(body, "pagesize").text = str(page_size)
    ET.SubElement(body, "offset").text = str(offset)
    return body


# -- query filters ----------------------------------------------------------------------------
def compare(op: str, field: str, *values: Any) -> Filter:
    node = ET.Element(op)
    ET.SubElement(node, "field").text = field
    for value in values:
        ET.SubElement(node, "value").text = format_value(value, field)
    return node


def eq(field: str, value: Any) -> Filter:
    return compare("equalto", field, value)


def gt(field: str, value: Any) -> Filter:
    return compare("greaterthan", field, value)


def ge(field: str, value: Any) -> Filter:
    return compare("greaterthanorequalto", field, value)


def le(field: str, value: Any) -> Filter:
    return compare("lessthanorequalto", field, value)


def is_null(field: str) -> Filter:
    return compare("isnull", field)


def all_of(*filters: Filter) -> Filter:
    return _group("and", filters)


def any_of(*filters: Filter) -> Filter:
    return _group("or", filters)


def _group(tag: str, filters: Sequence[Filter]) -> Filter:
    if len(filters) == 1:
        return filters[0]
    node = ET.Element(tag)
    node.extend(filters)
    return node


# -- readByQuery's string language --------------------------------------------------------------
def rbq_literal(value: Any) -> str:
    """A readByQuery operand: numbers bare, everything else in single quotes, a backslash
    escaped as `\\\\` and a quote doubled. The gateway reads a backslash as an escape
    (`\\'`, `\\\\`) as well as the doubled quote, so a bare backslash would change the value
    (docs/wire-notes.md)."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = format_value(value, "query") or ""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def rbq_condition(field: str, op: str, value: Any) -> str:
    if op not in ("=", "<", ">", "<=", ">=", "<>", "like", "not like"):
        raise ValueError(f"unsupported readByQuery operator {op!r}")
    if not field.replace(".", "").replace("_", "").isalnum():
        raise ValueError(f"not a field name: {field!r}")
    return f"{field} {op} {rbq_literal(value)}"
