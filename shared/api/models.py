"""Request and response bodies of the control API (README.md, "Control API")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

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

# Table storage keeps a Python int as Edm.Int32 (shared/storage/entities.py).
INT32_MAX = 2**31 - 1
# Instants an operator may give: none before 1900 (Table storage and the vendors' own minimums
# lie further back, but no ERP record does), none more than a day ahead of the clock (a
# watermark in the future would make every later run read nothing).
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
AHEAD_ALLOWED = timedelta(days=1)
# A run row keeps its parameters in one 64 KiB Table property.
MAX_RECORD_IDS_CHARS = 30_000


def check_instant(value: datetime | None, info: ValidationInfo) -> datetime | None:
    """A datetime between 1900-01-01 and now + 1 day; `now` comes from the validation
    context (shared/api/control.py parse_body), so tests inject the clock."""
    if value is None:
        return value
    now = (info.context or {}).get("now") or datetime.now(UTC)
    latest = now + AHEAD_ALLOWED
    if not EARLIEST_INSTANT <= value <= latest:
        raise ValueError(
            f"must lie between {EARLIEST_INSTANT.date().isoformat()} and "
            f"{latest.isoformat(timespec='seconds')} (now + 1 day)"
        )
    return value


class UnreadableRow(BaseModel):
    """A stored flow or run row that cannot be read back: reported, never in the way."""

    flow_id: str
    run_id: str | None = None
    table: str
    field: str | None
    message: str


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
    cancel_requested_at: datetime | None = Field(
        default=None, description="When a cancel was asked; the run stops at its next step"
    )
    resumes: int = Field(
        default=0,
        description="Times a bulk run went on from its last queued page after its "
        "worker stopped answering",
    )


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
    unreadable: list[UnreadableRow] = Field(default_factory=list)


class RunList(BaseModel):
    runs: list[Run]
    unreadable: list[UnreadableRow] = Field(default_factory=list)


class RunAccepted(BaseModel):
    run_id: str
    status_url: str


class FlowPatch(BaseModel):
    """Properties an operator may change while the flow is STOPPED."""

    model_config = ConfigDict(extra="forbid")

    interval_ms: int | None = Field(default=None, ge=1_000, le=7 * 86_400_000)
    shift_ms: int | None = Field(default=None, ge=0, le=86_400_000)
    query_starts: AwareDatetime | None = None
    counter: int | None = Field(default=None, ge=0, le=INT32_MAX)
    error_policy: ErrorPolicy | None = None
    volume_limit: int | None = Field(default=None, ge=1, le=10_000_000)

    _instant = field_validator("query_starts")(check_instant)

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
    record_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=256)]] | None = (
        Field(default=None, min_length=1, max_length=1_000)
    )
    dry_run: bool = False

    _instants = field_validator("from_", "to")(check_instant)

    @field_validator("record_ids")
    @classmethod
    def _fits_a_run_row(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and sum(len(v) + 3 for v in value) > MAX_RECORD_IDS_CHARS:
            raise ValueError(f"at most {MAX_RECORD_IDS_CHARS} characters of ids in one run")
        return value

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
    # From the connection monitor (shared/notifications/monitor.py).
    latency_ms: int | None = None
    since: datetime | None = Field(default=None, description="When the current status began")
    budget_remaining: int | None = Field(
        default=None,
        description="Dataverse service protection: requests left in the current window",
    )


class FailedNotificationView(BaseModel):
    at: datetime
    event: str
    channel: str
    error: str


class NotificationsStatus(BaseModel):
    mode: str
    email: Literal["configured", "not_configured", "no_recipients"]
    webhooks: int
    failed: list[FailedNotificationView] = Field(
        default_factory=list, description="Alerts that could not be delivered, newest first"
    )


class FlowsSummary(BaseModel):
    total: int
    by_state: dict[FlowState, int]


class Status(BaseModel):
    time: datetime
    solutions: list[str]
    flows: FlowsSummary
    connections: list[ConnectionStatus]
    storage: Literal["ok"]
    unreadable: list[UnreadableRow] = Field(
        default_factory=list, description="Flow and run rows that cannot be read back"
    )
    egress_ip: str | None = Field(description="Static outbound IP to allow-list in the ERP/CRM")
    sleeping_until: datetime | None = Field(
        default=None, description="Inside a sleep window: when it ends and every flow resumes"
    )
    storage_check: ConnectionStatus | None = None
    notifications: NotificationsStatus | None = None
