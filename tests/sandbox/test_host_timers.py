"""Timer triggers: NCRONTAB from an app setting, runOnStartup, no overlapping invocations."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.host import HostError, LocalHost
from tests.sandbox.helpers import SAMPLE_APP, StartHost, eventually, read_records


async def test_timer_fires_from_setting_and_never_overlaps(
    start_host: StartHost, record_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMPLE_TIMER_SCHEDULE", "* * * * * *")  # every second (six fields)
    monkeypatch.setenv("SAMPLE_TIMER_SLEEP", "1.3")  # longer than the period
    await start_host("tick")

    ends = await eventually(
        lambda: read_records(record_file, "tick_end"),
        until=lambda rows: len(rows) >= 2,
        what="two finished timer invocations",
    )
    starts = read_records(record_file, "tick_start")[: len(ends)]
    assert all(row["running"] == 1 for row in starts)
    # Each invocation starts only after the previous one ended.
    for previous_end, next_start in zip(ends, starts[1:], strict=False):
        assert next_start["t"] >= previous_end["t"]
    assert all(isinstance(row["past_due"], bool) for row in starts)


async def test_run_on_startup(start_host: StartHost, record_file: Path) -> None:
    await start_host("startup_tick")  # schedule: once a year
    rows = await eventually(
        lambda: read_records(record_file, "startup_tick"), what="the startup invocation"
    )
    assert rows == [{"kind": "startup_tick", "past_due": False}]


async def test_unresolved_schedule_setting_names_function_and_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SAMPLE_TIMER_SCHEDULE", raising=False)
    host = LocalHost(SAMPLE_APP, port=0, functions=["tick"])
    with pytest.raises(HostError, match=r"'tick'.*'SAMPLE_TIMER_SCHEDULE'"):
        await host.start()


async def test_invalid_schedule_is_a_startup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_TIMER_SCHEDULE", "*/5 * * * *  * *")
    host = LocalHost(SAMPLE_APP, port=0, functions=["tick"])
    with pytest.raises(HostError, match=r"'tick'.*invalid schedule"):
        await host.start()
