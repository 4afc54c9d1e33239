"""Per-record decisions that need no I/O: which mapped fields to write, which a three-way
comparison with the last sync reports as conflicts, and the action a run's plan shows.

Each function takes one record's data and returns a decision, so the record-by-record path
(upsert.py) and a chunked path can share them.

Three-way: the binding keeps, per field, a short hash of the value both sides agreed on at
the last sync (`field_hashes`, stored in binding_store.py). A field changed on both sides
since then is a conflict: the field's master wins and the run records the field with both
values. Short hashes (12 hex digits per field) keep the binding row bounded whatever the
field values hold.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.connectors.protocol import LINES_FIELD
from shared.engine.values import canonical, same

# A value shown in a plan or a conflict is cut to this many characters (rows stay bounded).
SHOWN_CHARS = 200


class Action(StrEnum):
    """What happened (or, in a dry run, would happen) to one record: the plan's vocabulary."""

    CREATE = "create"
    UPDATE = "update"
    LINK = "link"  # bound to an existing target record found by a match key
    UNCHANGED = "unchanged"
    SKIPPED_BY_FILTER = "skipped_by_filter"
    SKIPPED_OLDER = "skipped_older"  # a version older than the one already synced
    BLOCKED_BY_MASTERSHIP = "blocked_by_mastership"
    WAITING_FOR_DEPENDENCY = "waiting_for_dependency"
    NOT_BOUND = "not_bound"  # a binding flow found no target record to bind to
    DELETED_AT_SOURCE = "deleted_at_source"
    FAILED = "failed"


def field_hash(value: Any) -> str:
    text = json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def field_hashes(values: Mapping[str, Any]) -> dict[str, str]:
    """The per-field base a binding keeps for the next three-way comparison."""
    return {k: field_hash(v) for k, v in values.items() if k != LINES_FIELD}


def shown(value: Any) -> Any:
    """A value as a plan or conflict shows it: JSON-able, long text cut."""
    value = canonical(value)
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return value[:SHOWN_CHARS] + "…"
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str)
        return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"
    return value


@dataclass(frozen=True)
class Conflict:
    """A field both sides changed since the last sync."""

    field: str
    source_value: Any
    target_value: Any
    winner: str  # the system whose value stands
    reason: str  # why: "creatio masters it", "both master it; intacct's change is the later"


@dataclass
class FieldPlan:
    changes: dict[str, Any] = field(default_factory=dict)  # field -> new value to write
    old: dict[str, Any] = field(default_factory=dict)  # field -> the target's current value
    blocked: list[str] = field(default_factory=list)  # differ, but the target masters them
    conflicts: list[Conflict] = field(default_factory=list)

    def shown_changes(self) -> dict[str, list[Any]]:
        return {k: [shown(self.old.get(k)), shown(v)] for k, v in self.changes.items()}


def plan_fields(
    current: Mapping[str, Any],
    mapped: Mapping[str, Any],
    writable: set[str],
    create_only: set[str],
    base: Mapping[str, str] | None,
    *,
    source_system: str,
    target_system: str,
    shared: frozenset[str] = frozenset(),
    source_newer: bool = True,
) -> FieldPlan:
    """Compare one record's mapped values with the target's current ones.

    A field the source masters is written when it differs; a field the target masters is
    left (blocked). With a base from the last sync, a field that differs from the base on
    both sides is also reported as a conflict, naming the side whose value stands: the
    field's master, or for a field both sides master (`shared`), the side whose record
    changed later (`source_newer` compares the two records' modification times).
    """
    out = FieldPlan()
    for name, value in mapped.items():
        if name == LINES_FIELD or name in create_only:
            continue
        now = current.get(name)
        if same(now, value):
            continue
        both_moved = (
            base is not None
            and name in base
            and field_hash(value) != base[name]
            and field_hash(now) != base[name]
        )
        if (
            name in shared
            and base is not None
            and name in base
            and field_hash(value) == base[name]
            and field_hash(now) != base[name]
        ):
            continue  # changed only in the target since the last sync: the latest change stays
        if both_moved and name in writable and name in shared and not source_newer:
            reason = f"both master it and {target_system}'s change is the later"
            out.conflicts.append(Conflict(name, shown(value), shown(now), target_system, reason))
            continue  # last change wins: the target's newer value stays
        if name in writable:
            out.changes[name] = value
            out.old[name] = now
        else:
            out.blocked.append(name)
        if both_moved:
            if name not in writable:
                winner, reason = target_system, f"{target_system} masters it"
            elif name in shared:
                winner, reason = (
                    source_system,
                    f"both master it and {source_system}'s change is the later",
                )
            else:
                winner, reason = source_system, f"{source_system} masters it"
            out.conflicts.append(Conflict(name, shown(value), shown(now), winner, reason))
    return out


def conflict_note(conflicts: list[Conflict], source_system: str, target_system: str) -> str:
    parts = [
        f"{c.field} changed on both sides since the last sync ({source_system}: "
        f"{json.dumps(c.source_value, default=str)}, {target_system}: "
        f"{json.dumps(c.target_value, default=str)}); {c.reason}, so {c.winner}'s value stands"
        for c in conflicts
    ]
    return "conflict: " + "; ".join(parts)
