"""Both sides of creatio-intacct in memory, for engine tests on Azurite without the emulators,
and the checks those tests share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.flows.models import RunRecord
from shared.settings import Settings
from tests.support.memory_connector import MemoryConnector, TickClock


class Systems:
    """Both sides in memory; their clocks tick 1 ms per write from a minute ago, so every
    record falls in the first run's window and every write is strictly newer."""

    def __init__(self) -> None:
        start = datetime.now(UTC) - timedelta(minutes=1)
        self.creatio = MemoryConnector("creatio", clock=TickClock(start, timedelta(milliseconds=1)))
        self.intacct = MemoryConnector("intacct", clock=TickClock(start, timedelta(milliseconds=1)))

    @staticmethod
    def all(connector: MemoryConnector, object: str) -> list[dict[str, Any]]:
        return [r.values for r in connector.records[object].values()]

    @staticmethod
    def edit(connector: MemoryConnector, object: str, id: str, changes: dict[str, Any]) -> None:
        connector.seed(object, {**connector.values(object, id), **changes}, id=id)

    def factory(self, system: str, settings: Settings) -> MemoryConnector:
        return {"creatio": self.creatio, "intacct": self.intacct}[system]


def assert_balanced(run: RunRecord) -> None:
    c = run.counts
    assert c.read == c.created + c.updated + c.unchanged + c.skipped + c.failed + c.pending, c
    assert c.pending == 0 or not run.status.is_final


def writes(connector: MemoryConnector) -> int:
    return connector.calls["create"] + connector.calls["update"]
