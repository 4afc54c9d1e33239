"""The audit trail: one row per state-changing call (allowed or refused), newest first.

Table `{prefix}audit`: PartitionKey "audit", RowKey = inverted epoch milliseconds plus a
random suffix, so a plain query reads newest first and a RowKey is a paging cursor. Reads
are never audited. Values are JSON, cut to fit a Table property (64 KiB)."""

from __future__ import annotations

import contextlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from azure.core.exceptions import ResourceExistsError
from azure.data.tables.aio import TableClient
from pydantic import BaseModel, Field

from shared.access.caller import Caller

PARTITION = "audit"
_MAX_MS = 9_999_999_999_999
_MAX_VALUE_CHARS = 16_000  # UTF-16 in Table storage: stays well under 64 KiB

Outcome = Literal["ok", "refused", "failed"]


class AuditActor(BaseModel):
    kind: str
    name: str
    object_id: str | None = None
    roles: list[str] = []
    role: str


class AuditEntry(BaseModel):
    id: str
    at: datetime
    actor: AuditActor
    action: str = Field(description='What was asked, e.g. "flow.start", "settings.notifications"')
    target: str | None = Field(description="The flow, run or setting it concerns")
    method: str
    path: str
    status: int
    outcome: Outcome
    message: str | None = None
    request: Any = None
    before: Any = None
    after: Any = None


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    next: str | None = Field(description="Pass as `before` to read the next (older) page")


def _dump(value: Any) -> str:
    text = json.dumps(value, default=str)
    if len(text) > _MAX_VALUE_CHARS:
        text = json.dumps({"truncated": text[:_MAX_VALUE_CHARS]})
    return text


def actor_of(caller: Caller | None) -> AuditActor:
    if caller is None:
        return AuditActor(kind="anonymous", name="anonymous", role="NONE")
    return AuditActor(
        kind=caller.kind,
        name=caller.name,
        object_id=caller.object_id,
        roles=caller.roles,
        role=caller.role.name,
    )


class AuditStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table
        self._ready = False

    async def _ensure(self) -> None:
        if not self._ready:
            with contextlib.suppress(ResourceExistsError):
                await self.table.create_table()
            self._ready = True

    async def write(
        self,
        *,
        caller: Caller | None,
        action: str,
        target: str | None,
        method: str,
        path: str,
        status: int,
        message: str | None = None,
        request: Any = None,
        before: Any = None,
        after: Any = None,
        now: datetime | None = None,
    ) -> AuditEntry:
        now = now or datetime.now(UTC)
        key = f"{_MAX_MS - int(now.timestamp() * 1000):013d}-{secrets.token_hex(4)}"
        outcome: Outcome = "ok" if status < 400 else "refused" if status < 500 else "failed"
        entry = AuditEntry(
            id=key,
            at=now,
            actor=actor_of(caller),
            action=action,
            target=target,
            method=method,
            path=path,
            status=status,
            outcome=outcome,
            message=message,
            request=request,
            before=before,
            after=after,
        )
        await self._ensure()
        await self.table.create_entity(
            {
                "PartitionKey": PARTITION,
                "RowKey": key,
                "at": now,
                "actor": entry.actor.model_dump_json(),
                "action": action,
                "target": target or "",
                "method": method,
                "path": path,
                "status": status,
                "outcome": outcome,
                "message": (message or "")[:4000],
                "request": _dump(request),
                "before": _dump(before),
                "after": _dump(after),
            }
        )
        return entry

    async def page(self, limit: int = 50, before: str | None = None) -> AuditPage:
        await self._ensure()
        query, params = "PartitionKey eq @pk", {"pk": PARTITION}
        if before:
            query += " and RowKey gt @before"
            params["before"] = before
        entries: list[AuditEntry] = []
        async for row in self.table.query_entities(
            query, parameters=params, results_per_page=limit + 1
        ):
            if len(entries) == limit:
                return AuditPage(entries=entries, next=entries[-1].id)
            entries.append(_from_row(row))
        return AuditPage(entries=entries, next=None)


def _from_row(row: dict[str, Any]) -> AuditEntry:
    at = row["at"]
    return AuditEntry(
        id=row["RowKey"],
        at=datetime.fromtimestamp(at.timestamp(), UTC),
        actor=AuditActor.model_validate_json(row["actor"]),
        action=row["action"],
        target=row.get("target") or None,
        method=row["method"],
        path=row["path"],
        status=int(row["status"]),
        outcome=row["outcome"],
        message=row.get("message") or None,
        request=json.loads(row.get("request") or "null"),
        before=json.loads(row.get("before") or "null"),
        after=json.loads(row.get("after") or "null"),
    )
