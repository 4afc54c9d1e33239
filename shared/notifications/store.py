"""Table storage of the notifications: the settings row, claim rows (insert-if-absent, so one
host sends each alert), the connection monitor's last checks, each flow's failure episode,
and the notifications that could not be delivered. One table, `<prefix>notify`."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Literal

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables.aio import TableClient, TableServiceClient
from pydantic import BaseModel, ValidationError

from shared.notifications.config import NotificationSettings
from shared.storage.entities import StaleWrite, replace_if_unchanged

SETTINGS, CLAIM, CHECK, FLOW, FAILURE = "settings", "claim", "check", "flow", "failure"
Health = Literal["ok", "failing", "unchecked"]
# Failed notifications are kept for the status page; older ones are pruned.
KEEP_FAILURES = 20


class Check(BaseModel):
    """The last check of one connection (or of storage)."""

    system: str
    status: Health = "unchecked"
    checked_at: datetime | None = None
    latency_ms: int | None = None
    message: str | None = None
    since: datetime | None = None  # when the current status began
    episode: int = 0  # failure episodes so far; names the claim of each alert
    budget: int | None = None  # Dataverse service protection: requests left in the window
    etag: str | None = None


class FlowHealth(BaseModel):
    """Whether a flow's runs are failing, for one alert per failure episode."""

    flow_id: str
    status: Literal["ok", "failing"] = "ok"
    since: datetime | None = None
    episode: int = 0
    etag: str | None = None


class FailedNotification(BaseModel):
    at: datetime
    event: str
    channel: str  # "email" or "webhook <host>"
    error: str


def _row_key(key: str) -> str:
    # Table keys may not hold / \ # ? or control characters.
    return "".join(c if c.isprintable() and c not in "/\\#?" else "_" for c in key)[:1000]


class NotifyStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    @classmethod
    async def open(cls, tables: TableServiceClient, prefix: str) -> NotifyStore:
        with contextlib.suppress(ResourceExistsError):
            await tables.create_table(f"{prefix}notify")
        return cls(tables.get_table_client(f"{prefix}notify"))

    async def close(self) -> None:
        await self.table.close()

    # -- settings ------------------------------------------------------------------------------
    async def get_settings(self, default: NotificationSettings) -> NotificationSettings:
        try:
            row = await self.table.get_entity(SETTINGS, "current")
        except ResourceNotFoundError:
            return default
        try:
            return NotificationSettings.model_validate_json(row["data"])
        except (ValidationError, KeyError):
            # An unreadable row must not silence every alert: fall back to the app settings.
            return default

    async def put_settings(self, value: NotificationSettings) -> None:
        await self.table.upsert_entity(
            {"PartitionKey": SETTINGS, "RowKey": "current", "data": value.model_dump_json()}
        )

    # -- claims --------------------------------------------------------------------------------
    async def claim(self, key: str, now: datetime) -> bool:
        """True for the one caller that writes the claim row first (insert-if-absent: the
        create fails with 409 for every other host)."""
        try:
            await self.table.create_entity(
                {"PartitionKey": CLAIM, "RowKey": _row_key(key), "at": now.astimezone(UTC)}
            )
        except ResourceExistsError:
            return False
        return True

    # -- connection checks ---------------------------------------------------------------------
    async def get_check(self, system: str) -> Check:
        try:
            row = await self.table.get_entity(CHECK, system)
        except ResourceNotFoundError:
            return Check(system=system)
        return Check.model_validate({**json.loads(row["data"]), "etag": row.metadata["etag"]})

    async def checks(self) -> dict[str, Check]:
        found: dict[str, Check] = {}
        async for row in self.table.query_entities(f"PartitionKey eq '{CHECK}'"):
            with contextlib.suppress(ValidationError, KeyError, ValueError):
                found[row["RowKey"]] = Check.model_validate_json(row["data"])
        return found

    async def replace_check(self, check: Check) -> Check:
        """Write by ETag (StaleWrite when another host wrote first); a first row is created."""
        etag = await self._put(
            CHECK, check.system, check.model_dump_json(exclude={"etag"}), check.etag
        )
        return check.model_copy(update={"etag": etag})

    async def _put(self, partition: str, row: str, data: str, etag: str | None) -> str:
        """Create the row when `etag` is None, else replace it if unchanged; the new ETag."""
        entity = {"PartitionKey": partition, "RowKey": row, "data": data}
        if etag is not None:
            return await replace_if_unchanged(self.table, entity, etag)
        try:
            meta = await self.table.create_entity(entity)
        except ResourceExistsError as exc:
            raise StaleWrite(f"{partition}/{row}") from exc
        return str(meta.get("etag"))

    # -- flow episodes -------------------------------------------------------------------------
    async def get_flow(self, flow_id: str) -> FlowHealth:
        try:
            row = await self.table.get_entity(FLOW, _row_key(flow_id))
        except ResourceNotFoundError:
            return FlowHealth(flow_id=flow_id)
        return FlowHealth.model_validate({**json.loads(row["data"]), "etag": row.metadata["etag"]})

    async def replace_flow(self, health: FlowHealth) -> FlowHealth:
        data = health.model_dump_json(exclude={"etag"})
        etag = await self._put(FLOW, _row_key(health.flow_id), data, health.etag)
        return health.model_copy(update={"etag": etag})

    # -- failed notifications ------------------------------------------------------------------
    async def record_failure(self, failure: FailedNotification) -> None:
        # Newest first in key order: the row key counts down with time.
        inverted = f"{10**13 - int(failure.at.timestamp() * 1000):013d}"
        key = f"{inverted}-{_row_key(failure.event)[:80]}-{_row_key(failure.channel)[:40]}"
        await self.table.upsert_entity(
            {"PartitionKey": FAILURE, "RowKey": key, "data": failure.model_dump_json()}
        )
        rows = [
            r
            async for r in self.table.query_entities(
                f"PartitionKey eq '{FAILURE}'", select=["RowKey"]
            )
        ]
        for row in rows[KEEP_FAILURES:]:
            with contextlib.suppress(ResourceNotFoundError):
                await self.table.delete_entity(FAILURE, row["RowKey"])

    async def failures(self, limit: int = 10) -> list[FailedNotification]:
        found: list[FailedNotification] = []
        async for row in self.table.query_entities(f"PartitionKey eq '{FAILURE}'"):
            with contextlib.suppress(ValidationError, KeyError):
                found.append(FailedNotification.model_validate_json(row["data"]))
            if len(found) >= limit:
                break
        return found
