"""The deployment's sleep windows: one row of the `{prefix}settings` table, written by ETag.

PartitionKey "deployment", RowKey "sleep-windows", the windows as JSON text. A PUT replaces
the whole list; the write is conditional on the ETag it read (or an insert when there was no
row), so two racing PUTs each land whole, one after the other, never interleaved.
"""

from __future__ import annotations

import contextlib
import json

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables.aio import TableClient
from pydantic import ValidationError

from shared.errors import ConcurrencyError, ShuttleError
from shared.schedule.windows import SleepWindows
from shared.storage.entities import StaleWrite, etag_of, replace_if_unchanged

PARTITION = "deployment"
ROW = "sleep-windows"
MAX_ATTEMPTS = 8


class UnreadableWindows(ShuttleError):
    """The stored row does not parse (written by hand, or by a newer version); a PUT of the
    windows replaces it."""

    code = "unreadable_settings"


class SleepWindowStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    async def ensure(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self.table.create_table()

    async def _read(self) -> tuple[SleepWindows, str | None]:
        try:
            entity = await self.table.get_entity(PARTITION, ROW)
        except ResourceNotFoundError:
            return SleepWindows(windows=[]), None
        try:
            windows = SleepWindows.model_validate({"windows": json.loads(entity["windows"])})
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise UnreadableWindows(
                f"the stored sleep windows ({PARTITION}/{ROW}) cannot be read: {exc}; "
                "PUT /api/settings/sleep-windows to replace them"
            ) from None
        return windows, etag_of(entity)

    async def get(self) -> SleepWindows:
        return (await self._read())[0]

    async def put(self, windows: SleepWindows) -> SleepWindows:
        entity = {
            "PartitionKey": PARTITION,
            "RowKey": ROW,
            "windows": json.dumps(
                [w.model_dump(mode="json", exclude_none=True) for w in windows.windows]
            ),
        }
        for _ in range(MAX_ATTEMPTS):
            try:
                etag = (await self._read())[1]
            except UnreadableWindows:
                etag = None  # a broken row is replaced: the PUT is the repair
                with contextlib.suppress(ResourceNotFoundError):
                    etag = etag_of(await self.table.get_entity(PARTITION, ROW))
            try:
                if etag is None:
                    await self.table.create_entity(entity)
                else:
                    await replace_if_unchanged(self.table, entity, etag)
                return windows
            except (ResourceExistsError, StaleWrite):
                continue  # another PUT landed in between: write over its version
        raise ConcurrencyError("the sleep windows are being changed by others; try again")
