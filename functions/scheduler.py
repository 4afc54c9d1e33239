"""Timer: the scheduler tick (NCRONTAB from SHUTTLE_SCHEDULER_SCHEDULE, default every 15 s).
Ticks may overlap across hosts; claims are ETag-guarded so each due run starts once."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.flows.models import utcnow
from shared.runtime import get_services
from shared.scheduler import tick

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.timer_trigger(arg_name="timer", schedule="%SHUTTLE_SCHEDULER_SCHEDULE%", run_on_startup=False)
async def scheduler_tick(timer: func.TimerRequest) -> None:
    services = await get_services()
    report = await tick(services.flows, utcnow())
    if report.claimed or report.recovered:
        log.info("scheduler: claimed %s; recovered %s", report.claimed, report.recovered)
