"""Everything notifications need, built once per worker next to the flow service
(shared/runtime.py), and the control API's handlers for them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from azure.data.tables.aio import TableServiceClient
from pydantic import ValidationError

from shared.api.invalid import request_error
from shared.errors import RequestValidationError
from shared.flows.catalog import Catalog
from shared.flows.service import FlowService
from shared.notifications.config import NotificationSettings, NotificationSettingsPatch
from shared.notifications.monitor import Checker, ClientChecker, ConnectionMonitor
from shared.notifications.notifier import Notifier
from shared.notifications.report import DailyReport
from shared.notifications.runs import RunAlerts
from shared.notifications.store import NotifyStore
from shared.settings import Settings


@dataclass
class Notifications:
    store: NotifyStore
    notifier: Notifier
    monitor: ConnectionMonitor
    report: DailyReport
    checker: Checker

    @classmethod
    async def create(
        cls,
        settings: Settings,
        catalog: Catalog,
        tables: TableServiceClient,
        flows: FlowService,
        *,
        checker: Checker | None = None,
        notifier: Notifier | None = None,
    ) -> Notifications:
        store = await NotifyStore.open(tables, settings.table_prefix)
        notifier = notifier or Notifier(settings, store)
        flows.listeners.append(RunAlerts(notifier))
        checker = checker or ClientChecker(settings)

        async def storage_probe() -> None:
            # A read of the flows table: what every trigger needs first.
            async for _ in flows.flows.table.list_entities(results_per_page=1):
                break

        monitor = ConnectionMonitor(settings, catalog, notifier, checker, storage_probe)
        return cls(
            store=store,
            notifier=notifier,
            monitor=monitor,
            report=DailyReport(notifier, flows),
            checker=checker,
        )

    async def close(self) -> None:
        closer = getattr(self.checker, "aclose", None)
        if closer is not None:
            await closer()
        await self.notifier.aclose()
        await self.store.close()

    # -- control API: GET / PATCH /api/settings/notifications ---------------------------------
    async def get_settings(self) -> tuple[int, NotificationSettings]:
        return 200, await self.notifier.current()

    async def patch_settings(self, body: bytes) -> tuple[int, NotificationSettings]:
        from shared.api.control import parse_body

        if body.strip() and not isinstance(_json_or_none(body), dict):
            raise RequestValidationError("body: a JSON object of the fields to change")
        patch = parse_body(NotificationSettingsPatch, body)
        try:
            value = patch.apply(await self.notifier.current())
        except ValidationError as exc:  # e.g. `"mode": null`
            raise request_error(exc) from None
        await self.store.put_settings(value)
        return 200, value


def _json_or_none(body: bytes) -> object:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}  # parse_body answers it with invalid_json
