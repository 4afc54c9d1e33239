"""What the Creatio client hands back: change cursors and pages, write and batch results."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.connectors.errors import ConnectorError

Record = dict[str, Any]


class CreatioChangeCursor(BaseModel):
    """Where an incremental read stands. Plain data (JSON via `model_dump_json`), so the
    flow-runs worker can put it in its continuation message and read the next page in
    another invocation.

    The read covers ModifiedOn in [`since`, `until`] (both inclusive, both OData
    DateTimeOffset literals: Creatio's own strings, 7 fractional digits), ordered by
    (ModifiedOn, Id), and continues after (`after_modified`, `after_id`) — keyset paging, so
    hundreds of records sharing one ModifiedOn and records changing mid-read neither repeat
    nor get skipped. `until` is fixed when the read opens: a record changed later falls after
    it and belongs to the next read, which starts at `until` (the engine's watermark).
    Timestamps are never rounded to Python's 6 digits.
    """

    model_config = ConfigDict(frozen=True)

    object: str
    since: str
    until: str | None  # None: nothing to read
    select: tuple[str, ...] | None = None
    where: str | None = None
    page_size: int = 500
    after_modified: str | None = None
    after_id: uuid.UUID | None = None
    next_link: str | None = None  # a server continuation ($skiptoken) to follow verbatim
    chain_rows: int = 0  # rows received since the last keyset query
    pages: int = 0


class CreatioChangePage(BaseModel):
    model_config = ConfigDict(frozen=True)

    records: list[Record]
    next: CreatioChangeCursor | None  # None: the read is complete


class WriteResult(BaseModel):
    """`created` is False when a record with this Id already existed: an earlier attempt
    whose answer was lost, or an earlier delivery of the same message."""

    id: uuid.UUID
    created: bool
    record: Record | None = None


Method = Literal["POST", "PATCH", "DELETE", "GET"]


@dataclass(frozen=True)
class BatchOperation:
    method: Method
    object: str
    id: uuid.UUID
    values: Mapping[str, Any] | None = None

    @classmethod
    def create(
        cls, object: str, values: Mapping[str, Any], id: uuid.UUID | None = None
    ) -> BatchOperation:
        return cls("POST", object, id or uuid.uuid4(), values)

    @classmethod
    def update(cls, object: str, id: uuid.UUID, values: Mapping[str, Any]) -> BatchOperation:
        return cls("PATCH", object, id, values)

    @classmethod
    def delete(cls, object: str, id: uuid.UUID) -> BatchOperation:
        return cls("DELETE", object, id)


@dataclass
class BatchOutcome:
    """The result of one operation of a batch: `error` is None when it succeeded."""

    operation: BatchOperation
    status: int | None = None
    record: Record | None = None
    created: bool = False
    error: ConnectorError | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.error is None
