"""Pydantic models of a solution definition file (shared/solutions/*.yaml)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.mapping.model import ObjectMapping

DEFAULT_INTERVAL_MS = 600_000
SLUG = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"


# Enums here and in flows/models.py (RunStatus) share a shape (members and one property), not logic.
class FlowKind(StrEnum):
    SCHEDULED = "scheduled"
    BINDING = "binding"
    BULK = "bulk"
    SINGLE = "single"

    @property
    def is_utility(self) -> bool:
        return self is not FlowKind.SCHEDULED


class System(StrEnum):
    CREATIO = "creatio"
    INTACCT = "intacct"
    DATAVERSE = "dataverse"


class ErrorPolicy(StrEnum):
    """What a flow does after a failure (the InterWeave per-flow setting)."""

    NEVER_STOP = "never_stop"
    STOP_ON_CONNECTION_FAILURE = "stop_on_connection_failure"
    STOP_ON_ERROR = "stop_on_error"


class Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system: System
    object: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")


class FlowDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SLUG, max_length=60)
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    kind: FlowKind = FlowKind.SCHEDULED
    source: Endpoint
    target: Endpoint
    interval_ms: int = Field(default=DEFAULT_INTERVAL_MS, ge=1_000, le=7 * 86_400_000)
    shift_ms: int = Field(default=0, ge=0, le=86_400_000)
    depends_on: tuple[str, ...] = ()
    volume_limit: int = Field(default=5_000, ge=1, le=10_000_000)
    error_policy: ErrorPolicy = ErrorPolicy.NEVER_STOP
    bulk_flow: str | None = Field(
        default=None, description="The bulk load flow to use when a run exceeds volume_limit."
    )
    optional: bool = Field(default=False, description="Shipped, but only used when wanted.")
    mapping: ObjectMapping | None = Field(
        default=None, description="Field mapping; a flow without one cannot run yet."
    )

    @model_validator(mode="after")
    def _systems_differ(self) -> FlowDefinition:
        if self.source.system == self.target.system:
            raise ValueError("source and target must be different systems")
        return self


class SolutionDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SLUG, max_length=40)
    name: str = Field(min_length=1)
    description: str = ""
    crm: System
    erp: System
    flows: tuple[FlowDefinition, ...] = Field(min_length=1)

    def mapping_of(self, flow: FlowDefinition) -> ObjectMapping | None:
        """A flow's mapping; utility flows (binding, bulk, single) use their scheduled twin's."""
        if flow.mapping is not None:
            return flow.mapping
        for twin in self.flows:
            if (
                twin.kind is FlowKind.SCHEDULED
                and twin.mapping is not None
                and twin.source == flow.source
                and twin.target == flow.target
            ):
                return twin.mapping
        return None

    @model_validator(mode="after")
    def _references_resolve(self) -> SolutionDefinition:
        ids = [f.id for f in self.flows]
        seen: set[str] = set()
        for flow in self.flows:
            if flow.id in seen:
                raise ValueError(f"flow '{flow.id}' is defined twice")
            seen.add(flow.id)
            for system in (flow.source.system, flow.target.system):
                if system not in (self.crm, self.erp):
                    raise ValueError(f"flow '{flow.id}' uses {system}, not part of this solution")
            for dep in flow.depends_on:
                if dep not in ids:
                    raise ValueError(f"flow '{flow.id}': depends_on names unknown flow '{dep}'")
            if flow.bulk_flow is not None:
                target = next((f for f in self.flows if f.id == flow.bulk_flow), None)
                if target is None or target.kind is not FlowKind.BULK:
                    raise ValueError(
                        f"flow '{flow.id}': bulk_flow '{flow.bulk_flow}' is not a bulk flow here"
                    )
                # The bulk flow borrows this flow's mapping (shared/engine/plan.py), so it
                # must move the same object the same way.
                if (target.source, target.target) != (flow.source, flow.target):
                    raise ValueError(
                        f"flow '{flow.id}': bulk_flow '{flow.bulk_flow}' moves "
                        f"{target.source.object} → {target.target.object}, not "
                        f"{flow.source.object} → {flow.target.object}"
                    )
        _reject_cycles({f.id: f.depends_on for f in self.flows})
        return self

    def flow(self, flow_id: str) -> FlowDefinition | None:
        return next((f for f in self.flows if f.id == flow_id), None)


def _reject_cycles(graph: dict[str, tuple[str, ...]]) -> None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise ValueError("depends_on has a cycle: " + " -> ".join([*path, node]))
        state[node] = 1
        for dep in graph.get(node, ()):
            visit(dep, [*path, node])
        state[node] = 2

    for node in graph:
        visit(node, [])
