"""Helpers for the local host's tests (kept out of conftest so tests can import them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sandbox.host import LocalHost
from tests.support.polling import eventually  # noqa: F401  (re-exported for tests)

SAMPLE_APP = Path(__file__).parent / "sample_app"
T = TypeVar("T")


def read_records(path: Path, kind: str | None = None) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [row for row in rows if kind is None or row["kind"] == kind]


class StartHost(Protocol):
    async def __call__(self, *functions: str, **kwargs: Any) -> LocalHost: ...
