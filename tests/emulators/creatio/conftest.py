"""The session's Creatio emulator, reset before each test, and a raw logged-in session."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.creatio import RunningCreatio, creatio, creatio_server, login

__all__ = ["creatio", "creatio_server"]


@pytest.fixture
def session(creatio: RunningCreatio) -> Iterator[httpx.Client]:
    """A logged-in raw HTTP session with the BPMCSRF header set."""
    client, _ = login(creatio.url)
    try:
        yield client
    finally:
        client.close()
