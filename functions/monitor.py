"""Timer: the connection monitor (NCRONTAB from SHUTTLE_CONNECTION_MONITOR_SCHEDULE, default
every 5 minutes). Overlapping ticks on several hosts are harmless: check rows are written by
ETag and each alert is claimed once (shared/notifications/monitor.py)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.flows.models import utcnow
from shared.runtime import get_services

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.timer_trigger(
    arg_name="timer", schedule="%SHUTTLE_CONNECTION_MONITOR_SCHEDULE%", run_on_startup=False
)
async def connection_monitor(timer: func.TimerRequest) -> None:
    services = await get_services()
    if services.notifications is None:
        return
    report = await services.notifications.monitor.tick(utcnow())
    states = {system: check.status for system, check in report.checks.items()}
    log.info("connection monitor: %s; alerts %s", states, report.alerts or "none")
