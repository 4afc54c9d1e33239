"""The OData 4 service at `/0/odata/`: collections, single records, `$count`, `$metadata`
and JSON `$batch`. One `execute` serves both plain HTTP calls and batch sub-requests."""

from __future__ import annotations

import base64
import json
import random
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from sandbox.emulators.creatio.identity import Principal
from sandbox.emulators.creatio.query import (
    Evaluator,
    Node,
    OrderItem,
    bind_path,
    parse_filter,
    parse_orderby,
    parse_select,
    sort_key,
    unknown_property,
)
from sandbox.emulators.creatio.schema import ENTITIES, EntitySchema
from sandbox.emulators.creatio.store import Options, Store, not_found, parse_key
from sandbox.emulators.creatio.wire import (
    EmulatedError,
    dumps,
    guid_sort_key,
    iis_not_found,
    odata_error,
    routing_error,
    serialize,
)
from sandbox.emulators.removals import Removals

ODATA_PREFIX = "/0/odata/"
JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
_RESOURCE = re.compile(
    r"^(?P<entity>[A-Za-z_]\w*)(?:\((?:Id=)?(?P<key>[^)]*)\))?"
    r"(?:/(?P<prop>\$count|[A-Za-z_]\w*))?(?:/(?P<raw>\$value))?$"
)
QUERY_OPTIONS = {"$filter", "$select", "$orderby", "$top", "$skip", "$count", "$skiptoken"}
UNSUPPORTED = {"$expand", "$search", "$apply", "$compute", "$format", "$levels", "$index"}


@dataclass
class Result:
    status: int
    body: Any = None  # dict -> JSON, str -> text as is, None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = JSON_TYPE

    def content(self) -> str:
        if self.body is None:
            return ""
        return self.body if isinstance(self.body, str) else dumps(self.body)


@dataclass
class Call:
    method: str
    resource: str  # the part after /0/odata/
    query: list[tuple[str, str]]
    body: bytes
    headers: dict[str, str]  # lower-case names
    base: str  # absolute URL of /0/odata/
    # A batch sub-request's body, already parsed with the batch (decimals kept exact).
    parsed: Any = None


def _error_result(error: EmulatedError) -> Result:
    return Result(error.status, error.body, dict(error.headers), error.media_type)


class ODataService:
    def __init__(self, store: Store, options: Callable[[], Options], rng: random.Random) -> None:
        self.store = store
        self._options = options
        self.rng = rng
        self.removals = Removals()

    @property
    def options(self) -> Options:
        return self._options()

    def _present(self, entity: EntitySchema, select: list[str]) -> list[str]:
        """A column removed from this site's metadata (removals.py) cannot be selected."""
        for name in select:
            if self.removals.field_removed(entity.name, name):
                raise unknown_property(entity, name)
        return select

    def evaluator(self) -> Evaluator:
        return Evaluator(self.store.get, case_insensitive=self.options.case_insensitive)

    def execute(self, call: Call, principal: Principal) -> Result:
        try:
            return self._execute(call, principal)
        except EmulatedError as error:
            return _error_result(error)

    def _execute(self, call: Call, principal: Principal) -> Result:
        resource = call.resource
        if resource in ("", "/"):
            return self._service_document(call)
        if resource == "$metadata":
            return Result(200, metadata_document(self.removals), media_type="application/xml")
        if resource == "$batch":
            if call.method != "POST":
                raise _method_not_allowed(call.method)
            return self._batch(call, principal)
        match = _RESOURCE.match(resource)
        if match is None:
            raise routing_error(
                404,
                f"No HTTP resource was found that matches the request URI '{call.base}{resource}'.",
                "No route data was found for this request.",
            )
        entity = ENTITIES.get(match["entity"])
        if entity is None:
            raise iis_not_found()
        key, prop, raw = match["key"], match["prop"], match["raw"]
        if key is None:
            if prop == "$count" and not raw:
                if call.method != "GET":
                    raise _method_not_allowed(call.method)
                return self._count(entity, call)
            if prop or raw:
                raise routing_error(
                    404,
                    f"No HTTP resource was found that matches the request "
                    f"URI '{call.base}{resource}'.",
                )
            if call.method == "GET":
                return self._collection(entity, call)
            if call.method == "POST":
                return self._create(entity, call, principal)
            raise _method_not_allowed(call.method)
        row_id = parse_key(key)
        if prop is not None:
            if call.method != "GET":
                raise _method_not_allowed(call.method)
            return self._property(entity, row_id, prop, bool(raw), call)
        if call.method == "GET":
            return self._single(entity, row_id, call)
        if call.method == "PATCH":
            self.store.update(entity.name, row_id, _json_body(call), principal.contact_id)
            return Result(204)
        if call.method == "DELETE":
            self.store.delete(entity.name, row_id)
            return Result(204)
        raise _method_not_allowed(call.method)

    # -- reads -----------------------------------------------------------------------------
    def _service_document(self, call: Call) -> Result:
        sets = [{"name": n, "kind": "EntitySet", "url": n} for n in ENTITIES]
        return Result(200, {"@odata.context": f"{call.base}$metadata", "value": sets})

    def _options_of(self, call: Call) -> dict[str, str]:
        seen: dict[str, str] = {}
        for name, value in call.query:
            if not name.startswith("$"):
                continue  # custom query options are ignored
            if name in UNSUPPORTED:
                raise odata_error(400, f"The query option '{name}' is not emulated.")
            if name not in QUERY_OPTIONS:
                raise odata_error(400, f"The query parameter '{name}' is not supported.")
            if name in seen:
                raise odata_error(
                    400,
                    f"Query option '{name}' was specified more than once, "
                    "but it must be specified at most once.",
                )
            seen[name] = value
        return seen

    def _filtered(self, entity: EntitySchema, query: dict[str, str]) -> list[dict[str, Any]]:
        node: Node | None = None
        if "$filter" in query:
            node = parse_filter(query["$filter"], entity)
        evaluator = self.evaluator()
        return [row for row in self.store.rows(entity.name) if evaluator.matches(node, row)]

    def _count(self, entity: EntitySchema, call: Call) -> Result:
        rows = self._filtered(entity, self._options_of(call))
        return Result(200, str(len(rows)), media_type="text/plain; charset=utf-8")

    def _collection(self, entity: EntitySchema, call: Call) -> Result:
        query = self._options_of(call)
        select = (
            self._present(entity, parse_select(query["$select"], entity))
            if "$select" in query
            else None
        )
        order = parse_orderby(query["$orderby"], entity) if "$orderby" in query else []
        top = _non_negative(query, "$top")
        skip = _non_negative(query, "$skip") or 0
        count = query.get("$count", "false")
        if count not in ("true", "false"):
            raise odata_error(400, f"'{count}' is not a valid count option.")
        rows = self._filtered(entity, query)
        total = len(rows)
        options = self.options
        keyset = options.server_page_size is not None and options.next_link_style == "skiptoken"
        if keyset:  # server keyset paging needs a unique order: the key is appended
            order = [*order, OrderItem(bind_path(entity, ["Id"]), False, "Id")]
        rows = self._ordered(rows, order)
        if "$skiptoken" in query:
            if not keyset:
                raise odata_error(400, "The query parameter '$skiptoken' is not supported.")
            evaluator = self.evaluator()
            after = _decode_token(query["$skiptoken"])(order, evaluator)
            rows = [row for row in rows if self._key(row, order, evaluator) > after]
        rows = rows[skip:]
        limit = min(top if top is not None else options.max_rows, options.max_rows)
        take = limit
        if options.server_page_size is not None:
            take = min(limit, options.server_page_size)
        page = rows[:take]
        ieee754 = _ieee754(call.headers)
        context = f"{call.base}$metadata#{entity.name}"
        if select is not None:
            context += "(" + ",".join(select) + ")"
        body: dict[str, Any] = {"@odata.context": context}
        if count == "true":
            body["@odata.count"] = total
        body["value"] = [_render(entity, row, select, ieee754) for row in page]
        if len(rows) > take and take < limit and page:
            body["@odata.nextLink"] = self._next_link(
                entity, call, query, skip, take, top, page[-1], order if keyset else None
            )
        return Result(200, body)

    def _ordered(self, rows: list[dict[str, Any]], order: list[OrderItem]) -> list[dict[str, Any]]:
        evaluator = self.evaluator()
        if not order:  # no $orderby: clustered primary-key order
            return sorted(rows, key=lambda row: guid_sort_key(row["Id"]))
        if self.options.shuffle_ties:
            self.rng.shuffle(rows)
        return sorted(rows, key=lambda row: self._key(row, order, evaluator))

    def _key(self, row: dict[str, Any], order: list[OrderItem], evaluator: Evaluator) -> tuple:
        return tuple(
            sort_key(evaluator.prop(item.prop, row), evaluator, item.descending) for item in order
        )

    def _next_link(
        self,
        entity: EntitySchema,
        call: Call,
        query: dict[str, str],
        skip: int,
        take: int,
        top: int | None,
        last: dict[str, Any],
        keyset_order: list[OrderItem] | None,
    ) -> str:
        params = {k: v for k, v in query.items() if k not in ("$skip", "$top", "$skiptoken")}
        if top is not None:
            params["$top"] = str(top - take)
        if keyset_order is None:
            params["$skip"] = str(skip + take)
        else:
            evaluator = self.evaluator()
            values = [evaluator.prop(item.prop, last) for item in keyset_order]
            params["$skiptoken"] = _encode_token(values)
        return f"{call.base}{entity.name}?{urlencode(params, quote_via=quote, safe='$,()/:')}"

    def _single(self, entity: EntitySchema, row_id: uuid.UUID, call: Call) -> Result:
        query = self._options_of(call)
        select = (
            self._present(entity, parse_select(query["$select"], entity))
            if "$select" in query
            else None
        )
        row = self.store.get(entity.name, row_id)
        if row is None:
            raise not_found(entity.name, row_id)
        body = {"@odata.context": f"{call.base}$metadata#{entity.name}/$entity"}
        body.update(_render(entity, row, select, _ieee754(call.headers)))
        return Result(200, body)

    def _property(
        self, entity: EntitySchema, row_id: uuid.UUID, name: str, raw: bool, call: Call
    ) -> Result:
        column = entity.by_name.get(name)
        if column is None:
            raise unknown_property(entity, name)
        row = self.store.get(entity.name, row_id)
        if row is None:
            raise not_found(entity.name, row_id)
        value = serialize(column, row[name], ieee754=_ieee754(call.headers))
        if raw:
            return Result(200, str(value), media_type="text/plain; charset=utf-8")
        context = f"{call.base}$metadata#{entity.name}({row_id})/{name}"
        return Result(200, {"@odata.context": context, "value": value})

    # -- writes ----------------------------------------------------------------------------
    def _create(self, entity: EntitySchema, call: Call, principal: Principal) -> Result:
        row = self.store.insert(entity.name, _json_body(call), principal.contact_id)
        location = f"{call.base}{entity.name}({row['Id']})"
        headers = {"Location": location}
        if "return=minimal" in call.headers.get("prefer", ""):
            return Result(204, None, {**headers, "OData-EntityId": location})
        body = {"@odata.context": f"{call.base}$metadata#{entity.name}/$entity"}
        body.update(_render(entity, row, None, _ieee754(call.headers)))
        return Result(201, body, headers)

    def _batch(self, call: Call, principal: Principal) -> Result:
        content_type = call.headers.get("content-type", "")
        if not content_type.startswith("application/json"):
            raise odata_error(
                400, "The emulator accepts JSON batches only (Content-Type: application/json)."
            )
        payload = _json_body(call)
        requests = payload.get("requests")
        if not isinstance(requests, list):
            raise odata_error(400, "A JSON batch needs a 'requests' array.")
        if len(requests) > self.options.max_batch:
            raise odata_error(
                400,
                f"The number of requests in the batch ({len(requests)}) exceeds the maximum "
                f"of {self.options.max_batch}.",
            )
        continue_on_error = "continue-on-error" in call.headers.get("prefer", "")
        responses: list[dict[str, Any]] = []
        for index, item in enumerate(requests):
            result = self._sub_request(item, index, call, principal)
            answer: dict[str, Any] = {
                "id": str(item.get("id", index + 1)) if isinstance(item, dict) else str(index),
                "status": result.status,
                "headers": {"content-type": result.media_type, **result.headers},
            }
            if result.body is not None:
                answer["body"] = result.body
            responses.append(answer)
            if result.status >= 400 and not continue_on_error:
                break  # the rest are not executed (docs/wire-notes.md C6)
        return Result(200, {"responses": responses})

    def _sub_request(self, item: Any, index: int, call: Call, principal: Principal) -> Result:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            return _error_result(odata_error(400, f"Batch request {index + 1} has no 'url'."))
        method = str(item.get("method", "GET")).upper()
        url: str = item["url"]
        if "://" in url:
            url = url.split("://", 1)[1].partition("/")[2]
            url = "/" + url
        if url.startswith(ODATA_PREFIX):
            url = url[len(ODATA_PREFIX) :]
        url = url.lstrip("/")
        path, _, query = url.partition("?")
        if path == "$batch":
            return _error_result(odata_error(400, "A batch cannot contain a batch."))
        headers = {k.lower(): str(v) for k, v in (item.get("headers") or {}).items()}
        headers.setdefault("accept", call.headers.get("accept", ""))
        body = item.get("body")
        query_items = parse_qsl(query, keep_blank_values=True)
        sub = Call(method, path, query_items, b"", headers, call.base, parsed=body)
        return self.execute(sub, principal)


def _method_not_allowed(method: str) -> EmulatedError:
    return routing_error(405, f"The requested resource does not support http method '{method}'.")


def _json_body(call: Call) -> dict[str, Any]:
    body = call.parsed
    try:
        if body is None:
            body = json.loads(call.body.decode("utf-8") or "null", parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise odata_error(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise odata_error(400, "The request body must be a JSON object.")
    return body


def _ieee754(headers: dict[str, str]) -> bool:
    return "ieee754compatible=true" in headers.get("accept", "").replace(" ", "").lower()


def _non_negative(query: dict[str, str], name: str) -> int | None:
    if name not in query:
        return None
    text = query[name]
    if not text.isdigit():
        raise odata_error(
            400,
            f"Invalid value '{text}' for {name} query option found. The {name} query option "
            "requires a non-negative integer value.",
        )
    return int(text)


def _render(
    entity: EntitySchema, row: dict[str, Any], select: list[str] | None, ieee754: bool
) -> dict[str, Any]:
    names: Iterable[str] = select if select is not None else entity.by_name
    return {n: serialize(entity.by_name[n], row[n], ieee754=ieee754) for n in names}


# -- $skiptoken: the last row's sort values, so a following page starts after it ---------------
def _tag(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return {"g": str(value)}
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": value}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    return {"s": value}


def _untag(tagged: Any) -> Any:
    if tagged is None:
        return None
    ((kind, value),) = tagged.items()
    return {"g": uuid.UUID, "b": bool, "i": int, "d": Decimal, "s": str}[kind](value)


def _encode_token(values: list[Any]) -> str:
    raw = json.dumps([_tag(v) for v in values]).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_token(token: str) -> Callable[[list[OrderItem], Evaluator], tuple]:
    try:
        padded = token + "=" * (-len(token) % 4)
        values = [_untag(v) for v in json.loads(base64.urlsafe_b64decode(padded))]
    except (ValueError, TypeError, AttributeError, KeyError):
        raise odata_error(400, f"The skip token '{token}' is not valid.") from None

    def key(order: list[OrderItem], evaluator: Evaluator) -> tuple:
        if len(values) != len(order):
            raise odata_error(400, f"The skip token '{token}' is not valid.")
        return tuple(
            sort_key(value, evaluator, item.descending)
            for value, item in zip(values, order, strict=True)
        )

    return key


# -- $metadata -----------------------------------------------------------------------------
def metadata_document(removals: Removals | None = None) -> str:
    removals = removals or Removals()
    hosted = [e for e in ENTITIES.values() if not removals.object_removed(e.name)]
    types: list[str] = []
    for entity in hosted:
        props = []
        columns = [c for c in entity.columns if not removals.field_removed(entity.name, c.name)]
        for column in columns:
            extra = ' Nullable="false"' if column.name == "Id" else ""
            if column.kind == "text" and column.max_length:
                extra += f' MaxLength="{column.max_length}"'
            if column.kind == "decimal":
                extra += f' Precision="18" Scale="{column.scale}"'
            props.append(f'<Property Name="{column.name}" Type="{column.edm_type}"{extra}/>')
        for column in columns:
            if column.navigation and column.target and not removals.object_removed(column.target):
                props.append(
                    f'<NavigationProperty Name="{column.navigation}" '
                    f'Type="Terrasoft.Configuration.OData.{column.target}">'
                    f'<ReferentialConstraint Property="{column.name}" ReferencedProperty="Id"/>'
                    "</NavigationProperty>"
                )
        types.append(
            f'<EntityType Name="{entity.name}"><Key><PropertyRef Name="Id"/></Key>'
            + "".join(props)
            + "</EntityType>"
        )
    sets = "".join(
        f'<EntitySet Name="{e.name}" EntityType="Terrasoft.Configuration.OData.{e.name}"/>'
        for e in hosted
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
        "<edmx:DataServices>"
        '<Schema Namespace="Terrasoft.Configuration.OData" '
        'xmlns="http://docs.oasis-open.org/odata/ns/edm">'
        + "".join(types)
        + f'<EntityContainer Name="Container">{sets}</EntityContainer>'
        "</Schema></edmx:DataServices></edmx:Edmx>"
    )
