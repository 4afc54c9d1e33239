"""Queue `flow-runs`: one message per step of a run (start, each page, finish); its poison
queue's handler records a run whose message exhausted its retries as failed, so nothing
fails silently."""

from __future__ import annotations

import logging

import azure.functions as func
from pydantic import ValidationError

from shared.flows.models import utcnow
from shared.messages import FLOW_RUNS_POISON_QUEUE, FLOW_RUNS_QUEUE, FlowRunMessage
from shared.queue_names import trigger_queue_name
from shared.runner import handle_flow_run, handle_flow_run_poison
from shared.runtime import get_services

bp = func.Blueprint()
log = logging.getLogger(__name__)


def _parse(msg: func.QueueMessage) -> FlowRunMessage | None:
    try:
        return FlowRunMessage.model_validate_json(msg.get_body())
    except ValidationError as exc:
        # Retrying cannot fix a malformed message; log it whole so it can be replayed by hand.
        log.error(
            "%s: malformed message %s dropped: %s; body: %r",
            FLOW_RUNS_QUEUE,
            msg.id,
            exc,
            msg.get_body()[:2000],
        )
        return None


@bp.queue_trigger(
    arg_name="msg", queue_name=trigger_queue_name(FLOW_RUNS_QUEUE), connection="AzureWebJobsStorage"
)
async def flow_runs_worker(msg: func.QueueMessage) -> None:
    message = _parse(msg)
    if message is not None:
        services = await get_services()
        await handle_flow_run(services.flows, services.engine, message, utcnow())


@bp.queue_trigger(
    arg_name="msg",
    queue_name=trigger_queue_name(FLOW_RUNS_POISON_QUEUE),
    connection="AzureWebJobsStorage",
)
async def flow_runs_poison(msg: func.QueueMessage) -> None:
    message = _parse(msg)
    if message is not None:
        services = await get_services()
        await handle_flow_run_poison(services.flows, message, utcnow())
