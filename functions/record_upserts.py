"""Queue `record-upserts`: a chunk of one run's records per message; its poison queue's
handler splits a chunk that exhausted its deliveries into single records, and records a
single record that did as failed on its run."""

from __future__ import annotations

import logging

import azure.functions as func
from pydantic import ValidationError

from shared.messages import (
    RECORD_UPSERTS_POISON_QUEUE,
    RECORD_UPSERTS_QUEUE,
    RecordChunk,
    parse_record_upserts,
)
from shared.queue_names import trigger_queue_name
from shared.runtime import get_services

bp = func.Blueprint()
log = logging.getLogger(__name__)


def _parse(msg: func.QueueMessage, queue: str) -> RecordChunk | None:
    try:
        return parse_record_upserts(msg.get_body())
    except ValidationError as exc:
        log.error(
            "%s: malformed message %s dropped: %s; body: %r",
            queue,
            msg.id,
            exc,
            msg.get_body()[:2000],
        )
        return None


@bp.queue_trigger(
    arg_name="msg",
    queue_name=trigger_queue_name(RECORD_UPSERTS_QUEUE),
    connection="AzureWebJobsStorage",
)
async def record_upserts_worker(msg: func.QueueMessage) -> None:
    message = _parse(msg, RECORD_UPSERTS_QUEUE)
    if message is not None:
        services = await get_services()
        await services.records.handle_chunk(message)


@bp.queue_trigger(
    arg_name="msg",
    queue_name=trigger_queue_name(RECORD_UPSERTS_POISON_QUEUE),
    connection="AzureWebJobsStorage",
)
async def record_upserts_poison(msg: func.QueueMessage) -> None:
    message = _parse(msg, RECORD_UPSERTS_POISON_QUEUE)
    if message is not None:
        services = await get_services()
        await services.records.handle_poison(message)
