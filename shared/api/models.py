"""Request and response bodies of the control API (DESIGN §3)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.flows.definitions import Endpoint, ErrorPolicy, FlowKind
from shared.flows.models import (
    FlowState,
    RunCounts,
    RunErrorEntry,
    RunKind,
    RunParams,
    RunStatus,
    RunWindow,
)


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Run(BaseModel):
    id: str
    flow_id: str
    number: int = Field(description="The run's place in its flow's counter")
    kind: RunKind
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    window: RunWindow
    params: RunParams
    counts: RunCounts
    message: str
    errors: list[RunErrorEntry]
    attempts: int


class Flow(BaseModel):
    id: str = Field(description='"{solution}.{flow}"')
    solution: str
    name: str
    description: str
    kind: FlowKind
    source: Endpoint
    target: Endpoint
    state: FlowState
    interval_ms: int
    shift_ms: int
    query_starts: datetime
    counter: int
    next_run_at: datetime | None
    last_run: Run | None
    current_run_id: str | None
    state_changed_at: datetime
    depends_on: list[str]
    volume_limit: int
    error_policy: ErrorPolicy
    bulk_flow: str | None
    sleeping_until: datetime | None = Field(
        default=None, description="Inside a sleep window: when it ends and the flow resumes"
    )


class FlowList(BaseModel):
    flows: list[Flow]


class RunList(BaseModel):
    runs: list[Run]


class RunAccepted(BaseModel):
    run_id: str
    status_url: str


class FlowPatch(BaseModel):
    """Properties an operator may change while the flow is STOPPED."""

    model_config = ConfigDict(extra="forbid")

    interval_ms: int | None = Field(default=None, ge=1_000, le=7 * 86_400_000)
    shift_ms: int | None = Field(default=None, ge=0, le=86_400_000)
    query_starts: AwareDatetime | None = None
    counter: int | None = Field(default=None, ge=0)
    error_policy: ErrorPolicy | None = None
    volume_limit: int | None = Field(default=None, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _something(self) -> FlowPatch:
        if not self.model_fields_set:
            raise ValueError("name at least one property: " + ", ".join(type(self).model_fields))
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class RunBody(BaseModel):
    """Optional body of POST /flows/{id}/run."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    batch_size: int | None = Field(default=None, ge=1, le=10_000)
    record_ids: list[str] | None = Field(default=None, min_length=1, max_length=1_000)
    dry_run: bool = False

    @model_validator(mode="after")
    def _window_ordered(self) -> RunBody:
        if self.from_ is not None and self.to is not None and self.from_ >= self.to:
            raise ValueError("'from' must be before 'to'")
        return self


class ConnectionStatus(BaseModel):
    system: str
    configured: bool
    status: Literal["unchecked", "ok", "failing"] = "unchecked"
    checked_at: datetime | None = None
    message: str | None = None


class FlowsSummary(BaseModel):
    total: int
    by_state: dict[FlowState, int]


class Status(BaseModel):
    time: datetime
    solutions: list[str]
    flows: FlowsSummary
    connections: list[ConnectionStatus]
    storage: Literal["ok"]
    egress_ip: str | None = Field(description="Static outbound IP to allow-list in the ERP/CRM")
    sleeping_until: datetime | None = Field(
        default=None, description="Inside a sleep window: when it ends and every flow resumes"
    )
