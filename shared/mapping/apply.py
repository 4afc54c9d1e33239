"""Applies an ObjectMapping to one source record: target values, which of them this direction
may write (mastership), and every problem found before any call is made."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from shared.connectors.protocol import LINES_FIELD, Reference
from shared.errors import ErrorCategory
from shared.mapping import model as m
from shared.mapping.transforms import TransformError, apply, is_empty

# (binding, source id) -> the bound target id, or None when the parent is not synced yet.
Resolver = Callable[[str, str], Awaitable[str | None]]


@dataclass(frozen=True)
class FieldIssue:
    field: str
    category: ErrorCategory
    message: str


@dataclass
class Mapped:
    values: dict[str, Any] = field(default_factory=dict)
    writable: set[str] = field(default_factory=set)  # fields this direction masters
    create_only: set[str] = field(default_factory=set)
    issues: list[FieldIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


# (how, value) -> what `find` names: the row's id or its `take` field; None: no such row.
Finder = Callable[[m.Find, Any], Awaitable[Any]]

# (lookup object, names) -> the ids of those rows on the source system.
NameResolver = Callable[[str, tuple[Any, ...]], Awaitable[tuple[Any, ...]]]


async def passes(
    filters: Iterable[m.Condition], values: dict[str, Any], names: NameResolver | None = None
) -> bool:
    for condition in filters:
        options = None
        if condition.lookup is not None:
            if names is None:
                raise ValueError(f"filter on {condition.field} needs the source's lookup names")
            options = await names(condition.lookup, condition.options)
            if not options:
                return False  # no such row: nothing can match
        if not condition.accepts(values, options):
            return False
    return True


_LINE_FIELD = re.compile(r"^lines\[(\d+)\]\.(.+)$")


def source_value(values: dict[str, Any], name: str) -> Any:
    """A source field; `lines[0].INVOICEKEY` is a field of the record's first line (the
    invoice a payment pays)."""
    line = _LINE_FIELD.match(name)
    if line is None:
        return values.get(name)
    lines = values.get(LINES_FIELD)
    index = int(line.group(1))
    if not isinstance(lines, list) or index >= len(lines) or not isinstance(lines[index], dict):
        return None
    return lines[index].get(line.group(2))


async def map_fields(
    fields: Iterable[m.FieldMapping],
    values: dict[str, Any],
    *,
    source_side: m.Master,
    resolve: Resolver,
    find: Finder | None = None,
) -> Mapped:
    out = Mapped()
    for spec in fields:
        sources = [source_value(values, name) for name in spec.sources]
        value: Any = spec.value if not spec.sources else (sources[0] if sources else None)
        passed = spec.when is None or spec.when.accepts(values)
        try:
            for op in spec.transforms if passed else ():
                value = apply(op, value, sources)
        except TransformError as exc:
            source = ", ".join(spec.sources) or "constant"
            out.issues.append(
                FieldIssue(spec.to, ErrorCategory.VALIDATION, f"{source} → {spec.to}: {exc}")
            )
            continue
        if not passed and spec.otherwise is None:
            continue  # nothing to say for this record: the target keeps its value
        if not passed:
            value = spec.otherwise
        if spec.lookup is not None and not is_empty(value):
            bound = await resolve(spec.lookup.binding, str(value))
            if bound is None and spec.lookup.optional:
                value = None
            elif bound is None:
                via = f" (flow '{spec.lookup.flow}')" if spec.lookup.flow else ""
                out.issues.append(
                    FieldIssue(
                        spec.to,
                        ErrorCategory.DEPENDENCY,
                        f"{spec.sources[0]} {value} is not synced yet{via}; "
                        "the record waits for it",
                    )
                )
                continue
            else:
                value = Reference(object=spec.lookup.object, id=bound)
        if spec.find and passed and not is_empty(value):
            found = await _find(spec, value, find)
            if isinstance(found, FieldIssue):
                out.issues.append(found)
                continue
            value = found
        problem = _check(spec, value)
        if problem:
            out.issues.append(FieldIssue(spec.to, ErrorCategory.VALIDATION, problem))
            continue
        out.values[spec.to] = value
        if spec.master in (m.Master.BOTH, source_side):
            out.writable.add(spec.to)
        if spec.create_only:
            out.create_only.add(spec.to)
    return out


async def _find(spec: m.FieldMapping, value: Any, find: Finder | None) -> Any:
    """Each look-up of `spec.find` in turn; an empty result ends the chain."""
    found = value
    for how in spec.find:
        if find is None:
            return FieldIssue(
                spec.to, ErrorCategory.INTERNAL, f"{spec.to}: cannot look up {how.object}"
            )
        key = found.id if isinstance(found, Reference) else found
        found = await find(how, key)
        if is_empty(found) and how.optional:
            return None
        if is_empty(found):
            return FieldIssue(
                spec.to,
                ErrorCategory.DEPENDENCY,
                f"{spec.to}: no {how.object} with {how.by} {key!r} on the {how.side} yet; "
                "the record waits for it (add the row, or fix the value at the source)",
            )
    return found


def _check(spec: m.FieldMapping, value: Any) -> str | None:
    if spec.required and is_empty(value):
        source = ", ".join(spec.sources) or "constant"
        return f"{spec.to} is required but {source} is empty"
    if spec.max_length is not None and isinstance(value, str) and len(value) > spec.max_length:
        return (
            f"{spec.to} is {len(value)} characters long; the target allows {spec.max_length} "
            "(shorten it at the source or add a truncate transform)"
        )
    return None
