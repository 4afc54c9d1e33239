"""The record-upserts worker's logic: one RecordMessage → one settled outcome, or the message
put back on the queue with a delay (dependency wait, 429 with Retry-After, connection
failure) instead of sleeping inside the invocation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from azure.storage.queue.aio import QueueClient

from shared.connectors.errors import ConnectorError
from shared.engine.connections import ConnectorPool
from shared.engine.decisions import Action
from shared.engine.plan import plan_for
from shared.engine.upsert import RecordSync, Retry, Settled, classify, utcnow
from shared.errors import DefinitionError, ErrorCategory, NotFoundError
from shared.flows.catalog import Catalog
from shared.messages import RecordMessage, record_message_text
from shared.schedule.gate import SleepGate
from shared.storage.binding_store import BindingStore
from shared.storage.outcome_store import Outcome, OutcomeStore

log = logging.getLogger("shuttle.engine")

MAX_RETRIES = 8  # transient failures, with growing delays (or Retry-After)
MAX_WAITS = 10  # dependency waits: 5 s, 10 s, 20 s … capped at 120 s — about 12 minutes
MAX_VISIBILITY_DELAY = 3600


def wait_delay(waits: int, base: float = 5.0) -> float:
    return min(base * 2**waits, 120.0)


class RecordWorker:
    def __init__(
        self,
        catalog: Catalog,
        connectors: ConnectorPool,
        bindings: BindingStore,
        outcomes: OutcomeStore,
        queue: QueueClient,
        *,
        max_retries: int = MAX_RETRIES,
        max_waits: int = MAX_WAITS,
        wait_base: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
        sleep: SleepGate | None = None,
    ) -> None:
        self.catalog = catalog
        self.connectors = connectors
        self.bindings = bindings
        self.outcomes = outcomes
        self.queue = queue
        self.max_retries = max_retries
        self.max_waits = max_waits
        self.wait_base = wait_base
        self.clock = clock
        self.sleep = sleep  # inside a sleep window records wait (shared/schedule/gate.py)

    async def handle(self, message: RecordMessage) -> Outcome | None:
        """The settled outcome, or None when the record was put back to wait or was already
        settled by an earlier delivery."""
        extra = {
            "flow_id": message.flow_id,
            "run_id": message.run_id,
            "record_id": message.record_id,
        }
        if self.sleep is not None and await self.sleep.hold_record(self.queue, message):
            return None
        status = await self.outcomes.status(message.run_id, message.record_id)
        if status is not None and status.is_final:
            log.info(
                "record %s already %s in run %s; duplicate delivery ignored",
                message.record_id,
                status.value,
                message.run_id,
                extra=extra,
            )
            return None
        try:
            plan = plan_for(self.catalog, message.flow_id)
        except (DefinitionError, NotFoundError) as exc:
            return await self._settle(
                message, Settled(Outcome.FAILED, category=ErrorCategory.INTERNAL, message=str(exc))
            )
        try:
            # Inside the try: a system without its settings fails each record with an auth
            # error naming the setting, not as an anonymous crash in the poison queue.
            source = await self.connectors.get(plan.source_system)
            target = await self.connectors.get(plan.target_system)
            result = await RecordSync(plan, source, target, self.bindings, self.clock).sync(message)
        except ConnectorError as exc:
            result = classify(exc, message.retries, self.max_retries)
        if isinstance(result, Retry):
            return await self._retry(message, result)
        return await self._settle(message, result)

    async def _settle(self, message: RecordMessage, result: Settled) -> Outcome:
        # The row keeps the first write's outcome when deliveries overlap (outcome_store.py).
        held = await self.outcomes.settle(
            message.run_id,
            message.record_id,
            result.outcome,
            target_id=result.target_id,
            category=result.category,
            field_name=result.field,
            message=result.message,
            note=result.note,
            action=result.action.value if result.action else None,
            changes=result.changes,
        )
        if held is not result.outcome:
            log.info(
                "record %s: %s by this delivery, but another delivery already settled it %s",
                message.record_id,
                result.outcome.value,
                held.value,
                extra={
                    "flow_id": message.flow_id,
                    "run_id": message.run_id,
                    "record_id": message.record_id,
                },
            )
            return held
        level = logging.WARNING if result.outcome is Outcome.FAILED else logging.DEBUG
        log.log(
            level,
            "record %s: %s%s",
            message.record_id,
            result.outcome.value,
            f" ({result.category}: {result.message})" if result.message else "",
            extra={
                "flow_id": message.flow_id,
                "run_id": message.run_id,
                "record_id": message.record_id,
            },
        )
        return result.outcome

    async def _retry(self, message: RecordMessage, retry: Retry) -> Outcome | None:
        if retry.wait and message.dry_run:
            # A dry run writes no parent, so waiting would only end in a failure: the plan
            # says what the record waits for.
            return await self._settle(message, Settled(
                Outcome.SKIPPED, category=ErrorCategory.DEPENDENCY, field=retry.field,
                note=f"waiting for a dependency: {retry.reason}",
                action=Action.WAITING_FOR_DEPENDENCY))  # fmt: skip
        if retry.wait:
            if message.waits >= self.max_waits:
                reason = retry.reason.removesuffix("; the record waits for it")
                text = (f"{reason}; gave up after waiting {message.waits} times: sync the "
                        "parent, then retry the run")  # fmt: skip
                return await self._settle(
                    message,
                    Settled(
                        Outcome.FAILED,
                        category=ErrorCategory.DEPENDENCY,
                        field=retry.field,
                        message=text,
                    ),
                )
            delay = wait_delay(message.waits, self.wait_base)
            again = message.model_copy(update={"waits": message.waits + 1})
        else:
            delay = retry.delay
            again = message.model_copy(update={"retries": message.retries + 1})
        await self.outcomes.note_wait(
            message.run_id, message.record_id, retry.category, retry.reason
        )
        await self.queue.send_message(
            record_message_text(again),
            visibility_timeout=max(0, min(round(delay), MAX_VISIBILITY_DELAY)),
        )
        log.info(
            "record %s waits %.0f s (%s): %s",
            message.record_id,
            delay,
            retry.category.value,
            retry.reason,
            extra={
                "flow_id": message.flow_id,
                "run_id": message.run_id,
                "record_id": message.record_id,
            },
        )
        return None

    async def handle_poison(self, message: RecordMessage) -> None:
        """A record message that exhausted its deliveries (a bug or a crash each time): the
        record fails on its run instead of vanishing into the poison queue."""
        status = await self.outcomes.status(message.run_id, message.record_id)
        if status is not None and status.is_final:
            return
        text = (
            "gave up after 5 deliveries: the worker failed on this record each time "
            "(see the function logs for the record id); retry the run once fixed"
        )
        await self._settle(
            message, Settled(Outcome.FAILED, category=ErrorCategory.INTERNAL, message=text)
        )
