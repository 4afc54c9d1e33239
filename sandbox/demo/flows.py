"""Put the demo's flows on a short schedule, straight in Table storage (the host is not up
yet): every scheduled flow that has a field mapping gets a one-minute interval and its
shift scaled down (the dependency order stays). They stay stopped: the demo runs its first
full cycle itself through the API (sandbox/demo/cycle.py), then starts them (`make demo`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.engine.plan import plan_for
from shared.errors import ConflictError, DefinitionError
from shared.flows.catalog import Catalog, CatalogEntry
from shared.flows.definitions import FlowKind
from shared.flows.models import FlowState, utcnow
from shared.runtime import Services

log = logging.getLogger("shuttle")

INTERVAL_MS = 60_000
SHIFT_DIVISOR = 10  # 0 s, 3 s, 6 s … 18 s: parents run in the first scheduler ticks

Action = Literal["ready", "started", "kept", "refused"]


@dataclass(frozen=True)
class Prepared:
    flow_id: str
    # ready (patched, stopped); started now; kept (already active from an earlier run); refused
    action: Action
    interval_ms: int
    shift_ms: int
    note: str = ""


def syncable(catalog: Catalog, entry: CatalogEntry) -> bool:
    """A scheduled flow whose mapping the engine can plan (others cannot sync yet)."""
    if entry.flow.kind is not FlowKind.SCHEDULED:
        return False
    try:
        plan_for(catalog, entry.flow_id)
    except DefinitionError:
        return False
    return True


async def prepare_flows(
    services: Services, now: datetime | None = None, *, start: bool = False
) -> list[Prepared]:
    prepared = []
    for entry in services.catalog:
        if syncable(services.catalog, entry):
            prepared.append(await _prepare(services, entry, now, start))
    return prepared


# creatio-intacct first: it fills Creatio with Intacct's customers and invoices, which
# creatio-dynamics then carries on to Dataverse in the same cycle.
SOLUTION_ORDER = ("creatio-intacct", "creatio-dynamics")


def cycle_order(catalog: Catalog, flow_ids: list[str]) -> list[str]:
    """Solutions in SOLUTION_ORDER (others after); within one, shift order (as the solution
    files lay them out), except that a flow never comes before a parent it depends on."""
    rank: dict[str, int] = {}
    for solution in (*SOLUTION_ORDER, *catalog.solutions):
        rank.setdefault(solution, len(rank))
    left = sorted(
        (catalog.get(f) for f in flow_ids), key=lambda e: (rank[e.solution.id], e.flow.shift_ms)
    )
    chosen = {e.flow_id for e in left}
    order: list[str] = []
    while left:
        ready = next(
            (
                e
                for e in left
                if all(
                    f"{e.solution.id}.{p}" in order or f"{e.solution.id}.{p}" not in chosen
                    for p in e.flow.depends_on
                )
            ),
            left[0],
        )
        left.remove(ready)  # left[0] only on a cycle, which the catalog refuses anyway
        order.append(ready.flow_id)
    return order


async def _prepare(
    services: Services, entry: CatalogEntry, now: datetime | None, start: bool
) -> Prepared:
    flow_id = entry.flow_id
    rec = await services.flows.flows.get(flow_id)
    if rec.state is not FlowState.STOPPED:
        # Left as the operator (or an earlier demo) set it: properties change only when stopped.
        return Prepared(flow_id, "kept", rec.interval_ms, rec.shift_ms, rec.state.value)
    changes = {"interval_ms": INTERVAL_MS, "shift_ms": entry.flow.shift_ms // SHIFT_DIVISOR}
    try:
        if any(getattr(rec, name) != value for name, value in changes.items()):
            rec = await services.flows.patch(flow_id, changes)
        if start:
            rec = await services.flows.start(flow_id, now or utcnow())
    except ConflictError as exc:  # e.g. a utility flow of the solution is active
        log.warning("demo: not starting %s: %s", flow_id, exc)
        return Prepared(flow_id, "refused", rec.interval_ms, rec.shift_ms, str(exc))
    return Prepared(flow_id, "started" if start else "ready", rec.interval_ms, rec.shift_ms)


async def forget_bindings(services: Services, solution: str) -> int:
    """Delete the solution's bindings. Only for a solution whose two systems are fresh,
    empty emulators: every binding then names records that no longer exist, and would fail
    each update with `not_found` instead of creating the record again."""
    table = services.records.bindings.table
    # Partitions are "{solution}.{binding}"; '/' is the character after '.'.
    rows = table.query_entities(
        "PartitionKey gt @low and PartitionKey lt @high",
        parameters={"low": f"{solution}.", "high": f"{solution}/"},
        select=["PartitionKey", "RowKey"],
    )
    count = 0
    async for row in rows:
        await table.delete_entity(row["PartitionKey"], row["RowKey"])
        count += 1
    return count


def cycle_waits(catalog: Catalog, order: list[str]) -> dict[str, list[str]]:
    """{flow: earlier flows of OTHER solutions it must wait for}: those that create records
    of the object it reads (creatio-dynamics carries on to Dataverse the Creatio accounts and
    invoices creatio-intacct just created). Flows that only update (`updates:`) are not
    waited for. Within a solution the order itself does it."""
    waits: dict[str, list[str]] = {}
    for n, flow_id in enumerate(order):
        entry = catalog.get(flow_id)
        waits[flow_id] = [
            earlier.flow_id
            for earlier in (catalog.get(f) for f in order[:n])
            if earlier.solution.id != entry.solution.id
            and earlier.flow.target == entry.flow.source
            and (earlier.flow.mapping is None or earlier.flow.mapping.updates is None)
        ]
    return waits
