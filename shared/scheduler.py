"""One scheduler tick: claim every due flow (exactly once across racing ticks, by ETag) and
recover every flow whose run lost its lease."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from shared.flows import lifecycle
from shared.flows.models import FlowRecord
from shared.flows.service import FlowService

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    claimed: list[str] = field(default_factory=list)  # run ids
    recovered: list[str] = field(default_factory=list)  # flow ids
    sleeping_until: datetime | None = None  # inside a sleep window: nothing was claimed
    unreadable: list[str] = field(default_factory=list)  # flow ids whose row cannot be read


async def tick(service: FlowService, now: datetime) -> TickReport:
    report = TickReport()
    # An unreadable flow row is skipped (and logged by the store): the others still run.
    pairs, broken = await service.survey()
    records = [rec for _, rec in pairs]
    report.unreadable = [b.flow_id for b in broken]
    report.sleeping_until = await _sleeping_until(service, now)

    async def one(rec: FlowRecord) -> None:
        if lifecycle.lease_expired(rec, now):
            if await service.recover(rec, now):
                report.recovered.append(rec.flow_id)
        elif report.sleeping_until is None and lifecycle.is_due(rec, now):
            # Asleep, a due flow keeps its next_run_at and is claimed by the first tick after
            # the window, then finish() puts it back on its phase (lifecycle.next_due).
            run = await service.claim_due(rec, now)
            if run is not None:
                report.claimed.append(run.id)

    results = await asyncio.gather(*(one(r) for r in records), return_exceptions=True)
    for rec, result in zip(records, results, strict=True):
        if isinstance(result, BaseException):
            # One flow's storage hiccup must not stop the others from being scheduled.
            log.error("scheduler: flow %s: %s", rec.flow_id, result, exc_info=result)
    return report


async def _sleeping_until(service: FlowService, now: datetime) -> datetime | None:
    try:
        return await service.sleeping_until(now)
    except Exception as exc:
        # Unknown whether a window is open: claim nothing this tick; the next one asks again.
        log.error("scheduler: sleep windows unreadable (%s); no flow claimed this tick", exc)
        return now
