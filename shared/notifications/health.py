"""What /api/status shows of the connection monitor's last checks and of alert delivery."""

from __future__ import annotations

from shared.api import models as api
from shared.notifications.monitor import STORAGE
from shared.notifications.service import Notifications
from shared.notifications.store import Check


def _view(check: Check, configured: bool) -> api.ConnectionStatus:
    return api.ConnectionStatus(
        system=check.system,
        configured=configured,
        status=check.status,
        checked_at=check.checked_at,
        message=check.message,
        latency_ms=check.latency_ms,
        since=check.since,
        budget_remaining=check.budget,
    )


async def health_status(status: api.Status, notifications: Notifications) -> api.Status:
    checks = await notifications.store.checks()
    connections = [
        _view(checks[c.system], c.configured) if c.system in checks else c
        for c in status.connections
    ]
    storage = checks.get(STORAGE)
    config = await notifications.notifier.current()
    to, cc, bcc = config.recipients(connection=True)
    if not notifications.notifier.mailer.configured:
        email = "not_configured"
    elif not (to or cc or bcc):
        email = "no_recipients"
    else:
        email = "configured"
    failed = [
        api.FailedNotificationView(**f.model_dump()) for f in await notifications.store.failures()
    ]
    return status.model_copy(
        update={
            "connections": connections,
            "storage_check": _view(storage, True)
            if storage
            else api.ConnectionStatus(system=STORAGE, configured=True),
            "notifications": api.NotificationsStatus(
                mode=config.mode.value, email=email, webhooks=len(config.webhooks), failed=failed
            ),
        }
    )
