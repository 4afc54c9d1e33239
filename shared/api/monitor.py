"""The IW Monitor's reads: runs across flows with filters, and a dry run's plan (what each
record would have become). Handlers return (status, body model) like shared/api/control.py."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.api import models as api
from shared.api.control import run_view
from shared.api.invalid import parse_query
from shared.engine.decisions import Action
from shared.flows.models import RunStatus
from shared.flows.service import FlowService
from shared.storage.outcome_store import Outcome, OutcomeStore, PlanRow

MAX_PLAN_ITEMS = 500


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
    return parse_query(RunFilter, params)


class PlanItem(BaseModel):
    record: str
    outcome: Literal["pending", "created", "updated", "unchanged", "skipped", "failed"]
    # What happened, or in a dry run would happen (shared/engine/decisions.py Action).
    action: str | None = None
    target_id: str | None = None
    category: str | None = None
    field: str | None = None
    message: str | None = None
    changes: dict[str, Any] | None = Field(
        default=None, description="field -> [old value, new value] of a create or update"
    )


class RunPlan(BaseModel):
    run_id: str
    dry_run: bool
    items: list[PlanItem]
    truncated: bool = Field(description="More items follow: ask again with `after=next`")
    next: str | None = Field(default=None, description="The record id to continue after")


class PlanQuery(BaseModel):
    """Query parameters of GET /runs/{id}/plan: pages in record-id order; `outcome=failed`
    pages through every failed record (the run row keeps only the first errors)."""

    model_config = ConfigDict(extra="forbid")

    after: str | None = Field(default=None, min_length=1, max_length=1000)
    limit: int = Field(default=100, ge=1, le=MAX_PLAN_ITEMS)
    outcome: Outcome | None = None


def parse_plan_query(params: dict[str, str]) -> PlanQuery:
    return parse_query(PlanQuery, params)


def _action_of(row: PlanRow) -> str | None:
    if row.action:
        return row.action
    if row.outcome is Outcome.FAILED:
        return Action.FAILED.value
    return None


class MonitorApi:
    def __init__(self, service: FlowService, outcomes: OutcomeStore | None) -> None:
        self.service = service
        self.outcomes = outcomes

    async def list_runs(self, query: RunFilter) -> tuple[int, api.RunList]:
        """Newest first across every flow the filter keeps (each flow's partition is already
        newest first, so `limit` rows of each are enough)."""
        entries = [
            e
            for e in self.service.catalog
            if (query.solution is None or e.solution.id == query.solution)
            and (query.flow is None or e.flow_id == query.flow)
        ]
        if query.flow is not None and not entries:
            self.service.catalog.get(query.flow)  # 404 naming the flow
        per_flow = await asyncio.gather(
            *(
                self.service.runs.list(
                    e.flow_id,
                    query.limit
                    if query.status is None and query.since is None and query.until is None
                    else 500,
                )
                for e in entries
            )
        )
        runs = [
            r
            for runs in per_flow
            for r in runs
            if (query.status is None or r.status is query.status)
            and (query.since is None or r.started_at >= query.since)
            and (query.until is None or r.started_at < query.until)
        ]
        runs.sort(key=lambda r: (r.started_at, r.id), reverse=True)
        return 200, api.RunList(runs=[run_view(r) for r in runs[: query.limit]])

    async def list_runs_query(self, params: dict[str, str]) -> tuple[int, api.RunList]:
        return await self.list_runs(parse_filter(params))

    async def run_plan(
        self, run_id: str, params: dict[str, str] | None = None
    ) -> tuple[int, RunPlan]:
        """Per-record outcomes of a run, a page at a time; for a dry run, what it would have
        written (each update's fields with their old and new values)."""
        query = parse_plan_query(params or {})
        run = await self.service.runs.get(run_id)
        items: list[PlanItem] = []
        following = None
        if self.outcomes is not None:
            rows, following = await self.outcomes.page(
                run_id, after=query.after, limit=query.limit, outcome=query.outcome
            )
            items = [
                PlanItem(
                    record=r.record,
                    outcome=r.outcome.value,
                    action=_action_of(r),
                    target_id=r.target_id,
                    category=r.category,
                    field=r.field,
                    message=r.message,
                    changes=r.changes,
                )
                for r in rows
            ]
        return 200, RunPlan(
            run_id=run_id,
            dry_run=run.params.dry_run,
            items=items,
            truncated=following is not None,
            next=following,
        )
