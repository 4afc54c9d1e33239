"""One API session per client: logged in once with the company user (getAPISession), reused
by every call until it expires, renewed once when the gateway says it is no longer valid."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from shared.connectors.retry import Clock


@dataclass(frozen=True)
class Session:
    id: str
    endpoint: str
    generation: int


@dataclass(frozen=True)
class Grant:
    """What a login gives: the session id, the endpoint to use and its lifetime."""

    session_id: str
    endpoint: str
    lifetime_s: float | None


Login = Callable[[], Awaitable[Grant]]


def lifetime(timestamp: str | None, timeout: str | None) -> float | None:
    """Seconds between the gateway's sessiontimestamp and sessiontimeout (both from its own
    clock, so our clock's skew does not matter)."""
    if not timestamp or not timeout:
        return None
    try:
        return (datetime.fromisoformat(timeout) - datetime.fromisoformat(timestamp)).total_seconds()
    except ValueError:
        return None


class Sessions:
    def __init__(self, clock: Clock, margin_s: float) -> None:
        self._clock = clock
        self._margin = margin_s
        self._lock = asyncio.Lock()
        self._session: Session | None = None
        self._expires = 0.0
        self._generation = 0
        self.logins = 0

    def current(self) -> Session | None:
        if self._session is not None and self._clock() < self._expires:
            return self._session
        return None

    async def get(self, login: Login) -> Session:
        session = self.current()
        if session is not None:
            return session
        async with self._lock:  # one login however many callers need a session at once
            session = self.current()
            if session is not None:
                return session
            grant = await login()
            self.logins += 1
            self._generation += 1
            self._session = Session(grant.session_id, grant.endpoint, self._generation)
            self._set_lifetime(grant.lifetime_s)
            return self._session

    def extend(self, session: Session, lifetime_s: float | None) -> None:
        """Every call slides the session's expiry (docs/wire-notes.md I2)."""
        if self._session is not None and session.generation == self._generation:
            self._set_lifetime(lifetime_s)

    def invalidate(self, session: Session) -> None:
        """The gateway rejected `session`; only that one is dropped (a newer one made by a
        concurrent caller stays)."""
        if self._session is not None and session.generation == self._generation:
            self._session = None

    def _set_lifetime(self, lifetime_s: float | None) -> None:
        if lifetime_s is None:
            lifetime_s = 3600.0
        margin = min(self._margin, lifetime_s / 10)
        self._expires = self._clock() + max(0.0, lifetime_s - margin)
