"""The connection monitor: one authenticated light call per configured system (Creatio: log
in + service document; Intacct: getAPISession; Dataverse: token + WhoAmI) and one storage
read, each remembered in Table storage; an alert on every change between ok and failing."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.connectors.errors import ConnectorError
from shared.connectors.retry import RetryPolicy
from shared.flows.catalog import Catalog
from shared.notifications.events import Event, EventKind
from shared.notifications.notifier import Notifier
from shared.notifications.store import Check, Health
from shared.settings import Settings
from shared.storage.entities import StaleWrite

log = logging.getLogger(__name__)

STORAGE = "storage"
# A check is one call: two quick attempts (a blip is not an outage), never the minutes of
# retries a sync call may spend.
CHECK_RETRY = RetryPolicy(attempts=2, base_delay_s=0.5, max_delay_s=2.0, total_s=20.0)
CHECK_TIMEOUT_S = 15.0
NAMES = {"creatio": "Creatio", "intacct": "Intacct", "dataverse": "Dataverse", STORAGE: "Storage"}


@dataclass(frozen=True)
class Probe:
    ok: bool
    message: str | None = None
    budget: int | None = None


class Checker(Protocol):
    async def __call__(self, system: str) -> Probe: ...


class ClientChecker:
    """Checks with the real connector clients (built once, so sessions and tokens are
    reused between ticks as a sync worker reuses them)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._clients: dict[str, Any] = {}

    def _client(self, system: str) -> Any:
        client = self._clients.get(system)
        if client is not None:
            return client
        over = {"retry": CHECK_RETRY, "timeout_s": CHECK_TIMEOUT_S}
        if system == "creatio":
            from shared.connectors.creatio.client import CreatioClient
            from shared.connectors.creatio.config import CreatioConfig

            client = CreatioClient(CreatioConfig.from_settings(self.settings, **over))
        elif system == "intacct":
            from shared.connectors.intacct.client import IntacctClient
            from shared.connectors.intacct.config import IntacctConfig

            client = IntacctClient(IntacctConfig.from_settings(self.settings, **over))
        elif system == "dataverse":
            from shared.connectors.dataverse.client import DataverseClient
            from shared.connectors.dataverse.config import DataverseConfig

            client = DataverseClient(DataverseConfig.from_settings(self.settings, **over))
        else:
            raise ValueError(f"no check for system '{system}'")
        self._clients[system] = client
        return client

    async def __call__(self, system: str) -> Probe:
        try:
            client = self._client(system)
            await client.check()
        except ConnectorError as exc:
            return Probe(ok=False, message=f"[{exc.category.value}] {exc}")
        budget = None
        protection = getattr(client, "protection", None)
        if protection is not None and isinstance(protection.budget, int):
            budget = protection.budget  # from x-ms-ratelimit-burst-remaining-xrm-requests
        return Probe(ok=True, budget=budget)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


@dataclass
class TickReport:
    checks: dict[str, Check]
    alerts: list[str]


@dataclass(eq=False, repr=False)  # compared by identity; no repr that could show settings
class ConnectionMonitor:
    settings: Settings
    catalog: Catalog
    notifier: Notifier
    checker: Checker
    storage_probe: Callable[[], Awaitable[None]]
    _: KW_ONLY
    timer: Callable[[], float] = time.perf_counter

    def systems(self) -> list[str]:
        found = {s.crm.value for s in self.catalog.solutions.values()}
        found |= {s.erp.value for s in self.catalog.solutions.values()}
        return sorted(found)

    async def tick(self, now: datetime) -> TickReport:
        """Never raises: a failure of one check (or of the alerting) is logged and the tick
        goes on with the next system."""
        report = TickReport(checks={}, alerts=[])
        for system in [*self.systems(), STORAGE]:
            try:
                status, message, budget, latency = await self._probe(system)
                check, alert = await self._record(system, status, message, budget, latency, now)
                report.checks[system] = check
                if alert is not None:
                    report.alerts.append(alert.key)
                    await self.notifier.emit(alert)
            except Exception:
                log.exception("connection monitor: checking %s failed", system)
        return report

    async def _probe(self, system: str) -> tuple[Health, str | None, int | None, int | None]:
        if system != STORAGE and not self.settings.connection_configured(system):
            return "unchecked", "not configured: its app settings are missing", None, None
        started = self.timer()
        if system == STORAGE:
            try:
                await self.storage_probe()
                probe = Probe(ok=True)
            except Exception as exc:
                probe = Probe(ok=False, message=f"{type(exc).__name__}: {exc}"[:500])
        else:
            probe = await self.checker(system)
        latency = int((self.timer() - started) * 1000)
        message = self.notifier.redact(probe.message)[:1000] if probe.message else None
        return ("ok" if probe.ok else "failing"), message, probe.budget, latency

    async def _record(
        self,
        system: str,
        status: Health,
        message: str | None,
        budget: int | None,
        latency: int | None,
        now: datetime,
    ) -> tuple[Check, Event | None]:
        store = self.notifier.store
        for _ in range(5):
            last = await store.get_check(system)
            new = last.model_copy(
                update={
                    "status": status,
                    "checked_at": now,
                    "latency_ms": latency,
                    "message": message,
                    "budget": budget,
                }
            )
            kind = None
            if status != last.status:
                new.since = now
                if status == "failing":
                    new.episode = last.episode + 1
                    kind = EventKind.CONNECTION_FAILED
                elif status == "ok" and last.status == "failing":
                    kind = EventKind.CONNECTION_RECOVERED
            try:
                written = await store.replace_check(new)
            except StaleWrite:
                continue  # another host checked at the same time: judge against its result
            return written, (self._event(kind, written) if kind else None)
        raise RuntimeError(f"the {system} check row keeps changing under us")

    def _event(self, kind: EventKind, check: Check) -> Event:
        name = NAMES.get(check.system, check.system)
        solutions = sorted(
            s.id
            for s in self.catalog.solutions.values()
            if check.system in (s.crm.value, s.erp.value)
        )
        facts = [
            ("status", check.status),
            ("since", f"{check.since:%Y-%m-%d %H:%M:%S} UTC"),
            ("used by", ", ".join(solutions) or "Shuttle's own state"),
        ]
        if check.message:
            facts.append(("message", check.message))
        if kind is EventKind.CONNECTION_FAILED:
            state, what = "failed", f"{name} connection failing"
            todo = (
                f"check {name}'s status page, the URL and credential settings and that "
                "the egress IP is allowed; runs that read or write it fail or wait until "
                "it answers. You get one message when it recovers"
            )
            runbook = "§5.3 The connection monitor, and §2 `connection` / `auth`"
        else:
            state, what = "recovered", f"{name} connection recovered"
            todo = (
                "retry the failed runs of the outage (POST /api/runs/<run>/retry) and start "
                "flows their error policy stopped"
            )
            runbook = "§5.3 The connection monitor"
        return Event(
            kind=kind,
            key=f"connection|{check.system}|{check.episode}|{state}",
            at=check.checked_at or check.since,
            what=what,
            system=check.system,
            facts=facts,
            todo=todo,
            runbook=runbook,
        )
