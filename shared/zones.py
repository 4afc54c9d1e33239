"""IANA time zone names in settings and API bodies (sleep windows, the daily report, the
Intacct company's zone): one check, one message."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def iana_zone(value: str) -> str:
    """`value` if it names an IANA zone; ValueError otherwise. "localtime" is refused: it
    would follow whatever the host is set to."""
    if value == "localtime":
        raise ValueError("name an IANA time zone such as Europe/Berlin, not 'localtime'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known IANA time zone (e.g. Europe/Berlin)") from None
    return value


# A str field holding an IANA zone name, checked by iana_zone.
IanaZone = Annotated[str, AfterValidator(iana_zone)]
