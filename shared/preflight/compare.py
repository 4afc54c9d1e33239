"""Needs (needs.py) against what a live system says it has (connectors' metadata.py): each
missing or mismatched item becomes a Problem naming the flows that need it and the fix."""

from __future__ import annotations

from shared.connectors.dataverse.entities import ENTITIES as DATAVERSE_TABLES
from shared.connectors.metadata import FieldInfo, ObjectInfo
from shared.preflight.model import Problem
from shared.preflight.needs import (
    CREATIO_CUSTOM,
    CREATIO_CUSTOM_OBJECTS,
    DATAVERSE_CUSTOM,
    FieldNeed,
    ObjectNeed,
)

EDM = {
    "text": "Edm.String",
    "datetime": "Edm.DateTimeOffset",
    "boolean": "Edm.Boolean",
    "decimal": "Edm.Decimal",
    "lookup": "Edm.Guid",
}
GUIDE = "docs/deploy.md, 'What the solutions need in each system'"
PROVISION = "run `shuttle provision dataverse` (or create it as docs/deploy.md shows)"


def _flows(flows: set[str]) -> list[str]:
    return sorted(flows)


def _field_fix(need: ObjectNeed, name: str, wanted: FieldNeed) -> str:
    if need.system == "creatio" and (need.object, name) in CREATIO_CUSTOM:
        kind, length = CREATIO_CUSTOM[(need.object, name)]
        size = f", length {length}" if length else ""
        return f"add the {kind} field {name}{size} to {need.object} in Creatio ({GUIDE})"
    if need.system == "dataverse" and (name == need.key or (need.object, name) in DATAVERSE_CUSTOM):
        return PROVISION
    return (
        f"the solution maps {need.object}.{name}: check that the field exists under this "
        "name and that the integration user may read and write it"
    )


def _object_fix(need: ObjectNeed) -> str:
    if need.system == "creatio" and need.object in CREATIO_CUSTOM_OBJECTS:
        return f"create the custom object {need.object} in Creatio ({GUIDE})"
    return (
        f"check that {need.object} exists in {need.system} and that the integration user "
        "may read it (its module or licence may be missing)"
    )


def _problem(
    need: ObjectNeed,
    *,
    kind: str,
    flows: set[str],
    message: str,
    fix: str,
    field: str | None = None,
) -> Problem:
    return Problem(
        system=need.system,
        object=need.object,
        field=field,
        kind=kind,
        flows=_flows(flows),
        message=message,
        fix=fix,
    )


def _field_issue(
    need: ObjectNeed, name: str, wanted: FieldNeed, found: FieldInfo | None, where: str
) -> tuple[str, str, str] | None:
    """The first thing wrong with one field, as (kind, message, fix), or None."""
    if found is None:
        return "missing_field", f"{where} has no field {name}", _field_fix(need, name, wanted)
    expected = EDM.get(wanted.kind or "") if need.system == "creatio" else None
    if expected is not None and found.type != expected:
        message = f"{where}.{name} is {found.type}, the solution needs {expected}"
        return "wrong_type", message, _field_fix(need, name, wanted)
    custom = CREATIO_CUSTOM.get((need.object, name)) if need.system == "creatio" else None
    longest = max(wanted.max_length or 0, (custom[1] or 0) if custom else 0)
    if found.max_length is not None and longest > found.max_length:
        message = (
            f"{where}.{name} holds {found.max_length} characters, the solution writes up to "
            f"{longest}"
        )
        return "too_short", message, f"make {need.object}.{name} at least {longest} characters long"
    return None


def _key_issue(need: ObjectNeed, info: ObjectInfo, where: str) -> tuple[str, str, str] | None:
    """What is wrong with the alternate key on `need.key` (when the field exists), or None."""
    if need.key is None or need.key not in info.fields:
        return None
    keys = [k for k in info.keys if k.attributes == (need.key,)]
    if not keys:
        message = f"{where}: {need.key} is not an alternate key (upserts by it fail)"
        return "missing_key", message, PROVISION
    if not any(k.status == "Active" for k in keys):
        status = keys[0].status or "unknown"
        message = f"{where}: the index of alternate key {keys[0].name} is {status}"
        fix = (
            "wait until Dataverse has built the index (Pending/InProgress), or, when "
            "Failed, remove duplicate values of the column and reactivate the key"
        )
        return "key_not_active", message, fix
    return None


def compare(need: ObjectNeed, info: ObjectInfo | None) -> list[Problem]:
    where = f"{need.system} {need.object}"
    if info is None:
        return [
            _problem(
                need,
                kind="missing_object",
                flows=need.flows,
                message=f"{where} does not exist",
                fix=_object_fix(need),
            )
        ]
    problems: list[Problem] = []
    if need.system == "dataverse":
        table = DATAVERSE_TABLES.get(need.object)
        if table is not None and info.entity_set and info.entity_set != table.entity_set:
            problems.append(
                _problem(
                    need,
                    field="EntitySetName",
                    kind="wrong_type",
                    flows=need.flows,
                    message=f"{where}: entity set is {info.entity_set}, Shuttle uses "
                    f"{table.entity_set}",
                    fix="tell the Shuttle maintainers: the table's entity set differs",
                )
            )
    for name, wanted in sorted(need.fields.items()):
        issue = _field_issue(need, name, wanted, info.fields.get(name), where)
        if issue is not None:
            kind, message, fix = issue
            problems.append(
                _problem(need, field=name, kind=kind, flows=wanted.flows, message=message, fix=fix)
            )
    key_issue = _key_issue(need, info, where)
    if key_issue is not None:
        kind, message, fix = key_issue
        problems.append(
            _problem(
                need, field=need.key, kind=kind, flows=need.key_flows, message=message, fix=fix
            )
        )
    return problems
