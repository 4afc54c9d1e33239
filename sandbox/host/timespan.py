"""Parse .NET TimeSpan strings, the format host.json and timer triggers use for durations."""

from __future__ import annotations

import re
from datetime import timedelta

# The invariant-culture forms TimeSpan.Parse accepts: "d", "hh:mm", "hh:mm:ss",
# "d.hh:mm:ss" and any of those with ".fffffff" (a decimal fraction of a second).
_CLOCK = re.compile(
    r"^(?P<sign>-)?(?:(?P<days>\d+)\.)?(?P<hours>\d{1,2}):(?P<minutes>\d{1,2})"
    r"(?::(?P<seconds>\d{1,2})(?:\.(?P<fraction>\d{1,7}))?)?$"
)
_DAYS_ONLY = re.compile(r"^(?P<sign>-)?(?P<days>\d+)$")


def parse_timespan(text: str) -> timedelta:
    """`"00:00:00.5"` -> 0.5 s, `"1.02:00:00"` -> 1 day 2 h, `"7"` -> 7 days (as .NET does).

    Raises ValueError for anything .NET would reject, including out-of-range parts
    such as `"00:60:00"` (.NET throws OverflowException rather than carrying over).
    """
    value = text.strip()
    if match := _DAYS_ONLY.match(value):
        days = timedelta(days=int(match["days"]))
        return -days if match["sign"] else days
    match = _CLOCK.match(value)
    if match is None:
        raise ValueError(f"{text!r} is not a TimeSpan (expected [d.]hh:mm[:ss[.fffffff]])")
    hours, minutes = int(match["hours"]), int(match["minutes"])
    seconds = int(match["seconds"] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"{text!r} is out of range for a TimeSpan (hh < 24, mm < 60, ss < 60)")
    # The fraction is decimal: ".5" is half a second, ".0500000" is 50 ms.
    microseconds = round(int((match["fraction"] or "0").ljust(7, "0")) / 10)
    result = timedelta(
        days=int(match["days"] or 0),
        hours=hours,
        minutes=minutes,
        seconds=seconds,
        microseconds=microseconds,
    )
    return -result if match["sign"] else result


def format_timespan(value: timedelta) -> str:
    """The inverse, for log lines: `hh:mm:ss[.ffffff]` with a `d.` prefix when needed."""
    total_us = abs(value) // timedelta(microseconds=1)
    seconds, micro = divmod(total_us, 1_000_000)
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if micro:
        text += f".{micro:06d}".rstrip("0")
    if days:
        text = f"{days}.{text}"
    return f"-{text}" if value < timedelta(0) else text
