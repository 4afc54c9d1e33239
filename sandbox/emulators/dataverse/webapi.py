"""The Web API's resources: one call in, one result out (used by plain requests and by the
parts of a $batch alike)."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

from defusedxml import ElementTree

from sandbox.emulators.dataverse import tracking
from sandbox.emulators.dataverse.metadata import Customisation, MetadataApi
from sandbox.emulators.dataverse.query import (
    compare_keys,
    parse_filter,
    parse_orderby,
    parse_select,
    sort_key,
    sort_rows,
)
from sandbox.emulators.dataverse.schema import BY_SET, TABLES, Table
from sandbox.emulators.dataverse.store import TARGET, Row, Store
from sandbox.emulators.dataverse.wire import (
    DUPLICATE,
    ODATA_ERROR,
    VERSION_MISMATCH,
    EmulatedError,
    bad_request,
    convert,
    is_guid,
    not_found,
    parse_datetime,
    to_json,
)

MAX_PAGE = 5000
_QUERY_SAFE = ",()=$'"
_RESOURCE = re.compile(r"^(?P<set>[A-Za-z_]+)(?:\((?P<key>.*)\))?$")
_BIND = re.compile(r"^(?:.*/api/data/v9\.\d/|/)?(?P<set>[A-Za-z_]+)\((?P<key>.*)\)$")
_PAIR = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^']|'')*'|[^,]+)\s*(?:,|$)")
ENTITY_REFERENCE = (
    "CRM do not support direct update of Entity Reference properties, Use Navigation "
    "properties instead."
)


@dataclass
class Call:
    method: str
    path: str  # after /api/data/v9.2/
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base: str  # https://host/api/data/v9.2/
    # `$<content-id>` -> entity URL of an earlier operation of the same change set
    references: dict[str, str] = field(default_factory=dict)


@dataclass
class Result:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    entity_url: str | None = None  # for $n references inside a change set

    def content(self) -> bytes:
        return json.dumps(self.body, default=to_json).encode() if self.body is not None else b""


def preferences(headers: Mapping[str, str]) -> dict[str, str]:
    """`Prefer: odata.maxpagesize=500, return=representation` -> {name: value}."""
    prefs: dict[str, str] = {}
    for part in headers.get("prefer", "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            prefs[name.strip().lower()] = value.strip().strip('"')
    return prefs


def resolve_reference(text: str, references: Mapping[str, str]) -> str:
    """`$<content-id>[/rest]` -> the entity URL an earlier operation of the change set made,
    or the documented 400 when no earlier operation has that Content-ID."""
    ref, _, tail = text[1:].partition("/")
    if ref not in references:
        raise bad_request(f"Content-ID Reference: '${ref}' does not exist in the batch context.")
    return references[ref] + (f"/{tail}" if tail else "")


def _key_values(table: Table, text: str) -> tuple[str, str]:
    """`(guid)` -> ("id", guid); `(shuttle_creatioaccountid='x')` -> ("alt", "x")."""
    text = unquote(text).strip()
    if is_guid(text):
        return "id", text.lower()
    pairs = _PAIR.findall(text)
    if not pairs:
        raise bad_request(f"Bad Request - Error in query syntax: key '{text}'.")
    if len(pairs) == 1 and pairs[0][0] == table.primary_key and is_guid(pairs[0][1]):
        return "id", pairs[0][1].lower()
    names = sorted(name for name, _ in pairs)
    if names != [table.alternate_key]:
        raise bad_request(
            f"The key attribute(s) {', '.join(names)} are not defined as an alternate key for "
            f"entity {table.logical}."
        )
    literal = pairs[0][1].strip()
    if not (literal.startswith("'") and literal.endswith("'")):
        raise bad_request(f"Invalid key value {literal} for {table.alternate_key}.")
    return "alt", literal[1:-1].replace("''", "'")


class WebApi:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.user_ids: dict[str, str] = {}
        # Binding columns and alternate keys present, and table definitions (metadata.py).
        self.customisation = Customisation()
        self.metadata = MetadataApi(self.customisation)

    # -- dispatch -----------------------------------------------------------------------
    def execute(self, call: Call, user: str) -> Result:
        try:
            return self._execute(call, user)
        except EmulatedError as error:
            return Result(error.status, error.body(), dict(error.headers))

    def _execute(self, call: Call, user: str) -> Result:
        path = call.path.strip("/")
        if path == "":
            return self._service_document(call)
        if path in ("WhoAmI", "WhoAmI()"):
            return self._who_am_i(call, user)
        if path.startswith("EntityDefinitions"):
            return self.metadata.execute(call)
        match = _RESOURCE.match(path)
        table = BY_SET.get(match.group("set")) if match else None
        if match is None or table is None:
            name = path.split("(")[0].split("/")[0]
            raise EmulatedError(404, ODATA_ERROR, f"Resource not found for the segment '{name}'.")
        key = match.group("key")
        method = call.method
        if key is None:
            if method == "GET":
                return self._query(table, call)
            if method == "POST":
                return self._create(table, call)
        else:
            if method == "GET":
                return self._retrieve(table, key, call)
            if method == "PATCH":
                return self._patch(table, key, call)
            if method == "DELETE":
                return self._delete(table, key)
        raise EmulatedError(405, ODATA_ERROR, f"The HTTP method '{method}' is not allowed here.")

    def _service_document(self, call: Call) -> Result:
        return Result(
            200,
            {
                "@odata.context": f"{call.base}$metadata",
                "value": [
                    {"name": t.entity_set, "kind": "EntitySet", "url": t.entity_set}
                    for t in TABLES.values()
                ],
            },
        )

    def _who_am_i(self, call: Call, user: str) -> Result:
        user_id = self.user_ids.setdefault(user, user if is_guid(user) else str(uuid.uuid4()))
        return Result(
            200,
            {
                "@odata.context": f"{call.base}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": "9b1e3f60-0000-4000-8000-0000000000b1",
                "UserId": user_id,
                "OrganizationId": "5c0a7f10-0000-4000-8000-00000000000a",
            },
        )

    # -- reads ----------------------------------------------------------------------------
    def _find(self, table: Table, key: str) -> tuple[Row | None, str, str]:
        kind, value = _key_values(table, key)
        if kind == "alt" and not self.customisation.key_usable(table):
            # No alternate key (or its index is not built yet): as if none were defined.
            raise bad_request(
                f"The key attribute(s) {table.alternate_key} are not defined as an alternate "
                f"key for entity {table.logical}."
            )
        row = (
            self.store.get(table, value)
            if kind == "id"
            else self.store.by_alternate_key(table, value)
        )
        return row, kind, value

    def _missing(self, table: Table, kind: str, value: str) -> EmulatedError:
        if kind == "id":
            return not_found(table, value)
        return EmulatedError(
            404,
            "0x80040217",
            f"A record with the specified key values does not exist in {table.logical} entity",
        )

    def _retrieve(self, table: Table, key: str, call: Call) -> Result:
        params = dict(call.query)
        select = self._present(table, parse_select(table, params.get("$select")))
        row, kind, value = self._find(table, key)
        if row is None:
            raise self._missing(table, kind, value)
        etag = f'W/"{row["versionnumber"]}"'
        if call.headers.get("if-none-match") == etag:
            # Conditional GET: unchanged since the client's copy (`If-None-Match: null`,
            # the header clients send to avoid caches, never matches).
            return Result(304, None, {"ETag": etag})
        body = {
            "@odata.context": f"{call.base}$metadata#{table.entity_set}/$entity",
            **self.render(table, row, select, call.headers),
        }
        return Result(200, body, {"ETag": etag})

    def _query(self, table: Table, call: Call) -> Result:
        params = dict(call.query)
        for unsupported in ("$skip", "$expand", "$apply", "$search"):
            if unsupported in params:
                raise bad_request(f"The query parameter {unsupported} is not supported")
        prefs = preferences(call.headers)
        size = MAX_PAGE
        applied: list[str] = []
        requested = prefs.get("odata.maxpagesize")
        if requested and requested.isdigit() and int(requested) > 0:
            size = min(int(requested), MAX_PAGE)
            applied.append(f"odata.maxpagesize={size}")
        if tracking.wanted(params, prefs):
            result = tracking.read(self, table, call, size)
            applied.insert(0, tracking.TRACK_CHANGES)
            result.headers["Preference-Applied"] = ",".join(applied)
            return result
        headers = {"Preference-Applied": ",".join(applied)} if applied else {}
        select = self._present(table, parse_select(table, params.get("$select")))
        order = parse_orderby(table, params.get("$orderby"))
        rows = self.store.all(table)
        if params.get("$filter"):
            predicate = parse_filter(table, params["$filter"])
            rows = [r for r in rows if predicate(r)]
        rows = sort_rows(rows, order)
        total = len(rows)
        top = params.get("$top")
        if top is not None:
            if not top.isdigit():
                raise bad_request(f"Invalid value '{top}' for $top query option found.")
            rows = rows[: int(top)]
        page_number = 1
        token = params.get("$skiptoken")
        if token:
            page_number, last = _read_cookie(table, order, token)
            rows = [r for r in rows if compare_keys(sort_key(r, order), last, order) > 0]
        page, rest = rows[:size], rows[size:]
        body: dict[str, Any] = {"@odata.context": _context(call.base, table, select)}
        if params.get("$count") == "true":
            body["@odata.count"] = min(total, MAX_PAGE)
        body["value"] = [self.render(table, r, select, call.headers) for r in page]
        if rest:
            cookie = _write_cookie(table, order, page, page_number + 1)
            kept = [(k, v) for k, v in call.query if k != "$skiptoken"]
            query = "&".join(f"{k}={quote(v, safe=_QUERY_SAFE)}" for k, v in kept)
            body["@odata.nextLink"] = (
                f"{call.base}{table.entity_set}?{query}"
                + ("&" if query else "")
                + f"$skiptoken={quote(cookie, safe='')}"
            )
        return Result(200, body, headers)

    def _present(self, table: Table, select: list[str] | None) -> list[str] | None:
        """A column not created in this environment (metadata.py) cannot be selected."""
        for name in select or ():
            if self.customisation.column_absent(table, name):
                raise bad_request(
                    f"Could not find a property named '{name}' on type "
                    f"'Microsoft.Dynamics.CRM.{table.logical}'."
                )
        return select

    def render(
        self, table: Table, row: Row, select: list[str] | None, headers: Mapping[str, str]
    ) -> dict[str, Any]:
        annotations = "odata.include-annotations" in preferences(headers)
        out: dict[str, Any] = {"@odata.etag": f'W/"{row["versionnumber"]}"'}
        names = (
            select
            if select is not None
            else [
                *(c for c in table.columns if not self.customisation.column_absent(table, c)),
                *(lk.value_property for lk in table.lookups.values()),
            ]
        )
        for name in names:
            out[name] = to_json(row.get(name))
            lookup = table.lookup_by_value_property(name)
            if annotations and lookup is not None and row.get(name) is not None:
                out[f"{name}@Microsoft.Dynamics.CRM.lookuplogicalname"] = row.get(
                    TARGET + lookup.name
                )
        out[table.primary_key] = row[table.primary_key]
        return out

    # -- writes ---------------------------------------------------------------------------
    def values(
        self, table: Table, body: bytes, references: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """A request body -> stored values (columns converted, binds resolved), or the error
        Dataverse answers for it."""
        try:
            data = json.loads(body or b"{}", parse_float=Decimal)
        except ValueError:
            raise bad_request("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise bad_request("The request body must be a JSON object.")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if self.customisation.column_absent(table, name):
                raise _no_property(table, name)
            if name.endswith("@odata.bind"):
                if isinstance(value, str) and value.startswith("$"):
                    value = resolve_reference(value, references or {})
                self._bind(table, name[: -len("@odata.bind")], value, values)
            elif name.startswith("@") or "@" in name:
                continue  # @odata.type and other instance annotations
            elif table.lookup_by_value_property(name) is not None:
                raise bad_request(ENTITY_REFERENCE, ODATA_ERROR)
            elif name in table.columns:
                column = table.columns[name]
                if column.read_only:
                    continue  # Dataverse ignores values for columns it computes
                if name == table.primary_key:
                    values[name] = convert(table, column, value)
                    continue
                values[name] = convert(table, column, value)
            elif table.navigation(name) is not None:
                raise bad_request(
                    "A 'PrimitiveValue' node with non-null value was found when trying to read "
                    "the value of a navigation property; however, a 'StartArray' node, a "
                    "'StartObject' node, or a 'PrimitiveValue' node with null value was "
                    "expected."
                )
            else:
                raise _no_property(table, name)
        return values

    def _bind(self, table: Table, navprop: str, value: Any, values: dict[str, Any]) -> None:
        navigation = table.navigation(navprop)
        if navigation is None:
            raise bad_request(
                f"An undeclared property '{navprop}' which only has property annotations in "
                "the payload but no property value was found in the payload. In OData, only "
                "declared navigation properties and declared named streams can be represented "
                "as properties without values."
            )
        lookup, target_name = navigation
        if value is None:
            values[lookup.value_property] = None
            values[TARGET + lookup.name] = None
            return
        match = _BIND.match(value) if isinstance(value, str) else None
        target = TABLES[target_name]
        if match is None or BY_SET.get(match.group("set")) is None:
            raise bad_request(f"Invalid reference '{value}' for '{navprop}@odata.bind'.")
        if match.group("set") != target.entity_set:
            raise bad_request(
                f"A resource of type 'Microsoft.Dynamics.CRM.{BY_SET[match.group('set')].logical}'"
                f" was found for navigation property '{navprop}', which expects "
                f"'Microsoft.Dynamics.CRM.{target.logical}'."
            )
        row, kind, key = self._find(target, match.group("key"))
        if row is None:
            raise self._missing(target, kind, key)
        values[lookup.value_property] = row[target.primary_key]
        values[TARGET + lookup.name] = target.logical

    def _entity_url(self, call: Call, table: Table, id: str) -> str:
        return f"{call.base}{table.entity_set}({id})"

    def _written(self, table: Table, row: Row, call: Call, status: int) -> Result:
        url = self._entity_url(call, table, row[table.primary_key])
        headers = {"OData-EntityId": url, "Location": url}
        if preferences(call.headers).get("return") == "representation":
            select = self._present(table, parse_select(table, dict(call.query).get("$select")))
            body = {
                "@odata.context": f"{call.base}$metadata#{table.entity_set}/$entity",
                **self.render(table, row, select, call.headers),
            }
            return Result(status, body, {**headers, "ETag": body["@odata.etag"]}, url)
        return Result(204, None, headers, url)

    def _create(self, table: Table, call: Call) -> Result:
        values = self.values(table, call.body, call.references)
        id = values.pop(table.primary_key, None)
        row = self.store.insert(table, values, id=id)
        return self._written(table, row, call, 201)

    def _patch(self, table: Table, key: str, call: Call) -> Result:
        row, kind, key_value = self._find(table, key)
        if_match = call.headers.get("if-match")
        if_none_match = call.headers.get("if-none-match")
        if row is None and if_match is not None:
            raise self._missing(table, kind, key_value)
        if row is not None and if_none_match == "*":
            raise EmulatedError(412, DUPLICATE, "A record with matching key values already exists.")
        if (
            row is not None
            and if_match not in (None, "*")
            and if_match != f'W/"{row["versionnumber"]}"'
        ):
            raise EmulatedError(
                412,
                VERSION_MISMATCH,
                "The version of the existing record doesn't match the RowVersion property "
                "provided.",
            )
        values = self.values(table, call.body, call.references)
        values.pop(table.primary_key, None)
        if row is None:  # PATCH is an upsert
            if kind == "alt":
                values[table.alternate_key] = key_value
            created = self.store.insert(table, values, id=key_value if kind == "id" else None)
            return self._written(table, created, call, 201)
        updated = self.store.update(table, row[table.primary_key], values)
        return self._written(table, updated, call, 200)

    def _delete(self, table: Table, key: str) -> Result:
        row, kind, value = self._find(table, key)
        if row is None:
            raise self._missing(table, kind, value)
        self.store.delete(table, row[table.primary_key])
        return Result(204)


def _no_property(table: Table, name: str) -> EmulatedError:
    return bad_request(
        f"The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM."
        f"{table.logical}'. Make sure to only use property names that are defined by the type."
    )


def _context(base: str, table: Table, select: list[str] | None) -> str:
    return f"{base}$metadata#{table.entity_set}" + (f"({','.join(select)})" if select else "")


# -- the paging cookie ----------------------------------------------------------------------
def _write_cookie(table: Table, order: list[tuple[str, bool]], page: list[Row], number: int) -> str:
    """Dataverse's `$skiptoken`: an outer cookie with the page number and an encoded inner
    paging cookie (doubly encoded once in the URL) holding the first and last row's values of
    every sort column."""
    first, last = page[0], page[-1]
    parts = []
    for name, _ in order:
        attrs = []
        for label, row in (("last", last), ("first", first)):
            value = row.get(name)
            if value is not None:
                text = to_json(value)
                text = f"{{{str(text).upper()}}}" if name == table.primary_key else text
                attrs.append(f'{label}="{_xml(str(text))}"')
        parts.append(f"<{name} {' '.join(attrs)} />")
    inner = f'<cookie page="{number - 1}">{"".join(parts)}</cookie>'
    encoded = quote(inner, safe="")
    return f'<cookie pagenumber="{number}" pagingcookie="{encoded}" istracking="False" />'


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _read_cookie(table: Table, order: list[tuple[str, bool]], token: str) -> tuple[int, list[Any]]:
    invalid = bad_request("The $skiptoken is not valid for this query.")
    try:
        outer = ElementTree.fromstring(token)
        number = int(outer.get("pagenumber", "0"))
        inner = ElementTree.fromstring(unquote(outer.get("pagingcookie", "")))
    except (ElementTree.ParseError, ValueError, TypeError):
        raise invalid from None
    last: list[Any] = []
    for name, _ in order:
        element = inner.find(name)
        if element is None:
            raise invalid
        text = element.get("last")
        last.append(None if text is None else _typed(table, name, text))
    return number, last


def _typed(table: Table, name: str, text: str) -> Any:
    if name == table.primary_key or table.lookup_by_value_property(name) is not None:
        return text.strip("{}").lower()
    column = table.columns[name]
    if column.type == "datetime":
        return parse_datetime(text)
    if column.type == "date":
        return dt.date.fromisoformat(text)
    if column.type in ("int", "picklist"):
        return int(text)
    if column.type in ("decimal", "money"):
        return Decimal(text)
    if column.type == "bool":
        return text == "True" or text == "true"
    return text
