"""Sends an Event to whoever the settings name, once across every host: the mode decides
whether it goes at all, a claim row decides which host sends it, and what cannot be
delivered is recorded (shown by /api/status) instead of failing the caller."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from shared.notifications.compose import Redactor, compose, deployment_name
from shared.notifications.config import NotificationSettings, defaults
from shared.notifications.events import Event, EventKind, wanted
from shared.notifications.mailer import DeliveryError, Envelope, Mailer
from shared.notifications.store import FailedNotification, NotifyStore
from shared.notifications.webhooks import WebhookSender, payload
from shared.settings import Settings

log = logging.getLogger(__name__)

CONNECTION_EVENTS = (EventKind.CONNECTION_FAILED, EventKind.CONNECTION_RECOVERED)


def _ids(event: Event) -> dict[str, str]:
    """The flow and run an alert is about, for the log records (empty for connections)."""
    return {k: v for k, v in (("flow_id", event.flow_id), ("run_id", event.run_id)) if v}


class Notifier:
    def __init__(
        self,
        settings: Settings,
        store: NotifyStore,
        *,
        mailer: Mailer | None = None,
        webhooks: WebhookSender | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        deployment: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.mailer = mailer or Mailer(settings)
        self.webhooks = webhooks or WebhookSender()
        self.clock = clock
        self.deployment = deployment or deployment_name()
        self.redact = Redactor(settings)

    async def aclose(self) -> None:
        await self.webhooks.aclose()

    async def current(self) -> NotificationSettings:
        return await self.store.get_settings(defaults(self.settings))

    async def emit(self, event: Event, *, force: bool = False) -> bool:
        """True when this host claimed the event and tried to deliver it. Never raises for a
        delivery failure; `force` skips the mode (the daily report decides for itself)."""
        config = await self.current()
        if not force and not wanted(config.mode, event):
            return False
        if not await self.store.claim(event.key, self.clock()):
            log.info("alert %s already sent by another host", event.key, extra=_ids(event))
            return False
        await self.deliver(event, config)
        return True

    def _masked(self, event: Event) -> Event:
        """The event with every secret of the app settings masked, before any channel sees
        it (the JSON webhook carries the errors as they are)."""
        r = self.redact
        errors = [
            e.model_copy(
                update={"message": r(e.message), "record": r(e.record) if e.record else e.record}
            )
            for e in event.errors
        ]
        facts = [(k, r(v)) for k, v in event.facts]
        update = {
            "errors": errors,
            "facts": facts,
            "details": r(event.details),
            "what": r(event.what),
        }
        return event.model_copy(update=update)

    async def deliver(self, event: Event, config: NotificationSettings) -> None:
        event = self._masked(event)
        message = compose(event, self.deployment, self.redact)
        to, cc, bcc = config.recipients(connection=event.kind in CONNECTION_EVENTS)
        envelope = Envelope(to=to, cc=cc, bcc=bcc)
        if envelope.recipients and self.mailer.configured:
            try:
                await self.mailer.send(message, envelope)
                log.info(
                    "alert %s mailed to %d recipients",
                    event.key,
                    len(envelope.recipients),
                    extra=_ids(event),
                )
            except DeliveryError as exc:
                await self._failed(event, "email", str(exc))
        elif envelope.recipients:
            log.warning(
                "alert %s not mailed: SHUTTLE_SMTP_HOST is not set", event.key, extra=_ids(event)
            )
        for hook in config.webhooks:
            try:
                await self.webhooks.send(
                    hook, payload(hook.format, event, message, self.deployment)
                )
            except DeliveryError as exc:
                await self._failed(event, f"webhook {hook.host}", str(exc))

    async def _failed(self, event: Event, channel: str, error: str) -> None:
        log.error(
            "alert %s could not be delivered by %s: %s",
            event.key,
            channel,
            error,
            extra=_ids(event),
        )
        try:
            await self.store.record_failure(
                FailedNotification(
                    at=self.clock(),
                    event=event.key,
                    channel=channel,
                    error=self.redact(error)[:500],
                )
            )
        except Exception:
            log.exception("could not record the failed notification %s", event.key)
