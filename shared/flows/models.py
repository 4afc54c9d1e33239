"""The persisted state of flows and runs (one Table row each) — plain pydantic models."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.errors import ErrorCategory
from shared.flows.definitions import ErrorPolicy

# Run row keys sort newest first inside a flow's partition: inverted epoch milliseconds.
_MAX_MS = 9_999_999_999_999


class FlowState(StrEnum):
    STOPPED = "STOPPED"  # white
    STARTED = "STARTED"  # blue: waiting for its next interval
    RUNNING = "RUNNING"  # magenta: a run is in progress
    COMPLETING = "COMPLETING"  # yellow: stop requested, finishing the current run


class FlowRecord(BaseModel):
    """One flow's operational state. `etag` is the Table row's version for optimistic writes."""

    model_config = ConfigDict(validate_assignment=True)

    flow_id: str
    state: FlowState = FlowState.STOPPED
    interval_ms: int
    shift_ms: int
    query_starts: AwareDatetime
    counter: int = 0
    next_run_at: AwareDatetime | None = None
    run_id: str | None = None  # the run in progress while RUNNING or COMPLETING
    lease_until: AwareDatetime | None = None
    resume_state: FlowState | None = None  # where the run in progress returns to
    last_run_id: str | None = None
    error_policy: ErrorPolicy = ErrorPolicy.NEVER_STOP
    volume_limit: int
    state_changed_at: AwareDatetime
    etag: str | None = Field(default=None, exclude=True)

    @property
    def solution(self) -> str:
        return self.flow_id.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.flow_id.split(".", 1)[1]


class RunKind(StrEnum):
    SCHEDULED = "scheduled"  # claimed by the scheduler
    MANUAL = "manual"  # a scheduled flow run once through the API
    BINDING = "binding"
    BULK = "bulk"
    SINGLE = "single"


# Shaped like FlowKind (shared/flows/definitions.py): an enum with one derived property.
class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self is not RunStatus.RUNNING


class RunCounts(BaseModel):
    """read = created + updated + unchanged + skipped + failed + pending, for every run."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    pending: int = 0

    @model_validator(mode="after")
    def _accounts_for_every_record(self) -> RunCounts:
        # The run log's promise: every record read is accounted for. A run that breaks it is
        # a bug, and must not be stored or shown as if it were fine.
        if not self.balanced:
            raise ValueError(
                f"counts do not add up: read {self.read} != created {self.created} + updated "
                f"{self.updated} + unchanged {self.unchanged} + skipped {self.skipped} + failed "
                f"{self.failed} + pending {self.pending}"
            )
        return self

    @property
    def balanced(self) -> bool:
        return self.read == (
            self.created + self.updated + self.unchanged + self.skipped + self.failed + self.pending
        )


class RunErrorEntry(BaseModel):
    record: str | None = None
    category: ErrorCategory
    field: str | None = None
    message: str
    at: AwareDatetime


class RunWindow(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None


class RunParams(BaseModel):
    """What the API asked of a run (bulk range, single records, dry run)."""

    batch_size: int | None = None
    record_ids: list[str] | None = None
    dry_run: bool = False
    retry_of: str | None = None  # the run whose failed records this run re-processes


class RunRecord(BaseModel):
    model_config = ConfigDict(validate_assignment=True)

    id: str
    flow_id: str
    number: int  # the flow's counter value this run will bring (run #n of the flow)
    kind: RunKind
    status: RunStatus = RunStatus.RUNNING
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    window: RunWindow = Field(default_factory=RunWindow)
    params: RunParams = Field(default_factory=RunParams)
    counts: RunCounts = Field(default_factory=RunCounts)
    message: str = ""
    errors: list[RunErrorEntry] = Field(default_factory=list)
    attempts: int = 0  # flow-runs deliveries that reached the engine
    # Set by POST /api/runs/{id}/cancel; the engine stops at its next step (shared/engine).
    cancel_requested_at: AwareDatetime | None = None
    last_error: str | None = None
    # The category of the last error, kept apart from its text (the poison handler reads it).
    last_error_category: ErrorCategory | None = None
    # A bulk run's last durably queued step (a FlowRunMessage as JSON): after its worker dies
    # and its lease expires, the run continues from there (FlowService.recover).
    resume: str | None = None
    resumes: int = 0  # how often it did
    etag: str | None = Field(default=None, exclude=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_run_id(flow_id: str, now: datetime) -> str:
    inverted = _MAX_MS - int(now.timestamp() * 1000)
    return f"{flow_id}.{inverted:013d}-{secrets.token_hex(3)}"


def split_run_id(run_id: str) -> tuple[str, str]:
    """(flow_id, row key) of a run id; ValueError if it is not one of ours."""
    flow_id, sep, key = run_id.rpartition(".")
    if not sep or "." not in flow_id or len(key) != 20 or not key[:13].isdigit():
        raise ValueError(f"not a run id: {run_id!r}")
    return flow_id, key
