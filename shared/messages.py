"""Queue messages: pydantic models, JSON text, base64 on the wire (the SDK policy does that)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

FLOW_RUNS_QUEUE = "flow-runs"
FLOW_RUNS_POISON_QUEUE = "flow-runs-poison"
RECORD_UPSERTS_QUEUE = "record-upserts"
RECORD_UPSERTS_POISON_QUEUE = "record-upserts-poison"

# A queue message holds 64 KiB; base64 takes a third of it. Larger records travel by id.
MAX_MESSAGE_TEXT = 46_000


class RunStep(StrEnum):
    START = "start"  # plan the run: window, volume check, open the read
    PAGE = "page"  # read one page at `cursor`, queue its records, queue the next step
    FINISH = "finish"  # wait for the run's records, then end the run


class FlowRunMessage(BaseModel):
    """Asks the flow-runs worker to take one step of one run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = 1
    flow_id: str
    run_id: str
    step: RunStep = RunStep.START
    cursor: dict[str, Any] | None = None
    until: AwareDatetime | None = None  # the window's end: the next "query starts"
    page: int = 0
    polls: int = 0  # FINISH steps taken so far (their delay grows)
    # Cursors to read after this one: records no window reaches (sync_engine.py, _outside).
    then: list[dict[str, Any]] = []


class RecordMessage(BaseModel):
    """One source record for the record-upserts worker. `values` is None when the record was
    too large for a message; the worker reads it again."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = 1
    flow_id: str
    run_id: str
    record_id: str
    modified: AwareDatetime
    values: dict[str, Any] | None = None
    dry_run: bool = False  # work everything out, write nothing
    waits: int = 0  # times it was put back to wait for a parent record
    retries: int = 0  # times it was put back after a transient failure (429, connection)


def record_message_text(message: RecordMessage) -> str:
    text = message.model_dump_json()
    if len(text) > MAX_MESSAGE_TEXT:
        text = message.model_copy(update={"values": None}).model_dump_json()
    return text
