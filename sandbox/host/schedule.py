"""Timer schedules: NCRONTAB expressions (as Azure Functions writes them) and TimeSpan intervals.

Azure puts seconds FIRST: `{second} {minute} {hour} {day} {month} {day-of-week}`; croniter
reads that order with `second_at_beginning=True`. Each field is still checked against
NCrontab's own ranges and names (stricter than croniter's), never passed through unchecked.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from croniter import croniter

from sandbox.host.errors import HostError
from sandbox.host.timespan import format_timespan, parse_timespan

log = logging.getLogger("shuttle.timer")

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    first_name_value: int = 0


# NCrontab's ranges: day-of-week is 0-6 with Sunday = 0 (7 is not accepted).
_FIELDS = (
    _Field("second", 0, 59),
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1),
    _Field("day-of-week", 0, 6, _DAYS, 0),
)
_TOKEN = re.compile(r"^(?P<range>\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(?P<step>\d+))?$")


class ScheduleError(HostError, ValueError):
    """An expression that is neither NCRONTAB nor a TimeSpan."""


class Schedule(Protocol):
    def next_after(self, moment: datetime) -> datetime: ...

    def describe(self) -> str: ...


def _value(text: str, field: _Field, expression: str) -> int:
    if text.isdigit():
        number = int(text)
    elif field.names and text[:3].lower() in field.names and text.isalpha():
        # NCrontab matches names by their first three letters ("Mon", "Monday").
        number = field.names.index(text[:3].lower()) + field.first_name_value
    else:
        raise ScheduleError(f"{expression!r}: {text!r} is not a valid {field.name}")
    if not field.low <= number <= field.high:
        raise ScheduleError(
            f"{expression!r}: {field.name} {number} is outside {field.low}-{field.high}"
        )
    return number


def _convert_field(text: str, field: _Field, expression: str) -> str:
    parts: list[str] = []
    for item in text.split(","):
        match = _TOKEN.match(item)
        if match is None:
            raise ScheduleError(f"{expression!r}: {item!r} is not a valid {field.name} element")
        range_text, step = match["range"], match["step"]
        if range_text == "*":
            converted = "*"
        else:
            bounds = [_value(part, field, expression) for part in range_text.split("-")]
            if len(bounds) == 2 and bounds[0] > bounds[1]:
                raise ScheduleError(f"{expression!r}: {field.name} range {item!r} is reversed")
            converted = "-".join(str(b) for b in bounds)
        if step is not None:
            if int(step) == 0:
                raise ScheduleError(f"{expression!r}: step 0 in {field.name}")
            converted += f"/{int(step)}"
        parts.append(converted)
    return ",".join(parts)


def normalize_ncrontab(expression: str) -> str:
    """Azure's NCRONTAB with every field validated and names as numbers, seconds first.

    Six fields are the form Azure documents; five fields are accepted as the real host does
    (NCrontab without seconds: fires at second 0).
    """
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    elif len(fields) != 6:
        raise ScheduleError(
            f"{expression!r} has {len(fields)} fields; NCRONTAB needs six: "
            "{second} {minute} {hour} {day} {month} {day-of-week}"
        )
    return " ".join(
        _convert_field(text, spec, expression) for text, spec in zip(fields, _FIELDS, strict=True)
    )


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    normalized: str  # six fields, seconds first (normalize_ncrontab)

    def next_after(self, moment: datetime) -> datetime:
        # day_or=False: NCrontab requires BOTH day-of-month and day-of-week to match,
        # unlike Vixie cron's "either" rule that croniter applies by default.
        it = croniter(
            self.normalized, moment.astimezone(UTC), day_or=False, second_at_beginning=True
        )
        result: datetime = it.get_next(datetime)
        return result.astimezone(UTC)

    def describe(self) -> str:
        return f"NCRONTAB '{self.expression}' (UTC)"


@dataclass(frozen=True)
class IntervalSchedule:
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval

    def describe(self) -> str:
        return f"every {format_timespan(self.interval)}"


def parse_schedule(expression: str) -> CronSchedule | IntervalSchedule:
    """NCRONTAB first, then TimeSpan (`hh:mm:ss`), in the order the real host tries them."""
    text = expression.strip()
    if ":" in text:
        try:
            interval = parse_timespan(text)
        except ValueError as exc:
            raise ScheduleError(str(exc)) from exc
        if interval <= timedelta(0):
            raise ScheduleError(f"{expression!r}: a TimeSpan schedule must be positive")
        return IntervalSchedule(interval)
    if len(text.split()) == 5:
        log.warning(
            "schedule %r has five fields; Azure documents six ({second} first). "
            "It runs at second 0 of each matching minute.",
            text,
        )
    return CronSchedule(text, normalize_ncrontab(text))
