"""Table definitions (`EntityDefinitions`) as the Web API serves them, and the customisation
state they describe: which Shuttle binding columns (`shuttle_creatio<table>id`) and alternate
keys exist and whether each key's index is built yet (docs/wire-notes.md).

Reads: `EntityDefinitions` (with `$filter=LogicalName eq '…'`), `EntityDefinitions(LogicalName=
'x')` or `(<MetadataId>)`, their `Attributes` (optionally cast to one attribute type, e.g.
`/Microsoft.Dynamics.CRM.StringAttributeMetadata`), `Keys`, `ManyToOneRelationships` and
`OneToManyRelationships`, with `$select` and `$expand`. Writes: POST a string column to
`.../Attributes` and an alternate key to `.../Keys` (204 + OData-EntityId). A new key's
`EntityKeyIndexStatus` is `Pending` for its first `key_activation_reads` reads, then `Active`;
only an Active key serves upserts, as on the real service.

The environment starts customised (every binding column and key there, Active), so the demo
passes the preflight; `unprovision()` (admin route) makes it a fresh environment.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.emulators.dataverse.schema import CUSTOM_COLUMNS, TABLES, Column, Table
from sandbox.emulators.dataverse.wire import ODATA_ERROR, EmulatedError, bad_request
from sandbox.emulators.knobs import ADMIN_PREFIX

if TYPE_CHECKING:
    from sandbox.emulators.dataverse.webapi import Call, Result

NAMESPACE = uuid.UUID("0f0e8c1a-5a4e-4f7b-9d3c-5d1e7a0b2c11")
CRM = "Microsoft.Dynamics.CRM."
NOT_FOUND = "0x80040217"
_PATH = re.compile(
    r"^EntityDefinitions(?:\((?P<key>[^()]*)\))?"
    r"(?:/(?P<nav>Attributes|Keys|ManyToOneRelationships|OneToManyRelationships)"
    r"(?:\((?P<sub>[^()]*)\))?(?:/(?P<cast>Microsoft\.Dynamics\.CRM\.\w+))?)?$"
)
_LOGICAL_KEY = re.compile(r"^\s*LogicalName\s*=\s*'(?P<name>[^']*)'\s*$")
_CONDITION = re.compile(r"^\s*(?P<name>\w+)\s+eq\s+(?P<value>'[^']*'|true|false|\d+)\s*$")
CHOICE_TYPES = ("PicklistAttributeMetadata", "StateAttributeMetadata", "StatusAttributeMetadata")
TYPE_CODES = {
    "account": 1,
    "contact": 2,
    "opportunity": 3,
    "incident": 112,
    "product": 1024,
    "salesorder": 1088,
    "salesorderdetail": 1089,
    "invoice": 1090,
    "invoicedetail": 1091,
}
SCHEMA_NAMES = {
    "salesorder": "SalesOrder",
    "salesorderdetail": "SalesOrderDetail",
    "invoicedetail": "InvoiceDetail",
}
ENTITY_PROPERTIES = (
    "MetadataId",
    "LogicalName",
    "SchemaName",
    "EntitySetName",
    "LogicalCollectionName",
    "CollectionSchemaName",
    "PrimaryIdAttribute",
    "PrimaryNameAttribute",
    "ObjectTypeCode",
    "IsCustomEntity",
    "OwnershipType",
    "DisplayName",
    "DisplayCollectionName",
)
ATTRIBUTE_PROPERTIES = (
    "MetadataId",
    "LogicalName",
    "SchemaName",
    "EntityLogicalName",
    "AttributeType",
    "AttributeTypeName",
    "IsCustomAttribute",
    "IsPrimaryId",
    "IsPrimaryName",
    "IsValidForRead",
    "IsValidForCreate",
    "IsValidForUpdate",
    "RequiredLevel",
    "DisplayName",
    "AttributeOf",
)
# Column type -> (AttributeType, its metadata type, AttributeTypeName)
KINDS = {
    "string": ("String", "StringAttributeMetadata", "StringType"),
    "memo": ("Memo", "MemoAttributeMetadata", "MemoType"),
    "int": ("Integer", "IntegerAttributeMetadata", "IntegerType"),
    "decimal": ("Decimal", "DecimalAttributeMetadata", "DecimalType"),
    "money": ("Money", "MoneyAttributeMetadata", "MoneyType"),
    "picklist": ("Picklist", "PicklistAttributeMetadata", "PicklistType"),
    "bool": ("Boolean", "BooleanAttributeMetadata", "BooleanType"),
    "date": ("DateTime", "DateTimeAttributeMetadata", "DateTimeType"),
    "datetime": ("DateTime", "DateTimeAttributeMetadata", "DateTimeType"),
    "guid": ("Uniqueidentifier", "UniqueIdentifierAttributeMetadata", "UniqueidentifierType"),
}


def metadata_id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


def label(text: str) -> dict[str, Any]:
    localized = {"Label": text, "LanguageCode": 1033}
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": localized}


def key_name(table: Table) -> str:
    return f"{table.alternate_key}_key"


@dataclass
class KeyState:
    logical_name: str
    attributes: tuple[str, ...]
    reads_left: int = 0  # reads that still show Pending
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def read(self) -> str:
        """The index status this read shows (each read brings a Pending index closer)."""
        if self.reads_left > 0:
            self.reads_left -= 1
            return "Pending"
        return "Active"

    @property
    def active(self) -> bool:
        return self.reads_left == 0


@dataclass
class Customisation:
    """What has been added to the environment beyond the standard tables."""

    key_activation_reads: int = 1
    absent: dict[str, set[str]] = field(default_factory=dict)  # table -> columns not created
    extra: dict[str, dict[str, int]] = field(default_factory=dict)  # created, unknown to schema
    keys: dict[str, dict[str, KeyState]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.absent = {name: set() for name in TABLES}
        self.extra = {name: {} for name in TABLES}
        self.keys = {
            name: {key_name(t): KeyState(key_name(t), (t.alternate_key,))}
            for name, t in TABLES.items()
        }

    def unprovision(self) -> None:
        """A fresh environment: no Shuttle binding column, no alternate key."""
        for name, table in TABLES.items():
            self.absent[name] = {table.alternate_key, *CUSTOM_COLUMNS.get(name, ())}
            self.extra[name] = {}
            self.keys[name] = {}

    def column_absent(self, table: Table, name: str) -> bool:
        return name in self.absent[table.logical]

    def key_usable(self, table: Table) -> bool:
        return any(
            k.attributes == (table.alternate_key,) and k.active
            for k in self.keys[table.logical].values()
        )

    # -- admin --------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        prefix = f"{ADMIN_PREFIX}/metadata"

        async def view(request: Request) -> Response:
            return JSONResponse(self.view())

        async def unprovision(request: Request) -> Response:
            self.unprovision()
            return JSONResponse(self.view())

        async def restore(request: Request) -> Response:
            self.reset()
            return JSONResponse(self.view())

        async def options(request: Request) -> Response:
            try:
                reads = int((await request.json())["key_activation_reads"])
            except (ValueError, KeyError, TypeError):
                return JSONResponse({"error": "give key_activation_reads (0 or more)"}, 422)
            self.key_activation_reads = max(0, reads)
            return JSONResponse(self.view())

        async def drop_column(request: Request) -> Response:
            table = TABLES.get(request.path_params["table"])
            name = request.path_params["column"]
            if table is None or name not in table.columns:
                return JSONResponse({"error": "no such table or column"}, 404)
            self.absent[table.logical].add(name)
            for key in list(self.keys[table.logical].values()):
                if name in key.attributes:  # a key goes with its column
                    del self.keys[table.logical][key.logical_name]
            return JSONResponse(self.view())

        async def drop_key(request: Request) -> Response:
            table = TABLES.get(request.path_params["table"])
            if (
                table is None
                or self.keys[table.logical].pop(request.path_params["key"], None) is None
            ):
                return JSONResponse({"error": "no such table or key"}, 404)
            return JSONResponse(self.view())

        return [
            Route(prefix, view, methods=["GET"]),
            Route(f"{prefix}/unprovision", unprovision, methods=["POST"]),
            Route(f"{prefix}/restore", restore, methods=["POST"]),
            Route(f"{prefix}/options", options, methods=["PUT", "PATCH"]),
            Route(f"{prefix}/{{table}}/keys/{{key}}", drop_key, methods=["DELETE"]),
            Route(f"{prefix}/{{table}}/{{column}}", drop_column, methods=["DELETE"]),
        ]

    def view(self) -> dict[str, Any]:
        return {
            "key_activation_reads": self.key_activation_reads,
            "absent": {k: sorted(v) for k, v in self.absent.items() if v},
            "extra": {k: sorted(v) for k, v in self.extra.items() if v},
            "keys": {
                t: {k.logical_name: ("Active" if k.active else "Pending") for k in keys.values()}
                for t, keys in self.keys.items()
            },
        }


# -- JSON shapes ------------------------------------------------------------------------------
def _schema_name(logical: str) -> str:
    return SCHEMA_NAMES.get(logical, logical[:1].upper() + logical[1:])


def entity_json(table: Table) -> dict[str, Any]:
    schema = _schema_name(table.logical)
    return {
        "MetadataId": metadata_id("entity", table.logical),
        "LogicalName": table.logical,
        "SchemaName": schema,
        "EntitySetName": table.entity_set,
        "LogicalCollectionName": table.entity_set,
        "CollectionSchemaName": schema + "s",
        "PrimaryIdAttribute": table.primary_key,
        "PrimaryNameAttribute": table.primary_name,
        "ObjectTypeCode": TYPE_CODES.get(table.logical, 10000),
        "IsCustomEntity": False,
        "OwnershipType": "UserOwned",
        "DisplayName": label(schema),
        "DisplayCollectionName": label(schema + "s"),
    }


def _attribute(table: Table, name: str, kind: str, custom: bool) -> dict[str, Any]:
    attribute_type, metadata_type, type_name = KINDS.get(kind, (kind, "AttributeMetadata", ""))
    return {
        "@odata.type": f"#{CRM}{metadata_type}",
        "MetadataId": metadata_id("attribute", table.logical, name),
        "LogicalName": name,
        "SchemaName": name if custom else _schema_name(name),
        "EntityLogicalName": table.logical,
        "AttributeType": attribute_type,
        "AttributeTypeName": {"Value": type_name},
        "IsCustomAttribute": custom,
        "IsPrimaryId": name == table.primary_key,
        "IsPrimaryName": name == table.primary_name,
        "IsValidForRead": True,
        "IsValidForCreate": name not in ("createdon", "modifiedon", "versionnumber"),
        "IsValidForUpdate": name not in (table.primary_key, "createdon", "modifiedon"),
        "RequiredLevel": {
            "Value": "SystemRequired" if name == table.primary_key else "None",
            "CanBeChanged": True,
            "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
        },
        "DisplayName": label(name),
        "AttributeOf": None,
    }


def column_json(table: Table, column: Column) -> dict[str, Any]:
    custom = column.name.startswith("shuttle_")
    out = _attribute(table, column.name, column.type, custom)
    if column.name in ("statecode", "statuscode"):
        kind = "State" if column.name == "statecode" else "Status"
        out["@odata.type"] = f"#{CRM}{kind}AttributeMetadata"
        out["AttributeType"], out["AttributeTypeName"] = kind, {"Value": f"{kind}Type"}
    if column.type in ("string", "memo"):
        out["MaxLength"] = column.max_length
        out["FormatName"] = {"Value": "Text" if column.type == "string" else "TextArea"}
    if column.type == "date":
        out["Format"], out["DateTimeBehavior"] = "DateOnly", {"Value": "DateOnly"}
    if column.type == "datetime":
        out["Format"], out["DateTimeBehavior"] = "DateAndTime", {"Value": "UserLocal"}
    if column.type in ("int", "decimal", "money"):
        out["MinValue"], out["MaxValue"] = column.minimum, column.maximum
    if column.type == "picklist" or column.name in ("statecode", "statuscode"):
        out["OptionSet"] = {
            "MetadataId": metadata_id("optionset", table.logical, column.name),
            "Name": f"{table.logical}_{column.name}",
            "IsGlobal": False,
            "OptionSetType": "State"
            if column.name == "statecode"
            else ("Status" if column.name == "statuscode" else "Picklist"),
            "Options": [{"Value": value, "Label": label(str(value))} for value in column.options],
        }
    return out


def attributes(table: Table, state: Customisation) -> list[dict[str, Any]]:
    out = [
        column_json(table, c)
        for c in table.columns.values()
        if not state.column_absent(table, c.name)
    ]
    for lookup in table.lookups.values():
        item = _attribute(table, lookup.name, "lookup", False)
        customer = len(lookup.targets) > 1
        item["@odata.type"] = f"#{CRM}LookupAttributeMetadata"
        item["AttributeType"] = "Customer" if customer else "Lookup"
        item["AttributeTypeName"] = {"Value": "CustomerType" if customer else "LookupType"}
        item["Targets"] = sorted(set(lookup.targets.values()))
        out.append(item)
    for name, length in state.extra[table.logical].items():
        out.append(column_json(table, Column(name, "string", max_length=length)))
    return out


def keys(table: Table, state: Customisation) -> list[dict[str, Any]]:
    return [
        {
            "MetadataId": key.id,
            "LogicalName": key.logical_name,
            "SchemaName": key.logical_name,
            "EntityLogicalName": table.logical,
            "KeyAttributes": list(key.attributes),
            "EntityKeyIndexStatus": key.read(),
            "DisplayName": label(key.logical_name),
        }
        for key in state.keys[table.logical].values()
    ]


def _relationship(table: Table, lookup: str, navprop: str, target: str) -> dict[str, Any]:
    return {
        "MetadataId": metadata_id("relationship", table.logical, navprop),
        "SchemaName": f"{table.logical}_{navprop}",
        "RelationshipType": "OneToManyRelationship",
        "ReferencedEntity": target,
        "ReferencedAttribute": f"{target}id",
        "ReferencingEntity": table.logical,
        "ReferencingAttribute": lookup,
        "ReferencingEntityNavigationPropertyName": navprop,
        "ReferencedEntityNavigationPropertyName": f"{table.logical}_{navprop}",
    }


def many_to_one(table: Table) -> list[dict[str, Any]]:
    return [
        _relationship(table, lk.name, navprop, target)
        for lk in table.lookups.values()
        for navprop, target in lk.targets.items()
    ]


def one_to_many(table: Table) -> list[dict[str, Any]]:
    return [
        r
        for other in TABLES.values()
        for r in many_to_one(other)
        if r["ReferencedEntity"] == table.logical
    ]


NAVIGATIONS = {
    "Attributes": attributes,
    "Keys": keys,
    "ManyToOneRelationships": lambda t, s: many_to_one(t),
    "OneToManyRelationships": lambda t, s: one_to_many(t),
}


# -- query options ----------------------------------------------------------------------------
def _select(text: str | None, allowed: tuple[str, ...] | None, type_name: str) -> list[str] | None:
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if allowed is not None and name not in allowed:
            raise bad_request(f"Could not find a property named '{name}' on type '{type_name}'.")
    return names


def _project(item: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if select is None:
        return item
    out = {k: item[k] for k in ("@odata.type",) if k in item}
    out.update({name: item.get(name) for name in select})
    out["MetadataId"] = item["MetadataId"]  # the key is always there
    return out


def _filter(text: str | None) -> list[list[tuple[str, Any]]]:
    """`A eq 'x' or A eq 'y'` -> [[("A","x")], [("A","y")]] (or of ands)."""
    if not text:
        return []
    groups = []
    for part in re.split(r"\s+or\s+", text.strip()):
        conditions = []
        for piece in re.split(r"\s+and\s+", part):
            match = _CONDITION.match(piece.strip("() "))
            if match is None:
                raise bad_request(f"The $filter '{text}' is not supported on metadata here.")
            raw = match["value"]
            value: Any = raw[1:-1] if raw.startswith("'") else json.loads(raw)
            conditions.append((match["name"], value))
        groups.append(conditions)
    return groups


def _passes(item: dict[str, Any], groups: list[list[tuple[str, Any]]]) -> bool:
    return not groups or any(all(item.get(n) == v for n, v in group) for group in groups)


def _expand(text: str | None) -> dict[str, dict[str, str]]:
    """`Attributes($select=A,B),Keys` -> {"Attributes": {"$select": "A,B"}, "Keys": {}}."""
    out: dict[str, dict[str, str]] = {}
    if not text:
        return out
    depth, start, parts = 0, 0, []
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    for part in parts:
        name, _, inner = part.strip().partition("(")
        if name not in NAVIGATIONS:
            raise bad_request(
                f"Could not find a property named '{name}' on type '{CRM}EntityMetadata'."
            )
        options = {}
        for option in inner.rstrip(")").split(";") if inner else []:
            key, _, value = option.partition("=")
            options[key.strip()] = value.strip()
        out[name] = options
    return out


# -- the resource -----------------------------------------------------------------------------
class MetadataApi:
    def __init__(self, state: Customisation) -> None:
        self.state = state

    def _table(self, key: str) -> Table:
        match = _LOGICAL_KEY.match(key)
        if match is not None:
            table = TABLES.get(match["name"])
            name = match["name"]
        else:
            wanted = key.strip().lower()
            table = next(
                (t for t in TABLES.values() if metadata_id("entity", t.logical) == wanted), None
            )
            name = key
        if table is None:
            raise EmulatedError(
                404,
                NOT_FOUND,
                f"Could not find an entity with name {name} and id "
                "00000000-0000-0000-0000-000000000000",
            )
        return table

    def execute(self, call: Call) -> Result:
        from sandbox.emulators.dataverse.webapi import Result

        path = call.path.strip("/")
        match = _PATH.match(path)
        if match is None:
            raise EmulatedError(404, ODATA_ERROR, f"Resource not found for the segment '{path}'.")
        params = dict(call.query)
        if call.method == "POST":
            if match["key"] is None or match["nav"] not in ("Attributes", "Keys") or match["sub"]:
                raise EmulatedError(405, ODATA_ERROR, "The HTTP method 'POST' is not allowed here.")
            table = self._table(match["key"])
            return self._create(table, match["nav"], call)
        if call.method != "GET":
            message = f"The HTTP method '{call.method}' is not allowed here."
            raise EmulatedError(405, ODATA_ERROR, message)
        context = f"{call.base}$metadata#"
        if match["key"] is None:
            select = _select(params.get("$select"), ENTITY_PROPERTIES, f"{CRM}EntityMetadata")
            groups = _filter(params.get("$filter"))
            expand = _expand(params.get("$expand"))
            items = [
                self._entity(t, select, expand)
                for t in TABLES.values()
                if _passes(entity_json(t), groups)
            ]
            suffix = f"({','.join(select)})" if select else ""
            return Result(
                200, {"@odata.context": f"{context}EntityDefinitions{suffix}", "value": items}
            )
        table = self._table(match["key"])
        nav = match["nav"]
        if nav is None:
            select = _select(params.get("$select"), ENTITY_PROPERTIES, f"{CRM}EntityMetadata")
            body = self._entity(table, select, _expand(params.get("$expand")))
            suffix = f"({','.join(select)})" if select else ""
            return Result(
                200, {"@odata.context": f"{context}EntityDefinitions{suffix}/$entity", **body}
            )
        items = self._collection(table, nav, match["cast"], params)
        where = f"{context}EntityDefinitions({match['key']})/{nav}"
        if match["cast"]:
            where += f"/{match['cast']}"
        if match["sub"] is not None:
            wanted = _LOGICAL_KEY.match(match["sub"])
            found = [
                i
                for i in items
                if (wanted and i.get("LogicalName") == wanted["name"])
                or i["MetadataId"] == match["sub"].strip().lower()
            ]
            if not found:
                raise EmulatedError(
                    404,
                    NOT_FOUND,
                    f"Could not find {nav[:-1].lower()} {match['sub']} on entity {table.logical}.",
                )
            return Result(200, {"@odata.context": f"{where}/$entity", **found[0]})
        return Result(200, {"@odata.context": where, "value": items})

    def _entity(
        self, table: Table, select: list[str] | None, expand: dict[str, dict[str, str]]
    ) -> dict[str, Any]:
        body = _project(entity_json(table), select)
        for nav, options in expand.items():
            body[nav] = self._collection(table, nav, None, options)
        return body

    def _collection(
        self, table: Table, nav: str, cast: str | None, params: dict[str, str]
    ) -> list[dict[str, Any]]:
        items = NAVIGATIONS[nav](table, self.state)
        allowed: tuple[str, ...] | None = None
        type_name = f"{CRM}{nav}"
        if nav == "Attributes":
            allowed, type_name = ATTRIBUTE_PROPERTIES, f"{CRM}AttributeMetadata"
            if cast is not None:
                items = [i for i in items if i["@odata.type"] == f"#{cast}"]
                allowed, type_name = None, cast
        select = _select(params.get("$select"), allowed, type_name)
        groups = _filter(params.get("$filter"))
        # OptionSet is a navigation property of the choice types: there only when expanded.
        expand = {e.strip() for e in params.get("$expand", "").split(",") if e.strip()}
        choice = cast is not None and cast.rsplit(".", 1)[-1] in CHOICE_TYPES
        if expand and (not choice or expand != {"OptionSet"}):
            name = next(iter(sorted(expand)))
            raise bad_request(f"Could not find a property named '{name}' on type '{type_name}'.")
        out = []
        for item in items:
            if _passes(item, groups):
                option_set = item.get("OptionSet")
                projected = {k: v for k, v in _project(item, select).items() if k != "OptionSet"}
                if expand and option_set is not None:
                    projected["OptionSet"] = option_set
                out.append(projected)
        return out

    # -- writes ------------------------------------------------------------------------------
    def _create(self, table: Table, nav: str, call: Call) -> Result:
        from sandbox.emulators.dataverse.webapi import Result

        try:
            body = json.loads(call.body or b"{}")
        except ValueError:
            raise bad_request("The request body is not valid JSON.") from None
        schema = body.get("SchemaName") if isinstance(body, dict) else None
        if not isinstance(schema, str) or not re.fullmatch(r"[A-Za-z]\w*_\w+", schema):
            raise bad_request(
                "SchemaName is required and needs a customization prefix (prefix_Name)."
            )
        logical = schema.lower()
        entity_id = metadata_id("entity", table.logical)
        if nav == "Attributes":
            kind = body.get("@odata.type", "").lstrip("#")
            known = table.columns.get(logical)
            money = known is not None and known.type == "money"
            if kind != f"{CRM}{'Money' if money else 'String'}AttributeMetadata":
                raise bad_request(
                    "The emulator creates string columns, and the money columns its schema "
                    "knows (@odata.type Microsoft.Dynamics.CRM.StringAttributeMetadata or "
                    "MoneyAttributeMetadata)."
                )
            exists = (
                logical in table.columns and not self.state.column_absent(table, logical)
            ) or logical in self.state.extra[table.logical]
            if exists:
                raise bad_request(
                    f"An attribute with the name {logical} already exists on "
                    f"entity {table.logical}."
                )
            length = body.get("MaxLength", 100)
            if logical in table.columns:
                self.state.absent[table.logical].discard(logical)
            else:
                self.state.extra[table.logical][logical] = int(length)
            url = (
                f"{call.base}EntityDefinitions({entity_id})/Attributes("
                f"{metadata_id('attribute', table.logical, logical)})"
            )
            return Result(204, None, {"OData-EntityId": url})
        names = body.get("KeyAttributes")
        if not isinstance(names, list) or not names:
            raise bad_request("KeyAttributes must list the key's columns.")
        for name in names:
            present = (
                name in table.columns and not self.state.column_absent(table, name)
            ) or name in self.state.extra[table.logical]
            if not present:
                raise bad_request(f"Attribute {name} does not exist on entity {table.logical}.")
        existing = self.state.keys[table.logical]
        if logical in existing or any(k.attributes == tuple(names) for k in existing.values()):
            raise bad_request(
                f"An entity key with the same name or columns already exists on "
                f"entity {table.logical}."
            )
        key = KeyState(logical, tuple(names), reads_left=self.state.key_activation_reads)
        existing[logical] = key
        url = f"{call.base}EntityDefinitions({entity_id})/Keys({key.id})"
        return Result(204, None, {"OData-EntityId": url})
