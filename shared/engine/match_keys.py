"""A record's match keys: for each key set of its mapping (`match`), the target values it would
be matched by, and the text that names such a key to an operator and in key claims
(binding_store.py). Key sets with an empty value are left out, as matching leaves them out."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.engine.values import canonical, plain
from shared.mapping.apply import map_fields
from shared.mapping.model import Master, ObjectMapping

Resolve = Callable[[str, str], Awaitable[str | None]]


@dataclass(frozen=True)
class MatchKey:
    fields: tuple[str, ...]
    criteria: dict[str, Any]  # target field -> value, as `find` takes them
    text: str  # e.g. CUSTOMER:CUSTOMERID="ACME"

    def shown(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.criteria.items())


def key_of(object: str, fields: tuple[str, ...], values: dict[str, Any]) -> MatchKey | None:
    criteria = {k: plain({k: values.get(k)})[k] for k in fields}
    if any(v in (None, "") for v in criteria.values()):
        return None
    parts = ",".join(f"{k}={json.dumps(canonical(criteria[k]), sort_keys=True)}" for k in fields)
    return MatchKey(fields, criteria, f"{object}:{parts}")


def keys_of(mapping: ObjectMapping, object: str, values: dict[str, Any]) -> list[MatchKey]:
    """The keys of already mapped target `values`, in the mapping's order."""
    found = (key_of(object, fields, values) for fields in mapping.match)
    return [key for key in found if key is not None]


async def source_keys(
    mapping: ObjectMapping,
    object: str,
    values: dict[str, Any],
    *,
    record_id: str,
    modified: datetime,
    master: Master,
    resolve: Resolve,
) -> list[MatchKey]:
    """The keys of a source record, mapping only the fields the keys are made of (a field
    that does not map leaves its key sets out: the record fails on its own later)."""
    wanted = {name for fields in mapping.match for name in fields}
    if not wanted:
        return []
    specs = [f for f in mapping.fields if f.to in wanted]
    source = {**values, "@id": record_id, "@modified": modified.isoformat()}
    mapped = await map_fields(specs, source, source_side=master, resolve=resolve)
    failed = {issue.field for issue in mapped.issues}
    usable = {k: v for k, v in mapped.values.items() if k not in failed}
    return keys_of(mapping, object, usable)
