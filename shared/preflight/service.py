"""The preflight: per enabled solution, read each live system's metadata and report what
the flows need but the system lacks (needs.py, compare.py); and the start gate.

Why the gate reads the last result instead of checking live on every start: a start must
stay fast and must not fail because a vendor is slow. A start reads one Table row (the last
preflight of the flow's solution); only when that row names problems for this flow does it
check that solution again, live, so fixing the system and pressing start is enough. A
solution never checked starts as before (docs/deploy.md: run `shuttle check` first)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from shared.connectors.errors import ConnectorError
from shared.connectors.metadata import ObjectInfo
from shared.errors import ConflictError, ErrorCategory
from shared.flows.catalog import Catalog
from shared.preflight.compare import compare
from shared.preflight.model import (
    PreflightReport,
    Problem,
    SolutionCheck,
    SystemCheck,
    SystemStatus,
)
from shared.preflight.needs import ObjectNeed, solution_needs
from shared.preflight.store import PreflightStore

log = logging.getLogger(__name__)
# system -> the connector's raw client (CreatioClient, IntacctClient, DataverseClient)
ClientOf = Callable[[str], Awaitable[Any]]
UNREACHABLE = ("auth", "connection", "error", "not_configured")


async def read_objects(system: str, client: Any, names: list[str]) -> dict[str, ObjectInfo | None]:
    if system == "creatio":
        from shared.connectors.creatio.metadata import read_objects as creatio_objects

        return dict(await creatio_objects(client))  # one document holds every object
    if system == "dataverse":
        from shared.connectors.dataverse.metadata import read_table

        # One table per task: the client's own limiter paces them (service protection).
        tables = await asyncio.gather(*(read_table(client, name) for name in names))
        return dict(zip(names, tables, strict=True))
    from shared.connectors.intacct.metadata import read_objects as intacct_objects

    return await intacct_objects(client, names)


_STATUS_OF: dict[ErrorCategory, SystemStatus] = {
    ErrorCategory.AUTH: "auth",
    ErrorCategory.CONNECTION: "connection",
    ErrorCategory.RATE_LIMIT: "connection",
}


def _failure(system: str, exc: Exception, client: Any = None) -> SystemCheck:
    if isinstance(exc, ConnectorError):
        status = _STATUS_OF.get(exc.category, "error")
        message = exc.message
        entity = getattr(getattr(client, "config", None), "entity_id", None)
        if system == "intacct" and status == "auth" and entity:
            # A multi-entity company refuses the sign-in to an entity it does not have.
            message += (
                f" — INTACCT_ENTITY_ID is '{entity}': check that the entity exists "
                "and that the user may sign in to it"
            )
        return SystemCheck(system=system, status=status, message=message)
    return SystemCheck(system=system, status="error", message=f"{type(exc).__name__}: {exc}")


class PreflightService:
    def __init__(
        self,
        catalog: Catalog,
        client_of: ClientOf,
        store: PreflightStore | None = None,
        configured: Callable[[str], bool] = lambda system: True,
    ) -> None:
        self.catalog = catalog
        self.client_of = client_of
        self.store = store
        self.configured = configured

    async def _system(
        self, system: str, needs: list[ObjectNeed], seen: dict[str, Any]
    ) -> tuple[SystemCheck, list[Problem]]:
        if not self.configured(system):
            return SystemCheck(
                system=system,
                status="not_configured",
                message=f"{system} has no connection settings",
            ), []
        names = sorted({n.object for n in needs})
        # Creatio's $metadata is read once per run; the others once per set of objects.
        key = system if system == "creatio" else f"{system}:{','.join(names)}"
        if key not in seen:
            client = None
            try:
                client = await self.client_of(system)
                seen[key] = await read_objects(system, client, names)
            except Exception as exc:  # every failure is reported on its system, none raised
                log.warning("preflight: %s metadata could not be read: %s", system, exc)
                seen[key] = _failure(system, exc, client)
        found = seen[key]
        if isinstance(found, SystemCheck):
            return found, []
        problems = [p for need in needs for p in compare(need, found.get(need.object))]
        status = "problems" if problems else "ok"
        return SystemCheck(system=system, status=status, objects=len(names)), problems

    async def check_solution(self, solution_id: str, seen: dict[str, Any]) -> SolutionCheck:
        needs = solution_needs(self.catalog.solutions[solution_id])
        systems: list[SystemCheck] = []
        problems: list[Problem] = []
        for system in sorted({s for s, _ in needs}):
            check, found = await self._system(
                system, [n for (s, _), n in needs.items() if s == system], seen
            )
            systems.append(check)
            problems += found
        ok = not problems and all(s.status == "ok" for s in systems)
        return SolutionCheck(solution=solution_id, ok=ok, systems=systems, problems=problems)

    async def run(self, now: datetime, solutions: list[str] | None = None) -> PreflightReport:
        seen: dict[str, Any] = {}
        checks = [
            await self.check_solution(sid, seen)
            for sid in (solutions or list(self.catalog.solutions))
        ]
        if self.store is not None:
            try:
                await self.store.save(checks)
            except Exception as exc:
                log.warning("preflight: result not cached: %s", exc)
        return PreflightReport(checked_at=now, ok=all(c.ok for c in checks), solutions=checks)

    async def gate(self, flow_id: str, now: datetime) -> None:
        """Refuse (409) to start a flow whose needs the last preflight found missing and a
        fresh check of its solution still finds missing."""
        if self.store is None:
            return
        entry = self.catalog.get(flow_id)
        solution = entry.solution.id
        cached = await self.store.load(solution)
        if cached is None or not _blocking(cached, flow_id):
            return
        fresh = (await self.run(now, [solution])).solutions[0]
        unreachable = {s.system for s in fresh.systems if s.status in UNREACHABLE}
        problems = _blocking(fresh, flow_id) + [
            p for p in _blocking(cached, flow_id) if p.system in unreachable
        ]
        if problems:
            log.warning(
                "flow %s: start refused by the preflight (%d items missing)", flow_id, len(problems)
            )
            listed = "; ".join(f"{p.message} (fix: {p.fix})" for p in problems)
            raise ConflictError(
                f"flow '{flow_id}' cannot start: the live systems lack what it needs: {listed}. "
                "GET /api/preflight (or `shuttle check`) shows every item.",
                code="preflight_failed",
            )


def _blocking(check: SolutionCheck, flow_id: str) -> list[Problem]:
    return [p for p in check.problems if flow_id in p.flows]
