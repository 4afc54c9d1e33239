"""The same alerts as webhooks: Slack incoming webhooks (`text` + blocks), Microsoft Teams
(an Adaptive Card message, as Teams workflows' "when a webhook request is received"
accepts), or plain JSON for anything else."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from shared.notifications.compose import Message
from shared.notifications.config import Webhook, WebhookFormat
from shared.notifications.events import Event
from shared.notifications.mailer import DeliveryError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
SLACK_TEXT_LIMIT = 2900  # a section block takes at most 3000 characters


def payload(fmt: WebhookFormat, event: Event, message: Message, deployment: str) -> dict[str, Any]:
    if fmt is WebhookFormat.SLACK:
        return {
            "text": message.subject,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": f"```{message.text[:SLACK_TEXT_LIMIT]}```"},
                },
            ],
        }
    if fmt is WebhookFormat.TEAMS:
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {
                    "type": "TextBlock",
                    "text": message.subject,
                    "weight": "Bolder",
                    "size": "Medium",
                    "wrap": True,
                },
                {"type": "TextBlock", "text": message.text, "wrap": True, "fontType": "Monospace"},
            ],
        }
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": card,
                },
            ],
        }
    return {
        "event": event.kind.value,
        "deployment": deployment,
        "solution": event.solution,
        "flow_id": event.flow_id,
        "run_id": event.run_id,
        "system": event.system,
        "at": event.at.isoformat(),
        "subject": message.subject,
        "text": message.text,
        "errors": [e.model_dump(mode="json") for e in event.errors],
    }


class WebhookSender:
    def __init__(
        self,
        *,
        attempts: int = 3,
        backoff_s: Sequence[float] = (1.0, 3.0),
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.http = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def send(self, hook: Webhook, body: dict[str, Any]) -> None:
        """Raises DeliveryError naming the host only (a webhook URL's path is its secret)."""
        last = ""
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self.http.post(hook.url, json=body)
                if response.status_code < 300:
                    return
                last = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in (408, 429):
                    break  # the receiver refuses this payload: retrying cannot help
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            log.warning(
                "webhook %s failed (attempt %d of %d): %s", hook.host, attempt, self.attempts, last
            )
            if attempt < self.attempts:
                await self.sleep(self.backoff_s[min(attempt - 1, len(self.backoff_s) - 1)])
        raise DeliveryError(f"webhook {hook.host} ({hook.format.value}) failed: {last}")
