"""Alerts from the end of a run (FlowService.listeners): a flow stopped by its error policy,
a failed run (once per failure episode of the flow, then one recovery), the failed records of
a run, a bulk load that finished."""

from __future__ import annotations

import logging

from shared.errors import ErrorCategory
from shared.flows.models import RunKind, RunRecord, RunStatus
from shared.notifications.compose import MAX_LISTED_ERRORS
from shared.notifications.events import Event, EventKind
from shared.notifications.notifier import Notifier
from shared.notifications.store import FlowHealth
from shared.storage.entities import StaleWrite

log = logging.getLogger(__name__)

CONNECTION_CATEGORIES = (ErrorCategory.CONNECTION, ErrorCategory.AUTH)


def _solution(flow_id: str) -> str:
    return flow_id.split(".", 1)[0]


def _facts(run: RunRecord) -> list[tuple[str, str]]:
    c = run.counts
    facts = [
        ("run status", f"{run.status.value} (run #{run.number}, {run.kind.value})"),
        (
            "counts",
            f"read {c.read}, created {c.created}, updated {c.updated}, unchanged "
            f"{c.unchanged}, skipped {c.skipped}, failed {c.failed}, pending "
            f"{c.pending}",
        ),
    ]
    if run.message:
        facts.append(("message", run.message))
    return facts


class RunAlerts:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def _event(self, run: RunRecord, kind: EventKind, key: str, what: str, **more: object) -> Event:
        failed = [e for e in run.errors if e.category is not ErrorCategory.CONFLICT]
        todo = str(more.pop("todo", "")).replace("<run>", run.id).replace("<flow>", run.flow_id)
        return Event.model_validate(
            {
                "kind": kind,
                "key": key,
                "at": run.finished_at or self.notifier.clock(),
                "what": what,
                "solution": _solution(run.flow_id),
                "flow_id": run.flow_id,
                "run_id": run.id,
                "facts": _facts(run),
                "errors": failed[:MAX_LISTED_ERRORS],
                "errors_total": max(len(failed), run.counts.failed),
                "todo": todo,
                **more,
            }
        )

    async def __call__(self, run: RunRecord, stopped: bool) -> None:
        if not run.status.is_final:
            return
        connection = any(e.category in CONNECTION_CATEGORIES for e in run.errors) or (
            run.last_error or ""
        ).startswith(("[connection]", "[auth]"))
        episode = await self._flow_episode(run)
        # The emits below share a shape, not logic: each event has its own operator text.
        if stopped:
            await self.notifier.emit(
                self._event(
                    run,
                    EventKind.FLOW_STOPPED,
                    f"run|{run.id}|stopped",
                    "flow stopped by its error policy",
                    todo="read the errors below (GET /api/runs/<run>), fix their cause, retry the "
                    "run's failed records (POST /api/runs/<run>/retry), then start the flow "
                    "again (POST /api/flows/<flow>/start)",
                    runbook="§2 Run errors, and §4 Nothing syncs (a STOPPED flow)",
                    connection_cause=connection,
                )
            )
        elif episode == "failed":
            # Same claim as the record errors below: a repeated finish of this run (a
            # redelivered message) finds it taken.
            await self.notifier.emit(
                self._event(
                    run,
                    EventKind.RUN_FAILED,
                    f"run|{run.id}|errors",
                    "run failed",
                    connection_cause=connection,
                    todo="read the run's message and errors; the next scheduled run reads the same "
                    "window again (query starts did not move). You hear of this flow again "
                    "when a run succeeds",
                    runbook="§2 Run errors and §3 Poison queues",
                )
            )
        # Each episode emits one event through _event: the calls look alike, the kind, claim
        # key and texts differ.
        elif run.status in (RunStatus.PARTIAL, RunStatus.FAILED) and run.counts.failed:
            await self.notifier.emit(
                self._event(
                    run,
                    EventKind.RECORD_ERRORS,
                    f"run|{run.id}|errors",
                    f"{run.counts.failed} record{'s' if run.counts.failed != 1 else ''} failed",
                    todo="fix each record (or the setting) its message names, then retry the "
                    "run's failed records: POST /api/runs/<run>/retry",
                    runbook="§2 Run errors (by category)",
                )
            )
        if episode == "recovered":
            await self.notifier.emit(
                self._event(
                    run,
                    EventKind.FLOW_RECOVERED,
                    f"flow|{run.flow_id}|{run.id}|recovered",
                    "runs succeed again",
                    connection_cause=True,
                    todo="nothing; the flow's runs work again",
                )
            )
        if run.kind is RunKind.BULK:
            await self.notifier.emit(
                self._event(
                    run,
                    EventKind.BULK_LOAD_FINISHED,
                    f"run|{run.id}|bulk",
                    f"bulk load finished ({run.status.value})",
                    todo="check the counts; retry failed records with POST /api/runs/<run>/retry, "
                    "then start the solution's scheduled flows again",
                    runbook="§1 Runs",
                )
            )

    async def _flow_episode(self, run: RunRecord) -> str | None:
        """'failed' when this run starts a failure episode of its flow, 'recovered' when it
        ends one, else None; the flow's health row is written by ETag, so of two hosts
        finishing runs at once only one sees the change."""
        store = self.notifier.store
        for _ in range(5):
            health = await store.get_flow(run.flow_id)
            if run.status is RunStatus.FAILED and health.status == "ok":
                new = FlowHealth(
                    flow_id=run.flow_id,
                    status="failing",
                    since=run.finished_at,
                    episode=health.episode + 1,
                    etag=health.etag,
                )
                change = "failed"
            elif run.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL) and (
                health.status == "failing"
            ):
                new = health.model_copy(update={"status": "ok", "since": run.finished_at})
                change = "recovered"
            else:
                return None
            try:
                await store.replace_flow(new)
            except StaleWrite:
                continue
            return change
        return None
