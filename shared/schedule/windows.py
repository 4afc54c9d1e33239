"""Sleep windows: when every flow of the deployment pauses (an ERP's nightly backup, say).

A window is a wall-clock range `[start, end)` in its own IANA time zone, on every day or on
the listed `days`; `days` names the day a window *starts*, so `22:00-02:00` on `fri` sleeps
from Friday 22:00 to Saturday 02:00. Everything is computed in the window's zone, per day, so
a window keeps its wall-clock times across DST changes. On a DST day the wall times are
turned into instants deliberately, always erring towards sleeping (a window exists to keep
Shuttle away from something scheduled by that wall clock):

- a start or end that does not exist (spring forward, the clock skips it) is the moment the
  clock jumps past it;
- a start that exists twice (fall back) is its first occurrence, an end that exists twice is
  its second one, so one occurrence is one continuous period covering every moment the wall
  clock shows a time inside the window.

Nothing here does I/O: the functions take `now` and answer with instants in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared.zones import IanaZone

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WINDOWS = 50
# Sleep that never ends (windows covering every hour of the week) is refused; this bounds the
# search for the end of a sleep.
LONGEST_SLEEP = timedelta(days=8)

_HMS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d):([0-5]\d)$")


def parse_hms(value: str) -> time:
    match = _HMS.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a time of day as hh:mm:ss (00:00:00 to 23:59:59)")
    hours, minutes, seconds = (int(g) for g in match.groups())
    return time(hours, minutes, seconds)


class SleepWindow(BaseModel):
    """One window as the API and the settings row hold it (strict: no coercion)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    start: str = Field(description="hh:mm:ss, wall clock in time_zone")
    end: str = Field(description="hh:mm:ss; earlier than start means the next day")
    time_zone: IanaZone = Field(description="IANA time zone, e.g. Europe/Berlin")
    days: list[Weekday] | None = Field(
        default=None, min_length=1, description="Days the window starts on; every day if absent"
    )

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        parse_hms(value)
        return value

    @field_validator("end")
    @classmethod
    def _end(cls, value: str, info: ValidationInfo) -> str:
        parse_hms(value)
        if info.data.get("start") == value:
            raise ValueError("end equals start: a window must have a length")
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[Weekday] | None) -> list[Weekday] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("a day is listed twice")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def describe(self) -> str:
        days = f" on {','.join(self.days)}" if self.days else ""
        return f"{self.start}-{self.end} {self.time_zone}{days}"

    def occurrences(self, around: datetime) -> list[tuple[datetime, datetime]]:
        """The window's periods (UTC, half open) that start on the local days around
        `around`: from two days before to one day after, enough for any zone's offset."""
        zone = self.zone
        today = around.astimezone(zone).date()
        start, end = parse_hms(self.start), parse_hms(self.end)
        spans: list[tuple[datetime, datetime]] = []
        for shift in (-2, -1, 0, 1):
            day = today + timedelta(days=shift)
            if self.days is not None and WEEKDAYS[day.weekday()] not in self.days:
                continue
            end_day = day if end > start else day + timedelta(days=1)
            opens = instant(day, start, zone, first=True)
            closes = instant(end_day, end, zone, first=False)
            if opens < closes:  # empty when the whole window fell into a skipped hour
                spans.append((opens, closes))
        return spans


class SleepWindows(BaseModel):
    """The body of GET/PUT /api/settings/sleep-windows, and what the settings row stores."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    windows: list[SleepWindow] = Field(max_length=MAX_WINDOWS)


def instant(day: date, wall: time, zone: ZoneInfo, *, first: bool) -> datetime:
    """The UTC instant the wall clock in `zone` shows `day wall`. Repeated (fall back): the
    first occurrence if `first`, else the second. Skipped (spring forward): the moment the
    clock jumps past it."""
    local = datetime.combine(day, wall)
    earlier = local.replace(tzinfo=zone, fold=0)
    later = local.replace(tzinfo=zone, fold=1)
    if earlier.utcoffset() == later.utcoffset():
        return earlier.astimezone(UTC)
    a, b = earlier.astimezone(UTC), later.astimezone(UTC)
    if _shows(a, zone, local) and _shows(b, zone, local):
        return min(a, b) if first else max(a, b)
    return _jump(min(a, b), max(a, b), zone)


def _shows(moment: datetime, zone: ZoneInfo, local: datetime) -> bool:
    return moment.astimezone(zone).replace(tzinfo=None) == local


def _jump(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (low, high] with the offset `high` has: the transition."""
    target = high.astimezone(zone).utcoffset()
    lo, hi = int(low.timestamp()), int(high.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(zone).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def active(windows: SleepWindows, now: datetime) -> SleepWindow | None:
    """The window `now` falls in (the first one listed), or None when awake."""
    for window in windows.windows:
        if any(opens <= now < closes for opens, closes in window.occurrences(now)):
            return window
    return None


def sleeping_until(windows: SleepWindows, now: datetime) -> datetime | None:
    """When the sleep `now` is in ends (windows that touch or overlap chain into one sleep),
    or None when awake. Capped at LONGEST_SLEEP after now."""
    until = now
    while True:
        ends = [
            closes
            for window in windows.windows
            for opens, closes in window.occurrences(until)
            if opens <= until < closes
        ]
        if not ends:
            return None if until == now else until
        until = max(ends)
        if until - now >= LONGEST_SLEEP:
            return now + LONGEST_SLEEP


def never_awake(windows: SleepWindows, now: datetime) -> bool:
    """True when the windows chain into a sleep of LONGEST_SLEEP from now: they cover the
    whole week, so every flow would sleep for good."""
    return sleeping_until(windows, now) == now + LONGEST_SLEEP
