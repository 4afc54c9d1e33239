"""One scheduler tick: claim every due flow (exactly once across racing ticks, by ETag) and
recover every flow whose run lost its lease."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from shared.flows import lifecycle
from shared.flows.service import FlowService

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    claimed: list[str] = field(default_factory=list)  # run ids
    recovered: list[str] = field(default_factory=list)  # flow ids
    unreadable: list[str] = field(default_factory=list)  # flow ids whose row cannot be read


async def tick(service: FlowService, now: datetime) -> TickReport:
    report = TickReport()
    # An unreadable flow row is skipped (and logged by the store): the others still run.
    pairs, broken = await service.survey()
    records = [rec for _, rec in pairs]
    report.unreadable = [b.flow_id for b in broken]

    async def one(rec):  # type: ignore[no-untyped-def]
        if lifecycle.lease_expired(rec, now):
            if await service.recover(rec, now):
                report.recovered.append(rec.flow_id)
        elif lifecycle.is_due(rec, now):
            run = await service.claim_due(rec, now)
            if run is not None:
                report.claimed.append(run.id)

    results = await asyncio.gather(*(one(r) for r in records), return_exceptions=True)
    for rec, result in zip(records, results, strict=True):
        if isinstance(result, BaseException):
            # One flow's storage hiccup must not stop the others from being scheduled.
            log.error("scheduler: flow %s: %s", rec.flow_id, result, exc_info=result)
    return report
