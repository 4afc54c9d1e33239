"""Control API handlers: plain inputs in, (status, body model) out; errors are raised as
ShuttleError and turned into the error body by the trigger layer."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from shared.api import models as api
from shared.api.invalid import request_error
from shared.errors import ConflictError, NotFoundError, RequestValidationError
from shared.flows.catalog import CatalogEntry
from shared.flows.definitions import FlowKind, System
from shared.flows.models import FlowRecord, FlowState, RunParams, RunRecord, utcnow
from shared.flows.service import FlowService, RunRequest
from shared.notifications.health import health_status
from shared.notifications.service import Notifications
from shared.preflight.model import PreflightReport
from shared.preflight.service import PreflightService
from shared.schedule.gate import SleepGate
from shared.schedule.windows import SleepWindows, never_awake
from shared.settings import Settings
from shared.storage.entities import BrokenRow, UnreadableRowError
from shared.storage.flow_store import BrokenFlow
from shared.storage.outcome_store import OutcomeStore

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

# Control API bodies are a few properties (at most ~30 kB of record ids); anything bigger or
# deeper is refused before parsing, so no body can exhaust memory or the recursion limit.
MAX_BODY_BYTES = 64 * 1024
MAX_BODY_DEPTH = 16


def json_depth(body: bytes) -> int:
    """How deeply a JSON text nests arrays and objects (brackets inside strings ignored)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def parse_body(
    model: type[M], body: bytes, *, optional: bool = False, now: datetime | None = None
) -> M:
    """Validate a JSON body strictly (no "60000" for a number, no "yes" for true, no number
    for a date); RequestValidationError names the first bad field. `now` is the clock that
    date ranges are checked against (shared/api/models.py check_instant)."""
    if len(body) > MAX_BODY_BYTES:
        raise RequestValidationError(
            f"body is {len(body)} bytes; at most {MAX_BODY_BYTES} are accepted",
            code="body_too_large",
        )
    if json_depth(body) > MAX_BODY_DEPTH:
        raise RequestValidationError(
            f"body nests deeper than {MAX_BODY_DEPTH} levels", code="body_too_deep"
        )
    if not body.strip():
        if optional:
            return model()
        body = b"{}"
    try:
        return model.model_validate_json(body, strict=True, context={"now": now or utcnow()})
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["type"] == "json_invalid":
            raise RequestValidationError(
                f"body is not valid JSON: {err['msg']}", code="invalid_json"
            ) from None
        raise request_error(exc) from None


def parse_limit(raw: str | None, *, default: int = 50, maximum: int = 500) -> int:
    """A `?limit=` query value: ASCII digits only, from 1 to `maximum`."""
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(maximum))) or not (
        1 <= int(raw) <= maximum
    ):
        raise RequestValidationError(f"limit: a whole number from 1 to {maximum}", field="limit")
    return int(raw)


def broken_flow_view(broken: BrokenFlow) -> api.UnreadableRow:
    return api.UnreadableRow(
        flow_id=broken.flow_id,
        table=broken.row.table,
        field=broken.row.field,
        message=broken.message,
    )


def broken_run_view(flow_id: str, row: BrokenRow) -> api.UnreadableRow:
    run_id = f"{row.partition_key}.{row.row_key}"
    return api.UnreadableRow(
        flow_id=flow_id,
        run_id=run_id,
        table=row.table,
        field=row.field,
        message=row.describe(f"run '{run_id}'"),
    )


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


# A run row holds its parameters in one 64 KiB property: up to this many retried record ids
# travel in it; beyond, the retry run reads them from the retried run's outcome rows.
MAX_RETRY_RECORDS = 1000


# eq=False: an API is one object; repr=False: its settings hold secrets.
@dataclass(eq=False, repr=False)
class ControlApi:
    service: FlowService
    settings: Settings
    outcomes: OutcomeStore
    preflight: PreflightService | None = None
    _: KW_ONLY
    notifications: Notifications | None = None

    async def _last_run(self, rec: FlowRecord) -> RunRecord | None:
        run_id = rec.run_id or rec.last_run_id
        if not run_id:
            return None
        try:
            return await self.service.runs.get(run_id)
        except NotFoundError:
            # A claim writes the flow row before its run row (FlowService._launch): between
            # the two the flow is RUNNING with no run to show yet, which is not an error.
            return None
        except UnreadableRowError as exc:
            # The flow still shows (and /status reports the run row); only last_run is lost.
            log.error("flow %s: %s", rec.flow_id, exc.message, extra={"flow_id": rec.flow_id})
            return None

    async def _broken_runs(self, records: list[FlowRecord]) -> list[api.UnreadableRow]:
        """The current or last run row of each flow that cannot be read."""

        async def check(rec: FlowRecord) -> api.UnreadableRow | None:
            run_id = rec.run_id or rec.last_run_id
            if not run_id:
                return None
            try:
                await self.service.runs.get(run_id)
            except UnreadableRowError as exc:
                return broken_run_view(rec.flow_id, exc.broken)
            except NotFoundError:
                pass
            return None

        found = await asyncio.gather(*(check(rec) for rec in records))
        return [row for row in found if row is not None]

    async def _view(self, entry: CatalogEntry, rec: FlowRecord) -> api.Flow:
        return flow_view(entry, rec, await self._last_run(rec), await self._sleeping_until())

    async def _sleeping_until(self, now: datetime | None = None) -> datetime | None:
        gate = self.service.sleep
        return await gate.sleeping_until(now) if gate is not None else None

    async def list_flows(self) -> tuple[int, api.FlowList]:
        pairs, broken = await self.service.survey()
        views = await asyncio.gather(*(self._view(e, r) for e, r in pairs))
        return 200, api.FlowList(
            flows=list(views), unreadable=[broken_flow_view(b) for b in broken]
        )

    async def get_flow(self, flow_id: str) -> tuple[int, api.Flow]:
        entry, rec = await self.service.get(flow_id)
        return 200, await self._view(entry, rec)

    async def start_flow(self, flow_id: str, now: datetime) -> tuple[int, api.Flow]:
        if self.preflight is not None:
            await self.preflight.gate(flow_id, now)  # 409 while its fields are missing
        rec = await self.service.start(flow_id, now)
        return 200, await self._view(self.service.catalog.get(flow_id), rec)

    async def stop_flow(self, flow_id: str, now: datetime) -> tuple[int, api.Flow]:
        rec = await self.service.stop(flow_id, now)
        return 200, await self._view(self.service.catalog.get(flow_id), rec)

    async def patch_flow(
        self, flow_id: str, body: bytes, now: datetime | None = None
    ) -> tuple[int, api.Flow]:
        entry = self.service.catalog.get(flow_id)  # 404 before 422
        patch = parse_body(api.FlowPatch, body, now=now)
        rec = await self.service.patch(flow_id, patch.changes())
        return 200, await self._view(entry, rec)

    async def run_flow(
        self, flow_id: str, body: bytes, now: datetime
    ) -> tuple[int, api.RunAccepted]:
        entry = self.service.catalog.get(flow_id)
        run_body = parse_body(api.RunBody, body, optional=True, now=now)
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
            raise ConflictError(
                f"run '{run_id}' is still running; retry it once it has ended",
                code="run_in_progress",
            )
        failed = await self.outcomes.failed_ids(run_id)
        if not failed:
            raise ConflictError(
                f"run '{run_id}' has no failed records to retry", code="nothing_to_retry"
            )
        # More ids than the run row holds: the engine reads them from the retried run's
        # outcome rows instead (sync_engine.py), so every failed record is retried.
        ids = failed if len(failed) <= MAX_RETRY_RECORDS else None
        params = RunParams(record_ids=ids, retry_of=run_id)
        retry = await self.service.run_now(run.flow_id, RunRequest(params=params), now)
        return 202, api.RunAccepted(run_id=retry.id, status_url=f"/api/runs/{retry.id}")

    async def cancel_run(self, run_id: str, now: datetime) -> tuple[int, api.Run]:
        """200 with the run (still `running`, `cancel_requested_at` set) until its next step
        ends it `cancelled`; 409 once it has ended."""
        return 200, run_view(await self.service.cancel(run_id, now))

    async def list_runs(self, flow_id: str, limit: int = 50) -> tuple[int, api.RunList]:
        self.service.catalog.get(flow_id)
        runs, broken = await self.service.runs.scan(flow_id, limit)
        unreadable = [broken_run_view(flow_id, b) for b in broken]
        return 200, api.RunList(runs=[run_view(r) for r in runs], unreadable=unreadable)

    async def get_run(self, run_id: str) -> tuple[int, api.Run]:
        return 200, run_view(await self.service.runs.get(run_id))

    async def status(self, now: datetime) -> tuple[int, api.Status]:
        pairs, broken = await self.service.survey()  # also proves storage answers
        records = [rec for _, rec in pairs]
        unreadable = [broken_flow_view(b) for b in broken] + await self._broken_runs(records)
        by_state = {state: 0 for state in FlowState}
        for rec in records:
            by_state[rec.state] += 1
        systems = sorted(
            {s.crm for s in self.service.catalog.solutions.values()}
            | {s.erp for s in self.service.catalog.solutions.values()}
        )
        status = api.Status(
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
            unreadable=unreadable,
            egress_ip=self.settings.egress_ip,
            sleeping_until=await self._sleeping_until(now),
        )
        if self.notifications is not None:
            status = await health_status(status, self.notifications)
        return 200, status

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

    async def preflight_report(self, now: datetime) -> tuple[int, PreflightReport]:
        """What each live system lacks that the enabled solutions need (shared/preflight)."""
        if self.preflight is None:
            raise ConflictError("the preflight needs the connectors", code="no_preflight")
        return 200, await self.preflight.run(now)
