"""What the sync engine asks of every connector: one record-level protocol for Creatio, Intacct
and Dataverse, so the engine never speaks a wire format and the transport never knows about
bindings, mappings or runs.

Values are plain JSON-able Python (str, int, float, bool, None, lists and dicts of them) in
the system's own field names and formats as the connector reads them; `Reference` values
point at another record of the same system (a lookup), and each connector renders them in
its own way (Creatio `AccountId`, Intacct `CUSTOMERID`, Dataverse `@odata.bind`). Document
objects (sales orders, invoices) carry their lines as a list of dicts under `LINES_FIELD`.

Every error is a `shared.connectors.errors.ConnectorError` with its category.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.connectors.errors import ConnectorError

LINES_FIELD = "lines"


class Reference(BaseModel):
    """A lookup value: the record `id` (as `SyncRecord.id` gives it) of `object`."""

    model_config = ConfigDict(frozen=True)

    object: str
    id: str


class SourceRef(BaseModel):
    """The record a create comes from. Connectors derive their idempotency key from it
    (Creatio: uuid5 Id; Intacct: the ID field when the values carry none; Dataverse: the
    alternate key), so a create repeated after a lost answer finds the first record."""

    model_config = ConfigDict(frozen=True)

    system: str
    object: str
    id: str

    @property
    def key(self) -> str:
        return f"{self.system}:{self.object}:{self.id}"


class SyncRecord(BaseModel):
    """One record as read: `id` is the key that get/update/Reference accept; `modified` is
    the system's last-modified time, in UTC."""

    model_config = ConfigDict(frozen=True)

    id: str
    modified: AwareDatetime
    values: dict[str, Any] = Field(default_factory=dict)


class RejectedRecord(BaseModel):
    """A record of a change page that could not be read as a `SyncRecord` (no key, an
    unreadable modification time): it fails alone on the run instead of failing the page.
    `id` is None when the source gave the row no key at all."""

    model_config = ConfigDict(frozen=True)

    id: str | None
    modified: AwareDatetime | None = None
    field: str | None = None
    message: str


def unusable(
    system: str, object: str, field: str, value: Any, *, id: str | None, noun: str = "record"
) -> RejectedRecord:
    """A page row whose key or modification time cannot be read: it fails alone, naming the
    field and (shortened) the value the source gave."""
    shown = "missing" if value in (None, "") else f"{str(value)[:40]!r}"
    return RejectedRecord(
        id=id,
        field=field,
        message=f"{system} answered this {object} with an unusable {field} ({shown}); it was "
        f"not synced: check the {noun} in {system}, then retry the run",
    )


Row = TypeVar("Row")


def split_rows(
    rows: Sequence[Row],
    convert: Callable[[Row], SyncRecord],
    reject: Callable[[Row], RejectedRecord],
) -> tuple[list[SyncRecord], list[RejectedRecord]]:
    """A change page's rows, each on its own: a row `convert` cannot read is `reject`ed alone
    and the rest of the page is read."""
    good: list[SyncRecord] = []
    bad: list[RejectedRecord] = []
    for row in rows:
        try:
            good.append(convert(row))
        except (ConnectorError, ValueError, TypeError, OverflowError):
            bad.append(reject(row))
    return good, bad


class ChangePage(BaseModel):
    records: list[SyncRecord]
    rejected: list[RejectedRecord] = Field(default_factory=list)
    # JSON-able continuation; None when the window is complete.
    cursor: dict[str, Any] | None = None


class WriteOutcome(BaseModel):
    """`created` is False when the create found the record an earlier attempt made."""

    id: str
    created: bool
    modified: AwareDatetime | None = None


async def gather_writes(
    writes: Sequence[Awaitable[WriteOutcome]],
) -> list[WriteOutcome | ConnectorError]:
    """Run one write per record at once, each record's ConnectorError as its outcome (a
    batch method's per-record answer); any other exception is a bug and propagates."""
    got = await asyncio.gather(*writes, return_exceptions=True)
    out: list[WriteOutcome | ConnectorError] = []
    for g in got:
        if isinstance(g, BaseException) and not isinstance(g, ConnectorError):
            raise g
        out.append(g)
    return out


# The connectors (creatio/, dataverse/, intacct/ sync.py) and engine/chunk_calls.py repeat
# these method signatures, and import the same names from here, on purpose: they implement
# this Protocol, which mypy checks them against; their bodies differ.
@runtime_checkable
class SyncConnector(Protocol):
    system: str

    async def check(self) -> None:
        """Raise ConnectorError (auth or connection) when the system cannot be used."""

    async def count_changes(self, object: str, *, since: datetime, until: datetime) -> int | None:
        """How many records changed in [since, until]; None when the system cannot tell
        cheaply."""

    async def open_changes(
        self,
        object: str,
        *,
        since: datetime,
        until: datetime,
        fields: Sequence[str] | None = None,
        page_size: int = 500,
    ) -> dict[str, Any]:
        """A cursor over records with modified in [since, until] (both inclusive), ordered by
        (modified, id), every record exactly once even when many share one timestamp."""

    async def read_changes(self, cursor: Mapping[str, Any]) -> ChangePage:
        """One page and the cursor of the next (JSON round-trippable, read in another
        process)."""

    async def get(
        self, object: str, id: str, *, fields: Sequence[str] | None = None
    ) -> SyncRecord | None:
        """The record, or None when it does not exist."""

    async def find(
        self,
        object: str,
        criteria: Mapping[str, Any],
        *,
        fields: Sequence[str] | None = None,
        limit: int = 2,
    ) -> list[SyncRecord]:
        """Records whose fields equal every criterion (values quoted/escaped by the
        connector)."""

    async def create(
        self, object: str, values: Mapping[str, Any], *, source: SourceRef
    ) -> WriteOutcome:
        """Create idempotently: a repeat with the same `source` returns the first record."""

    async def update(self, object: str, id: str, values: Mapping[str, Any]) -> WriteOutcome:
        """Write only `values` onto the record `id`."""

    async def aclose(self) -> None: ...
