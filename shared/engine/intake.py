"""From the records a source gave to record messages, each record on its own: a record that
cannot travel (a value JSON cannot carry, such as half of a UTF-16 surrogate pair; a number
that is not finite) or that the source could not give whole is refused alone, as
`validation` naming its field, and every other record of its page goes on. Refused records
get a failed outcome row at once, so the run counts them and its watermark still moves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.connectors.protocol import RejectedRecord, SyncRecord
from shared.errors import ErrorCategory
from shared.messages import ChunkRecord, RecordMessage, chunk_record
from shared.storage.outcome_store import Refusal


@dataclass(frozen=True)
class Queued:
    record_id: str
    modified: datetime
    item: ChunkRecord  # the record as its record-upserts chunk carries it


def printable(text: str) -> str:
    """`text` with whatever UTF-8 cannot hold shown as escapes (`\\ud800`): safe for keys,
    logs and JSON, and still recognisable to the operator."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _flaw(value: Any) -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(value[exc.start])
            return (
                f"holds half of a UTF-16 surrogate pair (U+{code:04X}) at character "
                f"{exc.start + 1}: the source cut a character such as an emoji in two; fix "
                "the text at the source, then retry the run"
            )
    elif isinstance(value, float) and not math.isfinite(value):
        return f"is {value!r}, not a number any target can store; fix it at the source"
    return None


def unencodable(values: Mapping[str, Any], prefix: str = "") -> tuple[str, str] | None:
    """(field, problem) of the first value (or key) a record message cannot carry."""
    for key, value in values.items():
        name = f"{prefix}{printable(str(key))}"
        problem = _flaw(key) if isinstance(key, str) else None
        if problem is not None:
            return name, f"the field name {problem}"
        if isinstance(value, Mapping):
            found = unencodable(value, f"{name}.")
        elif isinstance(value, list | tuple):
            found = unencodable({f"[{n}]": v for n, v in enumerate(value, 1)}, name)
        else:
            problem = _flaw(value)
            found = (name, problem) if problem is not None else None
        if found is not None:
            return found
    return None


def refused(
    record_id: str,
    modified: datetime | None,
    field: str | None,
    text: str,
    category: ErrorCategory = ErrorCategory.VALIDATION,
) -> Refusal:
    return Refusal(printable(record_id), modified, category, field, text)


def from_rejected(rejected: RejectedRecord, source: str, where: str) -> Refusal:
    """A record the connector could not read; one without any key is named by its place."""
    ident = rejected.id or f"(no id: {where})"
    return refused(ident, rejected.modified, rejected.field, f"{source}: {rejected.message}")


def message_for(
    record: SyncRecord, *, flow_id: str, run_id: str, dry_run: bool, source: str
) -> Queued | Refusal:
    """The record's message text, or why it cannot be one."""
    flaw = _flaw(record.id)
    if flaw is not None:
        return refused(record.id, record.modified, None, f"{source}: the record's id {flaw}")
    found = unencodable(record.values)
    if found is not None:
        field, problem = found
        return refused(record.id, record.modified, field, f"{field} {problem}")
    message = RecordMessage(
        flow_id=flow_id,
        run_id=run_id,
        record_id=record.id,
        modified=record.modified,
        values=record.values,
        dry_run=dry_run,
    )
    try:
        item = chunk_record(message)
    except (ValueError, TypeError) as exc:  # pydantic's serialisation errors are ValueErrors
        return refused(
            record.id,
            record.modified,
            None,
            f"{source}: the record cannot be carried in a queue message ({type(exc).__name__}: "
            f"{printable(str(exc))[:300]})",
        )
    return Queued(record.id, record.modified, item)
