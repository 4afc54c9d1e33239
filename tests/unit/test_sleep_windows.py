"""Sleep window arithmetic (shared/schedule/windows.py), table-driven: windows across midnight,
on listed days, and across the DST changes of Europe/Berlin and America/New_York, where a wall
time is skipped (spring forward) or repeats (fall back)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.api.control import parse_body
from shared.errors import RequestValidationError
from shared.schedule.windows import (
    SleepWindow,
    SleepWindows,
    active,
    never_awake,
    sleeping_until,
)


def z(text: str) -> datetime:
    """An instant written in UTC: '2027-03-28 01:30:00'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def windows(*specs: dict[str, Any]) -> SleepWindows:
    return SleepWindows(windows=[SleepWindow(**spec) for spec in specs])


def w(start: str, end: str, zone: str = "Europe/Berlin", **extra: Any) -> dict[str, Any]:
    return {"start": start, "end": end, "time_zone": zone, **extra}


# (case, windows, now in UTC, expected sleeping_until in UTC or None when awake)
CASES: list[tuple[str, list[dict[str, Any]], str, str | None]] = [
    # An ordinary winter night in Berlin (UTC+1): 23:00-02:00 crosses midnight.
    ("before a midnight window", [w("23:00:00", "02:00:00")], "2027-01-15 21:59:59", None),
    ("its first second", [w("23:00:00", "02:00:00")], "2027-01-15 22:00:00", "2027-01-16 01:00:00"),
    (
        "after midnight, same window",
        [w("23:00:00", "02:00:00")],
        "2027-01-16 00:59:59",
        "2027-01-16 01:00:00",
    ),
    ("its end is awake", [w("23:00:00", "02:00:00")], "2027-01-16 01:00:00", None),
    # Spring forward in Berlin, 2027-03-28: at 01:00 UTC the clock jumps from 02:00 to 03:00.
    (
        "across midnight and the jump",
        [w("23:00:00", "03:30:00")],
        "2027-03-27 23:30:00",
        "2027-03-28 01:30:00",
    ),  # 4.5 h on the wall clock, 3.5 h of real time
    (
        "an end the clock skips closes at the jump",
        [w("01:30:00", "02:30:00")],
        "2027-03-28 00:45:00",
        "2027-03-28 01:00:00",
    ),
    (
        "a start the clock skips opens at the jump",
        [w("02:30:00", "04:00:00")],
        "2027-03-28 01:00:00",
        "2027-03-28 02:00:00",
    ),
    ("...and not before it", [w("02:30:00", "04:00:00")], "2027-03-28 00:59:59", None),
    (
        "a window wholly skipped sleeps not at all that night",
        [w("02:00:00", "02:59:59")],
        "2027-03-28 01:00:00",
        None,
    ),
    (
        "...but the night after",
        [w("02:00:00", "02:59:59")],
        "2027-03-29 00:30:00",
        "2027-03-29 00:59:59",
    ),
    # Fall back in Berlin, 2027-10-31: at 01:00 UTC the clock goes from 03:00 back to 02:00.
    (
        "a repeated start opens at its first occurrence",
        [w("02:15:00", "02:45:00")],
        "2027-10-31 00:15:00",
        "2027-10-31 01:45:00",
    ),
    (
        "between the two occurrences it still sleeps",
        [w("02:15:00", "02:45:00")],
        "2027-10-31 00:50:00",
        "2027-10-31 01:45:00",
    ),  # 02:50 CEST: one continuous sleep
    (
        "a repeated end closes at its second occurrence",
        [w("02:15:00", "02:45:00")],
        "2027-10-31 01:45:00",
        None,
    ),
    (
        "the night before the change, 30 minutes only",
        [w("02:15:00", "02:45:00")],
        "2027-10-30 00:20:00",
        "2027-10-30 00:45:00",
    ),
    # America/New_York: spring forward 2027-03-14 07:00 UTC (02:00 EST -> 03:00 EDT), fall back
    # 2027-11-07 06:00 UTC (02:00 EDT -> 01:00 EST).
    (
        "NY spring forward, an end in the gap",
        [w("01:00:00", "02:30:00", "America/New_York")],
        "2027-03-14 06:30:00",
        "2027-03-14 07:00:00",
    ),
    (
        "NY fall back, across midnight, repeated end",
        [w("22:00:00", "01:30:00", "America/New_York")],
        "2027-11-07 02:00:00",
        "2027-11-07 06:30:00",
    ),  # 22:00 EDT to the second 01:30 (EST): 4.5 h
    (
        "NY fall back, after the repeat",
        [w("22:00:00", "01:30:00", "America/New_York")],
        "2027-11-07 06:30:00",
        None,
    ),
    # days: the day a window starts on.
    (
        "friday night window, friday",
        [w("22:00:00", "02:00:00", "UTC", days=["fri"])],
        "2027-01-15 23:00:00",
        "2027-01-16 02:00:00",
    ),  # 2027-01-15 is a Friday
    (
        "friday night window, saturday morning",
        [w("22:00:00", "02:00:00", "UTC", days=["fri"])],
        "2027-01-16 01:00:00",
        "2027-01-16 02:00:00",
    ),
    (
        "friday night window, saturday night",
        [w("22:00:00", "02:00:00", "UTC", days=["fri"])],
        "2027-01-16 23:00:00",
        None,
    ),
    (
        "friday night window, thursday night",
        [w("22:00:00", "02:00:00", "UTC", days=["fri"])],
        "2027-01-14 23:00:00",
        None,
    ),
    (
        "friday night window, friday morning",
        [w("22:00:00", "02:00:00", "UTC", days=["fri"])],
        "2027-01-15 01:00:00",
        None,
    ),  # that is Thursday's window, and Thursday is not listed
    # Windows that touch chain into one sleep; a zone's own offset is applied to its window.
    (
        "two windows chained",
        [w("22:00:00", "00:00:00", "UTC"), w("00:00:00", "03:00:00", "UTC")],
        "2027-01-15 23:00:00",
        "2027-01-16 03:00:00",
    ),
    (
        "zones mixed",
        [w("09:00:00", "10:00:00", "Asia/Kolkata"), w("03:00:00", "04:00:00", "UTC")],
        "2027-01-15 03:45:00",
        "2027-01-15 04:30:00",
    ),  # 09:00-10:00 IST = 03:30-04:30 UTC
]


@pytest.mark.parametrize(("case", "specs", "now", "expected"), CASES, ids=[c[0] for c in CASES])
def test_sleeping_until(
    case: str, specs: list[dict[str, Any]], now: str, expected: str | None
) -> None:
    got = sleeping_until(windows(*specs), z(now))
    assert got == (z(expected) if expected else None), case
    assert (active(windows(*specs), z(now)) is not None) == (expected is not None)


def test_each_night_of_a_year_in_berlin_sleeps_the_wall_clock_hours() -> None:
    """Every night of 2027, 23:00-03:30 Berlin time: the sleep starts at 23:00 and ends at
    03:30 on the wall clock, 4.5 h long except on the two DST nights."""
    spec = windows(w("23:00:00", "03:30:00"))
    lengths = {}
    moment = z("2027-01-01 12:00:00")
    while moment.year == 2027:
        start = moment.replace(hour=21)  # before 23:00 local in winter and summer
        while sleeping_until(spec, start) is None:
            start += timedelta(minutes=15)
        end = sleeping_until(spec, start)
        assert end is not None
        local_start = start.astimezone(spec.windows[0].zone)
        local_end = end.astimezone(spec.windows[0].zone)
        assert (local_start.hour, local_start.minute) == (23, 0)
        assert (local_end.hour, local_end.minute) == (3, 30)
        lengths[local_start.date().isoformat()] = end - start
        moment += timedelta(days=1)
    odd = {day: length for day, length in lengths.items() if length != timedelta(hours=4.5)}
    assert odd == {"2027-03-27": timedelta(hours=3.5), "2027-10-30": timedelta(hours=5.5)}


def test_windows_covering_the_whole_week_are_never_awake() -> None:
    now = z("2027-01-15 12:00:00")
    halves = windows(w("00:00:00", "12:00:00"), w("12:00:00", "00:00:00"))
    assert never_awake(halves, now)
    assert not never_awake(windows(w("00:00:00", "23:59:59")), now)
    assert not never_awake(windows(), now)


# (case, body, the field the 422 names)
BAD: list[tuple[str, Any, str]] = [
    ("hour 25", {"windows": [w("25:00:00", "02:00:00")]}, "windows.0.start"),
    ("hour 24", {"windows": [w("23:00:00", "24:00:00")]}, "windows.0.end"),
    ("no seconds", {"windows": [w("23:00", "02:00:00")]}, "windows.0.start"),
    ("one-digit hour", {"windows": [w("7:00:00", "08:00:00")]}, "windows.0.start"),
    ("second 60", {"windows": [w("07:00:60", "08:00:00")]}, "windows.0.start"),
    ("start equals end", {"windows": [w("02:00:00", "02:00:00")]}, "windows.0.end"),
    (
        "unknown zone",
        {"windows": [w("01:00:00", "02:00:00", "Mars/Olympus")]},
        "windows.0.time_zone",
    ),
    ("host's zone", {"windows": [w("01:00:00", "02:00:00", "localtime")]}, "windows.0.time_zone"),
    (
        "path as zone",
        {"windows": [w("01:00:00", "02:00:00", "../etc/passwd")]},
        "windows.0.time_zone",
    ),
    (
        "unknown day",
        {"windows": [w("01:00:00", "02:00:00", days=["mon", "funday"])]},
        "windows.0.days.1",
    ),
    ("capitalised day", {"windows": [w("01:00:00", "02:00:00", days=["Mon"])]}, "windows.0.days.0"),
    ("day twice", {"windows": [w("01:00:00", "02:00:00", days=["mon", "mon"])]}, "windows.0.days"),
    ("no days", {"windows": [w("01:00:00", "02:00:00", days=[])]}, "windows.0.days"),
    ("days as text", {"windows": [w("01:00:00", "02:00:00", days="mon")]}, "windows.0.days"),
    ("start as number", {"windows": [w(3600, "02:00:00")]}, "windows.0.start"),  # type: ignore[arg-type]
    ("zone null", {"windows": [w("01:00:00", "02:00:00", None)]}, "windows.0.time_zone"),  # type: ignore[arg-type]
    (
        "zone missing",
        {"windows": [{"start": "01:00:00", "end": "02:00:00"}]},
        "windows.0.time_zone",
    ),
    (
        "unknown field",
        {"windows": [w("01:00:00", "02:00:00", until="03:00:00")]},
        "windows.0.until",
    ),
    (
        "second window bad",
        {"windows": [w("01:00:00", "02:00:00"), w("03:00:00", "3:30:00")]},
        "windows.1.end",
    ),
    ("windows not a list", {"windows": {"start": "01:00:00"}}, "windows"),
    ("windows missing", {}, "windows"),
    ("extra top-level field", {"windows": [], "enabled": True}, "enabled"),
    ("too many", {"windows": [w("01:00:00", "02:00:00")] * 51}, "windows"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_windows_name_the_field(case: str, body: Any, field: str) -> None:
    with pytest.raises(RequestValidationError) as raised:
        parse_body(SleepWindows, json.dumps(body).encode())
    assert raised.value.field == field, raised.value.message
    assert raised.value.message.startswith(f"{field}: ")


def test_a_good_body_round_trips() -> None:
    body = {
        "windows": [
            w("23:00:00", "03:30:00"),
            w("12:00:00", "12:30:00", "UTC", days=["sat", "sun"]),
        ]
    }
    parsed = parse_body(SleepWindows, json.dumps(body).encode())
    assert parsed.model_dump(mode="json") == {
        "windows": [
            {**w("23:00:00", "03:30:00"), "days": None},
            {**w("12:00:00", "12:30:00", "UTC"), "days": ["sat", "sun"]},
        ]
    }
