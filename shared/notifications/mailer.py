"""E-mail through the SMTP relay of the app settings (aiosmtplib). The envelope carries every
recipient; the headers name To and Cc only, so Bcc addresses stay hidden."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from shared.notifications.compose import Message
from shared.settings import Settings

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class DeliveryError(Exception):
    """A notification could not be delivered after its retries; the text names no secret."""


@dataclass(frozen=True)
class Envelope:
    to: list[str]
    cc: list[str]
    bcc: list[str]

    @property
    def recipients(self) -> list[str]:
        seen: list[str] = []
        for address in (*self.to, *self.cc, *self.bcc):
            if address.lower() not in (s.lower() for s in seen):
                seen.append(address)
        return seen


def build_email(message: Message, sender: str, envelope: Envelope) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    if envelope.to:
        mail["To"] = ", ".join(envelope.to)
    else:
        mail["To"] = "undisclosed-recipients:;"
    if envelope.cc:
        mail["Cc"] = ", ".join(envelope.cc)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "shuttle")
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to alerts
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


@dataclass(eq=False, repr=False)  # compared by identity; no repr that could show settings
class Mailer:
    settings: Settings
    _: KW_ONLY
    attempts: int = 3
    backoff_s: Sequence[float] = (1.0, 3.0)
    sleep: Sleep = asyncio.sleep
    timeout_s: float = 15.0

    @property
    def configured(self) -> bool:
        return bool(self.settings.smtp_host)

    @property
    def sender(self) -> str:
        return self.settings.mail_from or "shuttle@localhost"

    async def send(self, message: Message, envelope: Envelope) -> None:
        """Raises DeliveryError once every attempt failed."""
        mail = build_email(message, self.sender, envelope)
        s = self.settings
        password = s.smtp_password.get_secret_value() if s.smtp_password else None
        last = ""
        for attempt in range(1, self.attempts + 1):
            try:
                await aiosmtplib.send(
                    mail,
                    sender=self.sender,
                    recipients=envelope.recipients,
                    hostname=s.smtp_host,
                    port=s.smtp_port,
                    username=s.smtp_username or None,
                    password=password if s.smtp_username else None,
                    use_tls=s.smtp_security == "tls",
                    start_tls=s.smtp_security == "starttls",
                    timeout=self.timeout_s,
                )
                return
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                # aiosmtplib's messages carry the server's reply, never our password.
                last = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "mail to %s via %s:%s failed (attempt %d of %d): %s",
                    len(envelope.recipients),
                    s.smtp_host,
                    s.smtp_port,
                    attempt,
                    self.attempts,
                    last,
                )
                if attempt < self.attempts:
                    await self.sleep(self.backoff_s[min(attempt - 1, len(self.backoff_s) - 1)])
        raise DeliveryError(
            f"SMTP {s.smtp_host}:{s.smtp_port} failed {self.attempts} times; last: {last}"
        )
