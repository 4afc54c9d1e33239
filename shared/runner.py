"""The flow-runs worker's logic: take one FlowRunMessage, run the engine, end the run."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from shared.connectors.errors import ConnectorError
from shared.engine import Engine, RunContext
from shared.errors import ConflictError, ErrorCategory, NotFoundError
from shared.flows.models import RunErrorEntry, RunStatus
from shared.flows.service import FlowService, RunEnd
from shared.messages import FlowRunMessage, RunStep

log = logging.getLogger(__name__)


async def handle_flow_run(
    service: FlowService, engine: Engine, message: FlowRunMessage, now: datetime
) -> None:
    """Raises when the engine fails, so the queue redelivers (and finally poisons) it."""
    try:
        run = await service.runs.get(message.run_id)
    except NotFoundError:
        log.error(
            "flow-runs: run %s of %s does not exist; message dropped",
            message.run_id,
            message.flow_id,
        )
        return
    extra = {"flow_id": run.flow_id, "run_id": run.id}
    if run.status.is_final:
        # A redelivery after we recorded the end but before the flow moved on: finish that.
        await service.finish_run(run.id, RunEnd(status=run.status), now)
        return
    try:
        flow = await service.renew(run.id, run.flow_id, now)
    except ConflictError:
        log.warning(
            "run %s no longer holds its flow (recovered after its lease expired); message dropped",
            run.id,
            extra=extra,
        )
        return
    if await _wait_for_sleep_end(service, message, now):
        return
    if message.step is RunStep.START:
        run = await service.record_attempt(run)
    entry = service.catalog.get(run.flow_id)
    ctx = RunContext(entry=entry, flow=flow, run=run, now=now, message=message)
    try:
        result = await engine.execute(ctx)
    except Exception as exc:
        run = await service.runs.get(run.id)
        category = exc.category if isinstance(exc, ConnectorError) else ErrorCategory.INTERNAL
        await service.record_attempt(run, error=_describe(exc), category=category)
        log.exception("run %s: step %s failed", run.id, message.step.value, extra=extra)
        raise
    if not result.status.is_final:
        # The flow service, not the engine, shows progress and queues the next step.
        if result.progress:
            await service.record_progress(
                run.id,
                counts=result.counts if result.counts.read else None,
                message=result.message or None,
                errors=result.errors,
            )
        if result.next_step is not None:
            await service.continue_run(result.next_step, result.next_delay, kind=run.kind)
        return
    end = RunEnd(
        status=result.status,
        message=result.message,
        counts=result.counts,
        errors=tuple(result.errors),
        query_starts=result.query_starts,
    )
    await service.finish_run(run.id, end, now)
    log.info("run %s ended %s", run.id, result.status.value, extra=extra)


async def handle_flow_run_poison(
    service: FlowService, message: FlowRunMessage, now: datetime
) -> None:
    """A flow-runs message that exhausted its retries: the run is recorded as failed."""
    try:
        run = await service.runs.get(message.run_id)
    except NotFoundError:
        log.error("flow-runs-poison: run %s of %s does not exist", message.run_id, message.flow_id)
        return
    last = run.last_error or "no error was recorded"
    tries = (
        f"after {run.attempts} attempts"
        if message.step is RunStep.START
        else f"when its {message.step.value} step failed on every delivery"
    )
    text = f"gave up {tries}: the flow-runs message moved to flow-runs-poison; last error: {last}"
    category = run.last_error_category or _category_of(last)
    error = RunErrorEntry(category=category, message=text, at=now)
    await service.finish_run(
        run.id, RunEnd(status=RunStatus.FAILED, message=text, errors=(error,)), now
    )
    log.error("run %s failed: %s", run.id, text, extra={"flow_id": run.flow_id, "run_id": run.id})


async def _wait_for_sleep_end(service: FlowService, message: FlowRunMessage, now: datetime) -> bool:
    """Inside a sleep window no step runs (no page is read, no run ends, so query starts stays):
    the message goes back on the queue until the window ends (shared/schedule/gate.py), and
    the run's lease is stretched past it, so the scheduler does not take the sleeping run for
    a dead one. A step already running when the window opens finishes."""
    gate = service.sleep
    until = await gate.sleeping_until(now) if gate is not None else None
    if gate is None or until is None:
        return False
    await service.renew(message.run_id, message.flow_id, until)  # lease: until + lease time
    await service.queue.send_message(
        message.model_dump_json(), visibility_timeout=gate.hide_for(now, until)
    )
    log.info(
        "run %s: %s step waits for the sleep window to end at %s",
        message.run_id,
        message.step.value,
        until.isoformat(),
        extra={"flow_id": message.flow_id, "run_id": message.run_id},
    )
    return True


def _describe(exc: Exception) -> str:
    """The last error as the run shows it; its category travels apart
    (`RunRecord.last_error_category`), so the poison handler can tell a dead connection
    (which the "stop on connection failure" policy acts on) from a bug."""
    if isinstance(exc, ConnectorError):
        return f"[{exc.category.value}] {exc}"
    return f"{type(exc).__name__}: {exc}"


def _category_of(last_error: str) -> ErrorCategory:
    """The category of a run row written before categories travelled apart."""
    if last_error.startswith("["):
        with contextlib.suppress(ValueError):
            return ErrorCategory(last_error[1 : last_error.index("]")])
    return ErrorCategory.INTERNAL
