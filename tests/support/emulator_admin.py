"""What every emulator's admin API (/_emulator, never counted, throttled or failed) answers
alike: knobs, options, faults, seeding, the call counters and request log, sessions, reset.
Each emulator's own client (tests/support/creatio.py, intacct.py, dataverse.py) adds its own
routes."""

from __future__ import annotations

import ssl
from typing import Any

import httpx


class EmulatorAdmin:
    """A client of one emulator's /_emulator API."""

    def __init__(self, url: str, *, verify: ssl.SSLContext | bool = True) -> None:
        self.http = httpx.Client(base_url=f"{url}/_emulator", timeout=30, verify=verify)

    def _ok(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()

    def knobs(self, **values: Any) -> dict[str, Any]:
        return self._ok(self.http.put("/knobs", json=values))  # type: ignore[no-any-return]

    def options(self, **values: Any) -> dict[str, Any]:
        return self._ok(self.http.put("/options", json=values))  # type: ignore[no-any-return]

    def faults(self, *faults: dict[str, Any]) -> None:
        self._ok(self.http.post("/faults", json=list(faults)))

    def seed(self, payload: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
        return self._ok(self.http.post("/seed", json=payload))  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self._ok(self.http.get("/calls"))  # type: ignore[no-any-return]

    def requests(self) -> list[dict[str, Any]]:
        return self._ok(self.http.get("/requests"))["requests"]  # type: ignore[no-any-return]

    def clear_calls(self) -> None:
        self._ok(self.http.delete("/calls"))

    def expire_sessions(self) -> int:
        return int(self._ok(self.http.post("/sessions/expire"))["expired"])

    def reset(self) -> None:
        self._ok(self.http.post("/reset"))

    def close(self) -> None:
        self.http.close()
