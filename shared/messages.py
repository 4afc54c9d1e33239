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


# Records per record-upserts message unless the flow's settings say otherwise (issue 15).
CHUNK_SIZE = 100


class ChunkRecord(BaseModel):
    """One record of a chunk, with its own retry and wait counters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_id: str
    modified: AwareDatetime
    values: dict[str, Any] | None = None  # None: too large for a message, read again
    waits: int = 0
    retries: int = 0


class RecordChunk(BaseModel):
    """A page's records (or part of one) for the record-upserts worker: matched, written and
    settled together, each record with its own outcome (shared/engine/record_worker.py).
    `single` marks a chunk split off a chunk that kept failing: its poison is the record's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = 2
    flow_id: str
    run_id: str
    dry_run: bool = False
    records: list[ChunkRecord]
    single: bool = False
    # Where the chunk's outcome rows are (shared/storage/outcome_store.py, row_key): read
    # together with one range query. None: each row under its record id alone.
    bucket: str | None = None

    # message_of and _item below copy the same fields in opposite directions on purpose: the two
    # models are the queue's wire shapes, kept apart so each validates on its own.
    def message_of(self, item: ChunkRecord) -> RecordMessage:
        return RecordMessage(
            flow_id=self.flow_id,
            run_id=self.run_id,
            record_id=item.record_id,
            modified=item.modified,
            values=item.values,
            dry_run=self.dry_run,
            waits=item.waits,
            retries=item.retries,
        )

    @classmethod
    def of(cls, message: RecordMessage) -> RecordChunk:
        return cls(
            flow_id=message.flow_id,
            run_id=message.run_id,
            dry_run=message.dry_run,
            records=[_item(message)],
            single=True,
        )


def _item(message: RecordMessage) -> ChunkRecord:
    return ChunkRecord(
        record_id=message.record_id,
        modified=message.modified,
        values=message.values,
        waits=message.waits,
        retries=message.retries,
    )


def chunk_record(message: RecordMessage) -> ChunkRecord:
    """The record as a chunk carries it; values too large for a message travel by id."""
    item = _item(message)
    if len(item.model_dump_json()) > MAX_MESSAGE_TEXT:
        item = item.model_copy(update={"values": None})
    return item


def chunk_texts(
    flow_id: str,
    run_id: str,
    items: list[ChunkRecord],
    *,
    dry_run: bool = False,
    size: int = CHUNK_SIZE,
    single: bool = False,
    bucket: str | None = None,
) -> list[str]:
    """Message texts for `items`, at most `size` records each and each under the queue's
    limit after base64 (a chunk too large is halved until it fits)."""
    texts: list[str] = []
    pending = [items[i : i + max(1, size)] for i in range(0, len(items), max(1, size))]
    while pending:
        part = pending.pop(0)
        chunk = RecordChunk(
            flow_id=flow_id,
            run_id=run_id,
            dry_run=dry_run,
            records=part,
            single=single or len(part) == 1,
            bucket=bucket,
        )
        text = chunk.model_dump_json()
        if len(text) > MAX_MESSAGE_TEXT and len(part) > 1:
            half = len(part) // 2
            pending[:0] = [part[:half], part[half:]]
            continue
        texts.append(text)
    return texts


def parse_record_upserts(body: str | bytes) -> RecordChunk:
    """A record-upserts message: a chunk, or a single record as earlier versions sent."""
    try:
        return RecordChunk.model_validate_json(body)
    except ValueError:
        return RecordChunk.of(RecordMessage.model_validate_json(body))
