"""The XML gateway's request processing: control block, authentication, then each function,
answered in the response envelope (docs/wire-notes.md I1-I4)."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET  # building only; parsing uses defusedxml
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from sandbox.emulators.intacct import legacy, metadata
from sandbox.emulators.intacct.aging import get_araging
from sandbox.emulators.intacct.query import (
    TIMESTAMP_FIELDS,
    Comparer,
    QueryError,
    field_value,
    text_filter,
    xml_filter,
)
from sandbox.emulators.intacct.schema import OBJECTS, SERVER_FIELDS, ObjectSchema
from sandbox.emulators.intacct.store import (
    EmulatedFailure,
    Options,
    ResultSet,
    Row,
    Session,
    Store,
    business_error,
)
from sandbox.emulators.intacct.wire import (
    ErrorEntry,
    MalformedRequest,
    add,
    control_element,
    control_failure,
    errors_element,
    parse,
    text,
    to_value,
    xml_response,
)
from sandbox.emulators.removals import Removals

WRITES = frozenset({"create", "update", "delete"})
MAX_READ_KEYS = 100


SENDER_REJECTED = (
    "XL03000006",
    "Incorrect Intacct XML Partner ID or password.",
    "",
    "Check the sender credentials.",
)


def _schema_failure(echo: dict[str, str], message: str) -> Response:
    return control_failure(echo, [("XL03000003", "XML Parse schema error", message, "")])


def schema_error(message: str) -> EmulatedFailure:
    return EmulatedFailure(("XL03000003", "XML Parse schema error", message, ""))


@dataclass
class Principal:
    user: str
    location: str
    session: Session | None
    key: str  # what result sets are tied to


@dataclass
class Gateway:
    store: Store
    options: Callable[[], Options]
    functions: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    examined: int = 0  # rows a query's filter was evaluated on (indexes keep it small)
    removals: Removals = field(default_factory=Removals)

    def reset(self) -> None:
        self.functions.clear()
        self.requests = 0
        self.examined = 0

    # -- the envelope ---------------------------------------------------------------------
    def handle(self, body: bytes, endpoint: str) -> Response:
        self.requests += 1
        try:
            root = parse(body)
        except MalformedRequest as exc:
            return control_failure({}, [("XL03000003", "XML Parse error", str(exc)[:200], "")])
        control_block = root.find("control")
        control = {
            name: text(control_block, name)
            for name in ("senderid", "password", "controlid", "uniqueid", "dtdversion")
        }
        echo = {k: v for k, v in control.items() if k != "password"}
        if control_block is None or not control["controlid"]:
            return _schema_failure(echo, "The control block needs a controlid.")
        if control["dtdversion"] != "3.0":
            return _schema_failure(echo, "dtdversion must be 3.0.")
        options = self.options()
        if (
            options.senders.get(control["senderid"]) != control["password"]
            or not control["password"]
        ):
            return control_failure(echo, [SENDER_REJECTED])
        operation = root.find("operation")
        if operation is None:
            return _schema_failure(echo, "The request has no operation.")
        content = operation.find("content")
        calls = list(content) if content is not None else []
        if not calls or any(call.tag != "function" for call in calls):
            return _schema_failure(echo, "content must hold one or more function elements.")
        if len(calls) > options.max_functions:
            return _schema_failure(echo, f"At most {options.max_functions} functions per request.")

        response = ET.Element("response")
        control_element(response, "success", echo)
        op = ET.SubElement(response, "operation")
        principal = self._authenticate(operation.find("authentication"))
        if isinstance(principal, list):
            auth = ET.SubElement(op, "authentication")
            ET.SubElement(auth, "status").text = "failure"
            ET.SubElement(auth, "userid")
            ET.SubElement(auth, "companyid")
            ET.SubElement(auth, "locationid")
            ET.SubElement(auth, "sessiontimestamp")
            errors_element(op, principal)
            return xml_response(response)
        self._auth_block(op, principal)
        transaction = operation.get("transaction", "false").lower() == "true"
        self._run(op, calls, principal, transaction, endpoint)
        return xml_response(response)

    def _authenticate(self, block: ET.Element | None) -> Principal | list[ErrorEntry]:
        options = self.options()
        if block is None:
            return [("XL03000006", "", "The operation has no authentication element.", "")]
        session_id = text(block, "sessionid")
        if block.find("sessionid") is not None:
            session = self.store.session(session_id)
            if session is None:
                return [
                    ("XL03000006", "", "Invalid session", "Get a new session with getAPISession.")
                ]
            self.store.touch(session)
            return Principal(session.user, session.location, session, session.id)
        login = block.find("login")
        if login is None:
            return [("XL03000006", "", "The authentication element needs sessionid or login.", "")]
        user, company = text(login, "userid"), text(login, "companyid")
        password = text(login, "password")
        if (
            company.upper() != options.company_id.upper()
            or not password
            or options.users.get(user) != password
        ):
            self.store.failed_logins += 1
            return [
                (
                    "XL03000006",
                    "Sign-in information is incorrect",
                    "",
                    "Check the company, user and password.",
                )
            ]
        entity = text(login, "locationid")
        if entity and options.entities is not None and entity not in options.entities:
            self.store.failed_logins += 1
            return [
                (
                    "XL03000006",
                    "Sign-in information is incorrect",
                    f"The entity {entity} does not exist or the user may not sign in to it.",
                    "Check the entity id.",
                )
            ]
        self.store.logins += 1
        return Principal(user, text(login, "locationid"), None, f"login:{user}")

    def _auth_block(self, op: ET.Element, principal: Principal) -> None:
        auth = ET.SubElement(op, "authentication")
        ET.SubElement(auth, "status").text = "success"
        ET.SubElement(auth, "userid").text = principal.user
        ET.SubElement(auth, "companyid").text = self.options().company_id
        ET.SubElement(auth, "locationid").text = principal.location or None
        session = principal.session or Session("", principal.user, principal.location, 0.0)
        if principal.session is None:
            self.store.touch(session)
        stamp, timeout = self.store.session_times(session)
        ET.SubElement(auth, "sessiontimestamp").text = stamp
        ET.SubElement(auth, "sessiontimeout").text = timeout

    # -- functions -------------------------------------------------------------------------
    def _run(
        self,
        op: ET.Element,
        calls: list[ET.Element],
        principal: Principal,
        transaction: bool,
        endpoint: str,
    ) -> None:
        snap = self.store.snapshot() if transaction else None
        results: list[tuple[ET.Element, bool]] = []
        for call in calls:
            result = ET.SubElement(op, "result")
            ok = self._function(result, call, principal, endpoint)
            results.append((result, ok))
        if snap is not None and not all(ok for _, ok in results):
            self.store.restore(snap)
            for result, ok in results:
                if ok:  # rolled back with the failure
                    for child in list(result):
                        if child.tag not in ("function", "controlid"):
                            result.remove(child)
                    status = ET.Element("status")
                    status.text = "aborted"
                    result.insert(0, status)
                    errors_element(
                        result,
                        [
                            (
                                "XL03000009",
                                "",
                                "The entire transaction in this "
                                "operation has been rolled back due to an error.",
                                "",
                            )
                        ],
                    )

    def _function(
        self, result: ET.Element, call: ET.Element, principal: Principal, endpoint: str
    ) -> bool:
        status = ET.SubElement(result, "status")
        inner = list(call)
        name = inner[0].tag if len(inner) == 1 else ""
        ET.SubElement(result, "function").text = name or None
        ET.SubElement(result, "controlid").text = call.get("controlid") or None
        self.functions[name or "?"] += 1
        handler = getattr(self, f"_fn_{name}", None) if name else None
        try:
            if handler is None:
                raise schema_error(f"Unknown function '{name}' or not exactly one per function.")
            if not call.get("controlid"):
                raise schema_error("function needs a controlid attribute.")
            several = name in WRITES and len(inner[0]) > 1  # several objects: all or none
            snap = self.store.snapshot() if several else None
            try:
                handler(result, inner[0], principal, endpoint)
            except EmulatedFailure:
                if snap is not None:
                    self.store.restore(snap)
                raise
        except EmulatedFailure as failure:
            for child in list(result):
                if child.tag == "data":
                    result.remove(child)
            status.text = "failure"
            errors_element(result, failure.errors)
            return False
        except QueryError as exc:
            status.text = "failure"
            errors_element(result, [("BL01001973", "", str(exc), "Fix the query.")])
            return False
        status.text = "success"
        return True

    def _schema(self, name: str) -> ObjectSchema:
        schema = OBJECTS.get(name.strip().upper())
        if schema is None:
            raise business_error(
                f"Object definition {name.strip()} not found.", errorno="DL02000001"
            )
        return schema

    # getAPISession
    def _fn_getAPISession(self, result: ET.Element, fn: ET.Element, p: Principal, url: str) -> None:
        session = p.session or self.store.new_session(p.user, text(fn, "locationid") or p.location)
        data = ET.SubElement(result, "data")
        api = ET.SubElement(data, "api")
        ET.SubElement(api, "sessionid").text = session.id
        ET.SubElement(api, "endpoint").text = url
        ET.SubElement(api, "locationid").text = session.location or None

    # writes
    def _objects(self, fn: ET.Element) -> list[tuple[ObjectSchema, Row]]:
        if len(fn) == 0:
            raise schema_error(f"<{fn.tag}> needs at least one object element.")
        out = []
        for element in fn:
            value = to_value(element)
            if not isinstance(value, dict):
                raise schema_error(f"<{element.tag}> has no fields.")
            out.append((self._schema(element.tag), value))
        return out

    def _written(self, result: ET.Element, rows: list[tuple[ObjectSchema, Row]]) -> None:
        data = ET.SubElement(result, "data", listtype="objects", count=str(len(rows)))
        for schema, row in rows:
            item = ET.SubElement(data, schema.lower)
            ET.SubElement(item, "RECORDNO").text = str(row["RECORDNO"])
            if schema.id_field and row.get(schema.id_field):
                ET.SubElement(item, schema.id_field).text = str(row[schema.id_field])

    def _generic_write(self, fn: ET.Element) -> list[tuple[ObjectSchema, Row]]:
        objects = self._objects(fn)
        for schema, _ in objects:
            spec = legacy.DOCUMENTS.get(schema.name)
            if spec is not None:  # documents are written by their legacy functions only
                use = spec.create if fn.tag == "create" else spec.update
                raise business_error(
                    f"The {fn.tag} function does not support {schema.name}.",
                    f"Use {use}." if use else f"{schema.name} cannot be changed once made.",
                )
        return objects

    def _fn_create(self, result: ET.Element, fn: ET.Element, p: Principal, url: str) -> None:
        made = []
        for schema, values in self._generic_write(fn):
            clean = {k: v for k, v in values.items() if k not in SERVER_FIELDS}
            made.append((schema, self.store.create(schema, clean)))
        self._written(result, made)

    def _fn_update(self, result: ET.Element, fn: ET.Element, p: Principal, url: str) -> None:
        changed = [
            (schema, self.store.update(schema, values))
            for schema, values in self._generic_write(fn)
        ]
        self._written(result, changed)

    # legacy document functions (see legacy.py): the answer is <key>, not <data>
    def _fn_create_sotransaction(
        self, result: ET.Element, fn: ET.Element, p: Principal, url: str
    ) -> None:
        legacy.create(self.store, fn, result)

    def _fn_update_sotransaction(
        self, result: ET.Element, fn: ET.Element, p: Principal, url: str
    ) -> None:
        legacy.update(self.store, fn, result)

    def _fn_create_invoice(
        self, result: ET.Element, fn: ET.Element, p: Principal, url: str
    ) -> None:
        legacy.create(self.store, fn, result)

    def _fn_update_invoice(
        self, result: ET.Element, fn: ET.Element, p: Principal, url: str
    ) -> None:
        legacy.update(self.store, fn, result)

    def _fn_create_aradjustment(
        self, result: ET.Element, fn: ET.Element, p: Principal, url: str
    ) -> None:
        legacy.create(self.store, fn, result)

    def _fn_create_arpayment(
        self, result: ET.Element, fn: ET.Element, p: Principal, url: str
    ) -> None:
        legacy.create(self.store, fn, result)

    def _fn_get_araging(self, result: ET.Element, fn: ET.Element, p: Principal, url: str) -> None:
        get_araging(self.store, fn, result)

    # object definitions (metadata.py)
    def _fn_lookup(self, result: ET.Element, fn: ET.Element, p: Principal, url: str) -> None:
        metadata.lookup(self.removals, fn, result)

    def _fn_inspect(self, result: ET.Element, fn: ET.Element, p: Principal, url: str) -> None:
        metadata.inspect(self.removals, fn, result)

    def _fn_delete(self, result: ET.Element, fn: ET.Element, p: Principal, url: str) -> None:
        schema = self._schema(text(fn, "object"))
        for key in _keys(text(fn, "keys")):
            self.store.delete(schema, key)

    # reads
    def _render(self, parent: ET.Element, tag: str, row: Row, fields: list[str] | None) -> None:
        item = ET.SubElement(parent, tag)
        if fields is None:
            add(item, "RECORDNO", row["RECORDNO"])
            for name, value in row.items():
                if name != "RECORDNO":
                    add(item, name, value)
            return
        for name in fields:
            value = field_value(row, name)
            add(item, name, "" if value is None else value)

    def _fields(self, spec: str) -> list[str] | None:
        spec = spec.strip()
        if spec in ("", "*"):
            return None
        return [f.strip() for f in spec.split(",") if f.strip()]

    def _comparer(self, case_insensitive: bool = False) -> Comparer:
        return Comparer(self.store.parse_local, case_insensitive)

    def _fn_read(self, result: ET.Element, fn: ET.Element, p: Principal, url: str) -> None:
        schema = self._schema(text(fn, "object"))
        table = self.store.table(schema.name)
        keys = _keys(text(fn, "keys"))
        if len(keys) > MAX_READ_KEYS:
            raise business_error(f"read accepts at most {MAX_READ_KEYS} keys.")
        rows = (
            [table[int(k)] for k in keys if k.isdigit() and int(k) in table]
            if keys
            else list(table.values())[:MAX_READ_KEYS]
        )
        self._list(result, schema, rows, self._fields(text(fn, "fields", "*")))

    def _fn_readByName(self, result: ET.Element, fn: ET.Element, p: Principal, url: str) -> None:
        schema = self._schema(text(fn, "object"))
        keys = _keys(text(fn, "keys"))
        if len(keys) > MAX_READ_KEYS:
            raise business_error(f"readByName accepts at most {MAX_READ_KEYS} keys.")
        found = [self.store.by_id(schema, k) for k in keys]
        self._list(
            result,
            schema,
            [r for r in found if r is not None],
            self._fields(text(fn, "fields", "*")),
        )

    def _list(self, result: ET.Element, schema: ObjectSchema, rows: list[Row], fields: Any) -> None:
        data = ET.SubElement(result, "data", listtype=schema.lower, count=str(len(rows)))
        for row in rows:
            self._render(data, schema.lower, row, fields)

    def _fn_readByQuery(self, result: ET.Element, fn: ET.Element, p: Principal, url: str) -> None:
        schema = self._schema(text(fn, "object"))
        predicate = text_filter(text(fn, "query"), self._comparer())
        rows = [r for r in self.store.table(schema.name).values() if predicate(r)]
        size = _int(text(fn, "pagesize", "100"), "pagesize")
        size = max(1, min(size, self.options().read_by_query_max_page))
        page = ResultSet(
            id=secrets.token_hex(16),
            session=p.key,
            object=schema.name,
            rows=rows,
            fields=self._fields(text(fn, "fields", "*")),
            page_size=size,
            position=0,
            expires=self.store.clock() + self.options().result_id_ttl_s,
        )
        self._page(result, page)

    def _fn_readMore(self, result: ET.Element, fn: ET.Element, p: Principal, url: str) -> None:
        result_id = text(fn, "resultId").strip()
        now = self.store.clock()
        page: ResultSet | None = None
        if result_id:
            page = self.store.results.get(result_id)
        elif text(fn, "object"):
            object_name = text(fn, "object").strip().upper()
            candidates = [
                r
                for r in self.store.results.values()
                if r.session == p.key and r.object == object_name
            ]
            page = candidates[-1] if candidates else None
        if page is None or page.expires <= now or page.session != p.key:
            if page is not None:
                self.store.results.pop(page.id, None)
            raise business_error(
                "Attempt to readMore with an invalid or expired resultId.",
                "Run the readByQuery again.",
                errorno="GL04000109",
            )
        self._page(result, page)

    def _page(self, result: ET.Element, page: ResultSet) -> None:
        schema = OBJECTS[page.object]
        chunk = page.rows[page.position : page.position + page.page_size]
        page.position += len(chunk)
        remaining = len(page.rows) - page.position
        attrs = {
            "listtype": schema.lower,
            "count": str(len(chunk)),
            "totalcount": str(len(page.rows)),
            "numremaining": str(remaining),
            # Always there, empty once nothing remains: clients read it unconditionally
            # (docs/wire-notes.md).
            "resultId": page.id if remaining > 0 else "",
        }
        if remaining > 0:
            self.store.results[page.id] = page
        else:
            self.store.results.pop(page.id, None)
        data = ET.SubElement(result, "data", attrs)
        for row in chunk:
            self._render(data, schema.lower, row, page.fields)

    def _fn_query(self, result: ET.Element, fn: ET.Element, p: Principal, url: str) -> None:
        schema = self._schema(text(fn, "object"))
        select = fn.find("select")
        fields = (
            [f.text.strip() for f in select.findall("field") if f.text]
            if select is not None
            else []
        )
        if not fields:
            raise schema_error("query needs a select element with at least one field.")
        options_block = fn.find("options")
        insensitive = text(options_block, "caseinsensitive").lower() == "true"
        comparer = self._comparer(insensitive)
        predicate = xml_filter(fn.find("filter"), comparer)
        candidates = list(self._candidates(schema.name, fn.find("filter"), insensitive))
        self.examined += len(candidates)
        rows = [r for r in candidates if predicate(r)]
        orderby = fn.find("orderby")
        orders = []
        if orderby is not None:
            for order in orderby.findall("order"):
                name = text(order, "field").strip()
                orders.append((name, order.find("descending") is not None))
        rows.sort(key=lambda r: r["RECORDNO"])
        for name, descending in reversed(orders):
            rows.sort(
                key=lambda r, n=name: _sortable(comparer.key(n, field_value(r, n))),
                reverse=descending,
            )
        size = _int(text(fn, "pagesize", "100"), "pagesize")
        size = max(1, min(size, self.options().query_max_page))
        offset = max(0, _int(text(fn, "offset", "0"), "offset"))
        chunk = rows[offset : offset + size]
        data = ET.SubElement(
            result,
            "data",
            listtype=schema.name,
            totalcount=str(len(rows)),
            offset=str(offset),
            count=str(len(chunk)),
            numremaining=str(max(0, len(rows) - offset - len(chunk))),
        )
        for row in chunk:
            self._render(data, schema.name, row, fields)

    def _candidates(
        self, table: str, filter_: ET.Element | None, insensitive: bool
    ) -> Iterable[Row]:
        """The rows a filter can match: through an index when the filter is (or is an `and`
        holding) an `equalto`/`in` on a field that is not a timestamp, else every row."""
        conditions = list(filter_) if filter_ is not None else []
        if len(conditions) == 1 and conditions[0].tag == "and":
            conditions = list(conditions[0])
        for condition in conditions:
            field = (condition.findtext("field") or "").strip()
            indexable = field and field.upper() not in TIMESTAMP_FIELDS
            if condition.tag in ("equalto", "in") and indexable:
                values = [v.text or "" for v in condition.findall("value")]
                return self.store.lookup(table, field, values, insensitive)
        return self.store.table(table).values()


def _sortable(key: Any) -> tuple[int, Any]:
    return (0, (0, "")) if key is None else (1, key)


def _keys(spec: str) -> list[str]:
    return [k.strip() for k in spec.split(",") if k.strip()]


def _int(value: str, name: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise schema_error(f"{name} must be an integer.") from None
