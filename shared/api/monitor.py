"""The IW Monitor's reads: runs across flows with filters, and a dry run's plan (what each
record would have become). Handlers return (status, body model) like shared/api/control.py."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.api import models as api
from shared.api.control import run_view
from shared.errors import RequestValidationError
from shared.flows.models import RunStatus
from shared.flows.service import FlowService
from shared.storage.keys import decode_key
from shared.storage.outcome_store import OutcomeStore


class RunFilter(BaseModel):
    """Query parameters of GET /runs."""

    model_config = ConfigDict(extra="forbid")

    solution: str | None = None
    flow: str | None = Field(default=None, description="A flow id")
    status: RunStatus | None = None
    since: AwareDatetime | None = Field(default=None, description="Started at or after")
    until: AwareDatetime | None = Field(default=None, description="Started before")
    limit: int = Field(default=50, ge=1, le=500)


def parse_filter(params: dict[str, str]) -> RunFilter:
    try:
        return RunFilter.model_validate({k: v for k, v in params.items() if v != ""})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        raise RequestValidationError(f"{field}: {err['msg']}", field=field) from None


class PlanItem(BaseModel):
    record: str
    outcome: Literal["pending", "created", "updated", "unchanged", "skipped", "failed"]
    target_id: str | None = None
    field: str | None = None
    message: str | None = None


class RunPlan(BaseModel):
    run_id: str
    dry_run: bool
    items: list[PlanItem]
    truncated: bool


MAX_PLAN_ITEMS = 500


class MonitorApi:
    def __init__(self, service: FlowService, outcomes: OutcomeStore | None) -> None:
        self.service = service
        self.outcomes = outcomes

    async def list_runs(self, query: RunFilter) -> tuple[int, api.RunList]:
        """Newest first across every flow the filter keeps (each flow's partition is already
        newest first, so `limit` rows of each are enough)."""
        entries = [
            e for e in self.service.catalog
            if (query.solution is None or e.solution.id == query.solution)
            and (query.flow is None or e.flow_id == query.flow)
        ]  # fmt: skip
        if query.flow is not None and not entries:
            self.service.catalog.get(query.flow)  # 404 naming the flow
        per_flow = await asyncio.gather(
            *(self.service.runs.list(e.flow_id, query.limit if query.status is None and
                                     query.since is None and query.until is None else 500)
              for e in entries)
        )  # fmt: skip
        runs = [
            r for runs in per_flow for r in runs
            if (query.status is None or r.status is query.status)
            and (query.since is None or r.started_at >= query.since)
            and (query.until is None or r.started_at < query.until)
        ]  # fmt: skip
        runs.sort(key=lambda r: (r.started_at, r.id), reverse=True)
        return 200, api.RunList(runs=[run_view(r) for r in runs[: query.limit]])

    async def list_runs_query(self, params: dict[str, str]) -> tuple[int, api.RunList]:
        return await self.list_runs(parse_filter(params))

    async def run_plan(self, run_id: str) -> tuple[int, RunPlan]:
        """Per-record outcomes of a run; for a dry run, what it would have written."""
        run = await self.service.runs.get(run_id)
        items: list[PlanItem] = []
        truncated = False
        if self.outcomes is not None:
            rows = self.outcomes.table.query_entities(
                "PartitionKey eq @run", parameters={"run": run_id},
                select=["RowKey", "status", "target_id", "field", "message", "note"],
            )  # fmt: skip
            async for row in rows:
                if len(items) == MAX_PLAN_ITEMS:
                    truncated = True
                    break
                items.append(
                    PlanItem(
                        record=decode_key(row["RowKey"]),
                        outcome=row.get("status") or "pending",
                        target_id=row.get("target_id") or None,
                        field=row.get("field") or None,
                        message=row.get("message") or row.get("note") or None,
                    )
                )
        return 200, RunPlan(run_id=run_id, dry_run=run.params.dry_run, items=items,
                            truncated=truncated)  # fmt: skip
