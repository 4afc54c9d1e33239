"""Fixtures for the local host's tests: a record file, fresh queues, a host factory."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.azurite import Azurite
from sandbox.host import LocalHost
from tests.sandbox.helpers import SAMPLE_APP, StartHost


@pytest.fixture
def record_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "records.jsonl"
    monkeypatch.setenv("SAMPLE_RECORD_FILE", str(path))
    return path


@pytest.fixture
def queue_names(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Fresh trigger and output queues on the session's Azurite, wired into the sample app."""
    suffix = uuid.uuid4().hex[:10]
    source, output = f"in-{suffix}", f"out-{suffix}"
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("SAMPLE_QUEUE", source)
    monkeypatch.setenv("SAMPLE_OUTPUT_QUEUE", output)
    return source, output


@pytest.fixture
async def start_host() -> AsyncIterator[StartHost]:
    """Start the sample app in-process on a free port with only the named functions."""
    hosts: list[LocalHost] = []

    async def start(*functions: str, **kwargs: Any) -> LocalHost:
        kwargs.setdefault("drain_timeout", 5.0)
        host = LocalHost(SAMPLE_APP, port=0, functions=functions or None, **kwargs)
        await host.start()
        hosts.append(host)
        return host

    yield start
    for host in hosts:
        await host.stop()
