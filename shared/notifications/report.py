"""The daily report: at `daily_report_at` in `time_zone`, once per local day across every host
(a claim row per date). `full`: every flow's state, its runs of the last 24 h with counts and
failed records, connection health and how far each flow's query starts lags behind now.
`errors`: only what went wrong (sent only when something did)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from shared.flows.models import RunErrorEntry, RunRecord, RunStatus
from shared.flows.service import FlowService
from shared.notifications.compose import MAX_LISTED_ERRORS
from shared.notifications.events import Event, EventKind
from shared.notifications.notifier import Notifier
from shared.notifications.store import Check

log = logging.getLogger(__name__)

DAY = timedelta(hours=24)
RUNS_PER_FLOW = 500


def due(now: datetime, at: datetime) -> bool:
    return now >= at


def _lag(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 1440}d {minutes % 1440 // 60}h {minutes % 60}m" if minutes >= 0 else "-"


class DailyReport:
    def __init__(self, notifier: Notifier, flows: FlowService) -> None:
        self.notifier = notifier
        self.flows = flows

    async def tick(self, now: datetime) -> bool:
        """True when this host sent today's report. Called often (every minute); sends once
        the local time has passed today's report time, once per local date."""
        config = await self.notifier.current()
        kind = config.mode.daily_report
        if kind is None:
            return False
        local = now.astimezone(config.zone)
        # A report time inside a DST gap or overlap resolves through UTC like any other.
        scheduled = datetime.combine(local.date(), config.report_time, tzinfo=config.zone)
        if not due(now, scheduled):
            return False
        event = await self.build(kind, now, local.date().isoformat())
        if event is None:
            # Nothing to report in errors-only mode; still mark the day as done.
            await self.notifier.store.claim(f"report|{local.date().isoformat()}", now)
            return False
        return await self.notifier.emit(event)

    async def build(self, kind: str, now: datetime, day: str) -> Event | None:
        since = now - DAY
        checks = await self.notifier.store.checks()
        lines: list[str] = []
        errors: list[RunErrorEntry] = []
        total_failed_records = 0
        problems = 0
        flow_lines: list[str] = []
        for entry, rec in await self.flows.list():
            runs = [
                r
                for r in await self.flows.runs.list(entry.flow_id, RUNS_PER_FLOW)
                if r.started_at >= since
            ]
            bad = [r for r in runs if r.status in (RunStatus.FAILED, RunStatus.PARTIAL)]
            failed = sum(r.counts.failed for r in runs)
            total_failed_records += failed
            problems += len(bad)
            if kind == "errors" and not bad:
                continue
            read = sum(r.counts.read for r in runs)
            written = sum(r.counts.created + r.counts.updated for r in runs)
            lag = _lag(now - rec.query_starts) if rec.state.value != "STOPPED" else "stopped"
            flow_lines.append(
                f"{entry.flow_id}: {rec.state.value}; {len(runs)} runs ({len(bad)} failed or "
                f"partial); read {read}, written {written}, failed records {failed}; "
                f"query starts {rec.query_starts:%Y-%m-%d %H:%M} UTC (lag {lag})"
            )
            for run in bad:
                errors += self._errors(run)
        failing = [c for c in checks.values() if c.status == "failing"]
        if kind == "errors" and not (problems or failing):
            return None
        lines.append("Connections:")
        shown = checks.values() if kind == "full" else failing
        lines += [self._check_line(c) for c in sorted(shown, key=lambda c: c.system)] or [
            "  (none checked yet)" if kind == "full" else "  all ok"
        ]
        lines += ["", "Flows (last 24 h):"]
        lines += [f"  {line}" for line in flow_lines] or ["  no flow had errors"]
        what = "daily report" if kind == "full" else "daily error report"
        return Event(
            kind=EventKind.DAILY_REPORT,
            key=f"report|{day}",
            at=now,
            what=f"{what} {day}",
            facts=[
                ("period", f"{since:%Y-%m-%d %H:%M} to {now:%Y-%m-%d %H:%M} UTC"),
                ("failed or partial runs", str(problems)),
                ("failed records", str(total_failed_records)),
                ("failing connections", str(len(failing))),
            ],
            details="\n".join(lines),
            errors=errors[:MAX_LISTED_ERRORS],
            errors_total=len(errors),
            todo="for each failed record, fix its cause and retry its run "
            "(POST /api/runs/<run>/retry)"
            if errors or failing
            else "",
            runbook="§2 Run errors" if errors else "",
        )

    @staticmethod
    def _errors(run: RunRecord) -> list[RunErrorEntry]:
        return [
            e.model_copy(update={"record": f"{run.flow_id} {run.id}: {e.record or '(run)'}"})
            for e in run.errors
        ]

    @staticmethod
    def _check_line(check: Check) -> str:
        line = f"  {check.system}: {check.status}"
        if check.since:
            line += f" since {check.since:%Y-%m-%d %H:%M} UTC"
        if check.latency_ms is not None:
            line += f", {check.latency_ms} ms"
        if check.message:
            line += f" - {check.message}"
        return line
