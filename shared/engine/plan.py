"""What the engine needs to know about one flow, worked out once from the catalog: its
mapping (utility flows borrow the scheduled flow's), which side it reads, the binding pair it
shares with the opposite direction, and that direction's mapping (for echo suppression)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import DefinitionError
from shared.flows.catalog import Catalog, CatalogEntry
from shared.flows.definitions import FlowDefinition, FlowKind
from shared.mapping.model import Master, ObjectMapping
from shared.storage.binding_store import Side, other


@dataclass(frozen=True)
class FlowPlan:
    entry: CatalogEntry
    mapping: ObjectMapping
    source_side: Side
    reverse: ObjectMapping | None

    @property
    def flow(self) -> FlowDefinition:
        return self.entry.flow

    @property
    def target_side(self) -> Side:
        return other(self.source_side)

    @property
    def master(self) -> Master:
        return Master(self.source_side)

    @property
    def pair(self) -> str:
        return pair_of(self.entry.solution.id, self.mapping.binding)

    @property
    def source_system(self) -> str:
        return self.flow.source.system.value

    @property
    def target_system(self) -> str:
        return self.flow.target.system.value


def pair_of(solution: str, binding: str) -> str:
    return f"{solution}.{binding}"


def plan_for(catalog: Catalog, flow_id: str) -> FlowPlan:
    entry = catalog.get(flow_id)
    mapping = entry.solution.mapping_of(entry.flow)
    if mapping is None:
        raise DefinitionError(
            f"flow '{flow_id}' has no field mapping in its solution file; it cannot sync yet"
        )
    side: Side = "crm" if entry.flow.source.system == entry.solution.crm else "erp"
    reverse = None
    for flow in entry.solution.flows:
        if (
            flow.kind is FlowKind.SCHEDULED
            and flow.mapping is not None
            and flow.mapping.binding == mapping.binding
            and flow.source == entry.flow.target
            and flow.target == entry.flow.source
        ):
            reverse = flow.mapping
    return FlowPlan(entry=entry, mapping=mapping, source_side=side, reverse=reverse)
