"""What can happen that an operator hears about, and which of the seven modes send it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from shared.flows.models import RunErrorEntry
from shared.notifications.config import NotifyMode


class EventKind(StrEnum):
    CONNECTION_FAILED = "connection_failed"
    CONNECTION_RECOVERED = "connection_recovered"
    RECORD_ERRORS = "record_errors"
    FLOW_STOPPED = "flow_stopped"
    RUN_FAILED = "run_failed"
    FLOW_RECOVERED = "flow_recovered"
    BULK_LOAD_FINISHED = "bulk_load_finished"
    DAILY_REPORT = "daily_report"


class Event(BaseModel):
    """One alert. `key` names its claim row: the same key is sent once, by one host."""

    kind: EventKind
    key: str
    at: datetime
    what: str  # what happened, for the subject: "Creatio connection failing"
    solution: str | None = None
    flow_id: str | None = None
    run_id: str | None = None
    system: str | None = None
    # Body: facts first, then what to do and where the runbook explains it.
    facts: list[tuple[str, str]] = Field(default_factory=list)
    details: str = ""  # free text (the daily report's tables)
    errors: list[RunErrorEntry] = Field(default_factory=list)
    errors_total: int = 0  # all failed records of the run (errors is capped)
    todo: str = ""
    runbook: str = ""  # section of docs/operations.md
    # A run failure caused by a dead connection counts as a connection failure for the modes.
    connection_cause: bool = False


def wanted(mode: NotifyMode, event: Event) -> bool:
    """The mode table of docs/operations.md §5."""
    if mode is NotifyMode.NONE:
        return False
    match event.kind:
        case EventKind.CONNECTION_FAILED | EventKind.CONNECTION_RECOVERED:
            return mode.connection_alerts
        case EventKind.RECORD_ERRORS:
            return mode is NotifyMode.EVERY_ERROR
        case EventKind.RUN_FAILED | EventKind.FLOW_RECOVERED:
            return mode is NotifyMode.EVERY_ERROR or (
                event.connection_cause and mode.connection_alerts
            )
        case EventKind.FLOW_STOPPED | EventKind.BULK_LOAD_FINISHED:
            return True
        case EventKind.DAILY_REPORT:
            return mode.daily_report is not None
    return False
