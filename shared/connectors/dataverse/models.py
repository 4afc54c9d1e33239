"""What the Dataverse client hands back: pages, write results, batch operations."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.errors import ConnectorError

Record = dict[str, Any]


class Page(BaseModel):
    records: list[Record]
    next_link: str | None = None
    count: int | None = None


class DataverseChangesPage(BaseModel):
    """A page of a change-tracking read: rows new or changed (all rows on the first read),
    ids deleted (delta reads only), and either `next_link` (more of this read) or
    `delta_link` (keep it: the next read returns what changed after this one)."""

    records: list[Record]
    deleted: list[str] = Field(default_factory=list)
    next_link: str | None = None
    delta_link: str | None = None


class WriteResult(BaseModel):
    """`created` is None when the answer does not tell (a plain 204 upsert)."""

    id: str
    created: bool | None = None
    record: Record | None = None


class BatchOperation(BaseModel):
    """One request of a $batch. `url` is relative to the API base (`accounts(...)`) or a
    `$<content-id>` reference to an earlier operation of the same change set."""

    method: Literal["GET", "POST", "PATCH", "DELETE"]
    url: str
    body: Record | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class ChangeSet(BaseModel):
    """Operations applied all together or not at all."""

    operations: list[BatchOperation]


class BatchResult(BaseModel):
    """The answer to one operation, in the order sent. `error` when it failed. When a change
    set fails nothing of it is applied: the failing operation has the error, every other one
    carries the same error with `rolled_back`. `status` None: never run (the batch stopped
    at an earlier failure)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    status: int | None
    id: str | None = None
    body: Record | None = None
    error: ConnectorError | None = None
    rolled_back: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400
