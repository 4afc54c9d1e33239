"""The deployment's notification settings: one set, stored in Table storage, defaults from
the app settings (SHUTTLE_NOTIFY_MODE, SHUTTLE_ADMIN_EMAIL), changed with
PATCH /api/settings/notifications."""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr

from shared.settings import Settings
from shared.zones import iana_zone


class NotifyMode(StrEnum):
    """The seven modes of the InterWeave guides."""

    NONE = "none"
    CONNECTION_FAILURES = "connection_failures"
    EVERY_ERROR = "every_error"
    CONNECTION_FAILURES_AND_FULL_DAILY = "connection_failures_and_full_daily"
    CONNECTION_FAILURES_AND_ERROR_DAILY = "connection_failures_and_error_daily"
    ERROR_DAILY = "error_daily"
    FULL_DAILY = "full_daily"

    @property
    def connection_alerts(self) -> bool:
        return self in (
            NotifyMode.CONNECTION_FAILURES,
            NotifyMode.EVERY_ERROR,
            NotifyMode.CONNECTION_FAILURES_AND_FULL_DAILY,
            NotifyMode.CONNECTION_FAILURES_AND_ERROR_DAILY,
        )

    @property
    def daily_report(self) -> str | None:
        """`full`, `errors` or None."""
        if self in (NotifyMode.FULL_DAILY, NotifyMode.CONNECTION_FAILURES_AND_FULL_DAILY):
            return "full"
        if self in (NotifyMode.ERROR_DAILY, NotifyMode.CONNECTION_FAILURES_AND_ERROR_DAILY):
            return "errors"
        return None


class WebhookFormat(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"
    JSON = "json"


# Deliberately plain: one address, no display name, no spaces, commas, angle brackets or line
# breaks (so an address can never inject a header or a second recipient).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d):([0-5]\d)$")


def _address(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _ADDRESS.fullmatch(value):
        raise ValueError(f"{value!r} is not an e-mail address (name@example.com)")
    return value


def _clock_time(value: str) -> str:
    if not _TIME.fullmatch(value):
        raise ValueError(f"{value!r} is not a time of day hh:mm:ss (00:00:00 to 23:59:59)")
    return value


def _web_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value) or len(value) > 2000:
        raise ValueError("a webhook url must be an http(s) URL")
    return value


Address = Annotated[StrictStr, AfterValidator(_address)]
ClockTime = Annotated[StrictStr, AfterValidator(_clock_time)]
TimeZone = Annotated[StrictStr, AfterValidator(iana_zone)]


class Webhook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: Annotated[StrictStr, AfterValidator(_web_url)]
    format: WebhookFormat = WebhookFormat.JSON

    @property
    def host(self) -> str:
        """What logs and status may show of the URL (its path is often the secret)."""
        return self.url.split("/")[2]


MAX_ADDRESSES = 20
MAX_WEBHOOKS = 10


class NotificationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: NotifyMode = NotifyMode.CONNECTION_FAILURES
    use_admin_email: StrictBool = True
    admin_email: Address | None = None
    cc: list[Address] = Field(default_factory=list, max_length=MAX_ADDRESSES)
    bcc: list[Address] = Field(default_factory=list, max_length=MAX_ADDRESSES)
    hosting_provider: list[Address] = Field(default_factory=list, max_length=MAX_ADDRESSES)
    daily_report_at: ClockTime = "07:00:00"
    time_zone: TimeZone = "UTC"
    webhooks: list[Webhook] = Field(default_factory=list, max_length=MAX_WEBHOOKS)

    @property
    def report_time(self) -> time:
        hh, mm, ss = (int(p) for p in self.daily_report_at.split(":"))
        return time(hh, mm, ss)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def recipients(self, *, connection: bool) -> tuple[list[str], list[str], list[str]]:
        """(To, Cc, Bcc) of one message; the hosting provider's addresses receive connection
        failures (and their recoveries) only."""
        to = [self.admin_email] if self.use_admin_email and self.admin_email else []
        if connection:
            to += [a for a in self.hosting_provider if a not in to]
        return to, list(self.cc), list(self.bcc)


class NotificationSettingsPatch(BaseModel):
    """PATCH body: any subset of the fields; unknown fields and wrong types are 422."""

    model_config = ConfigDict(extra="forbid")

    mode: NotifyMode | None = None
    use_admin_email: StrictBool | None = None
    admin_email: Address | None = None
    cc: list[Address] | None = Field(default=None, max_length=MAX_ADDRESSES)
    bcc: list[Address] | None = Field(default=None, max_length=MAX_ADDRESSES)
    hosting_provider: list[Address] | None = Field(default=None, max_length=MAX_ADDRESSES)
    daily_report_at: ClockTime | None = None
    time_zone: TimeZone | None = None
    webhooks: list[Webhook] | None = Field(default=None, max_length=MAX_WEBHOOKS)

    def apply(self, current: NotificationSettings) -> NotificationSettings:
        # `admin_email: null` clears it; fields left out stay as they are.
        changes = self.model_dump(exclude_unset=True)
        return NotificationSettings.model_validate({**current.model_dump(), **changes})


def defaults(settings: Settings) -> NotificationSettings:
    """What applies until an operator changes the settings through the API. An admin address
    the app setting holds that is not an address is left out (status says mail has no
    recipient) rather than crashing every alert."""
    admin = settings.admin_email
    try:
        admin = _address(admin) if admin else None
    except ValueError:
        admin = None
    return NotificationSettings(mode=NotifyMode(settings.notify_mode), admin_email=admin)
