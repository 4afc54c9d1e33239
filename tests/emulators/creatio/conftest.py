"""The session's Creatio emulator, reset before each test, and a raw logged-in session."""

from __future__ import annotations

from tests.support.creatio import creatio, creatio_server, session

__all__ = ["creatio", "creatio_server", "session"]
