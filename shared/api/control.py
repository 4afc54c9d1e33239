"""Control API handlers: plain inputs in, (status, body model) out; errors are raised as
ShuttleError and turned into the error body by the trigger layer."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from shared.api import models as api
from shared.errors import ConflictError, RequestValidationError
from shared.flows.catalog import CatalogEntry
from shared.flows.definitions import FlowKind, System
from shared.flows.models import FlowRecord, FlowState, RunParams, RunRecord
from shared.flows.service import FlowService, RunRequest
from shared.schedule.gate import SleepGate
from shared.schedule.windows import SleepWindows, never_awake
from shared.settings import Settings
from shared.storage.outcome_store import OutcomeStore

M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], body: bytes, *, optional: bool = False) -> M:
    """Validate a JSON body; RequestValidationError names the first bad field."""
    if not body.strip():
        if optional:
            return model()
        body = b"{}"
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestValidationError(
            f"body is not valid JSON: {exc}", code="invalid_json"
        ) from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        where = f"{field}: " if field else ""
        raise RequestValidationError(f"{where}{err['msg']}", field=field) from None


def run_view(run: RunRecord) -> api.Run:
    return api.Run.model_validate(run.model_dump(by_alias=False))


def flow_view(
    entry: CatalogEntry,
    rec: FlowRecord,
    last_run: RunRecord | None,
    sleeping_until: datetime | None = None,
) -> api.Flow:
    flow = entry.flow
    return api.Flow(
        id=entry.flow_id,
        solution=entry.solution.id,
        name=flow.name,
        description=flow.description,
        kind=flow.kind,
        source=flow.source,
        target=flow.target,
        state=rec.state,
        interval_ms=rec.interval_ms,
        shift_ms=rec.shift_ms,
        query_starts=rec.query_starts,
        counter=rec.counter,
        next_run_at=rec.next_run_at,
        last_run=run_view(last_run) if last_run else None,
        current_run_id=rec.run_id,
        state_changed_at=rec.state_changed_at,
        depends_on=list(flow.depends_on),
        volume_limit=rec.volume_limit,
        error_policy=rec.error_policy,
        bulk_flow=flow.bulk_flow,
        sleeping_until=sleeping_until,
    )


# A run row holds its parameters in one 64 KiB property: retry at most this many at once.
MAX_RETRY_RECORDS = 1000


class ControlApi:
    def __init__(
        self, service: FlowService, settings: Settings, outcomes: OutcomeStore | None = None
    ) -> None:
        self.service = service
        self.settings = settings
        self.outcomes = outcomes

    async def _last_run(self, rec: FlowRecord) -> RunRecord | None:
        run_id = rec.run_id or rec.last_run_id
        return await self.service.runs.get(run_id) if run_id else None

    async def _view(self, entry: CatalogEntry, rec: FlowRecord) -> api.Flow:
        return flow_view(entry, rec, await self._last_run(rec), await self._sleeping_until())

    async def _sleeping_until(self, now: datetime | None = None) -> datetime | None:
        gate = self.service.sleep
        return await gate.sleeping_until(now) if gate is not None else None

    async def list_flows(self) -> tuple[int, api.FlowList]:
        pairs = await self.service.list()
        views = await asyncio.gather(*(self._view(e, r) for e, r in pairs))
        return 200, api.FlowList(flows=list(views))

    async def get_flow(self, flow_id: str) -> tuple[int, api.Flow]:
        entry, rec = await self.service.get(flow_id)
        return 200, await self._view(entry, rec)

    async def start_flow(self, flow_id: str, now: datetime) -> tuple[int, api.Flow]:
        rec = await self.service.start(flow_id, now)
        return 200, await self._view(self.service.catalog.get(flow_id), rec)

    async def stop_flow(self, flow_id: str, now: datetime) -> tuple[int, api.Flow]:
        rec = await self.service.stop(flow_id, now)
        return 200, await self._view(self.service.catalog.get(flow_id), rec)

    async def patch_flow(self, flow_id: str, body: bytes) -> tuple[int, api.Flow]:
        entry = self.service.catalog.get(flow_id)  # 404 before 422
        patch = parse_body(api.FlowPatch, body)
        rec = await self.service.patch(flow_id, patch.changes())
        return 200, await self._view(entry, rec)

    async def run_flow(
        self, flow_id: str, body: bytes, now: datetime
    ) -> tuple[int, api.RunAccepted]:
        entry = self.service.catalog.get(flow_id)
        run_body = parse_body(api.RunBody, body, optional=True)
        kind = entry.flow.kind
        for field, allowed in (
            ("from", run_body.from_ is None or kind in (FlowKind.BULK, FlowKind.SCHEDULED)),
            ("to", run_body.to is None or kind in (FlowKind.BULK, FlowKind.SCHEDULED)),
            ("batch_size", run_body.batch_size is None or kind is FlowKind.BULK),
            ("record_ids", run_body.record_ids is None or kind is FlowKind.SINGLE),
        ):
            if not allowed:
                raise RequestValidationError(
                    f"{field}: not accepted by a {kind.value} flow", field=field
                )
        request = RunRequest(
            window_from=run_body.from_,
            window_to=run_body.to,
            params=RunParams(
                batch_size=run_body.batch_size,
                record_ids=run_body.record_ids,
                dry_run=run_body.dry_run,
            ),
        )
        run = await self.service.run_now(flow_id, request, now)
        return 202, api.RunAccepted(run_id=run.id, status_url=f"/api/runs/{run.id}")

    async def retry_run(self, run_id: str, now: datetime) -> tuple[int, api.RunAccepted]:
        """A new run of the same flow that re-reads and re-syncs the failed records of
        `run_id` (their current version at the source)."""
        run = await self.service.runs.get(run_id)
        if not run.status.is_final:
            raise ConflictError(f"run '{run_id}' is still running; retry it once it has ended",
                                code="run_in_progress")  # fmt: skip
        if self.outcomes is None:
            raise ConflictError("retry needs the sync engine's outcome store", code="no_engine")
        failed = (await self.outcomes.tally(run_id)).failed_ids
        if not failed:
            raise ConflictError(f"run '{run_id}' has no failed records to retry",
                                code="nothing_to_retry")  # fmt: skip
        params = RunParams(record_ids=failed[:MAX_RETRY_RECORDS], retry_of=run_id)
        retry = await self.service.run_now(run.flow_id, RunRequest(params=params), now)
        return 202, api.RunAccepted(run_id=retry.id, status_url=f"/api/runs/{retry.id}")

    async def list_runs(self, flow_id: str, limit: int = 50) -> tuple[int, api.RunList]:
        runs = await self.service.runs_of(flow_id, limit)
        return 200, api.RunList(runs=[run_view(r) for r in runs])

    async def get_run(self, run_id: str) -> tuple[int, api.Run]:
        return 200, run_view(await self.service.runs.get(run_id))

    async def status(self, now: datetime) -> tuple[int, api.Status]:
        records = [rec for _, rec in await self.service.list()]  # also proves storage answers
        by_state = {state: 0 for state in FlowState}
        for rec in records:
            by_state[rec.state] += 1
        systems = sorted(
            {s.crm for s in self.service.catalog.solutions.values()}
            | {s.erp for s in self.service.catalog.solutions.values()}
        )
        return 200, api.Status(
            time=now,
            solutions=list(self.service.catalog.solutions),
            flows=api.FlowsSummary(total=len(records), by_state=by_state),
            connections=[
                api.ConnectionStatus(
                    system=s.value, configured=self.settings.connection_configured(s)
                )
                for s in systems
                if isinstance(s, System)
            ],
            storage="ok",
            egress_ip=self.settings.egress_ip,
            sleeping_until=await self._sleeping_until(now),
        )

    # ---- sleep windows (shared/schedule) -------------------------------------------------

    async def get_sleep_windows(self) -> tuple[int, SleepWindows]:
        return 200, await self._gate().store.get()

    async def put_sleep_windows(self, body: bytes, now: datetime) -> tuple[int, SleepWindows]:
        windows = parse_body(SleepWindows, body)
        if never_awake(windows, now):
            raise RequestValidationError(
                "windows: together they cover the whole week; every flow would sleep for good",
                field="windows",
            )
        return 200, await self._gate().put(windows)

    def _gate(self) -> SleepGate:
        if self.service.sleep is None:
            raise ConflictError("sleep windows need the app's storage", code="no_sleep_windows")
        return self.service.sleep
