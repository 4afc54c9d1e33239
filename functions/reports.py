"""Timer: the daily report. Fires every minute and sends once the configured local time has
passed, once per local date across hosts (a claim row; shared/notifications/report.py), so a
change of `daily_report_at` or `time_zone` needs no redeploy."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.flows.models import utcnow
from shared.runtime import get_services

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.timer_trigger(arg_name="timer", schedule="0 * * * * *", run_on_startup=False)
async def daily_report(timer: func.TimerRequest) -> None:
    services = await get_services()
    if services.notifications is not None and await services.notifications.report.tick(utcnow()):
        log.info("daily report sent")
