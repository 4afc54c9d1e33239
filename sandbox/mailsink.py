"""The sandbox's SMTP sink (aiosmtpd): takes every message a local Shuttle sends and keeps it
as an .eml file under .sandbox/mail/ (and in memory, for tests), so a newcomer can read the
alerts the demo produces without a mail server. Accepts any sender and recipient; never relays.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from sandbox.azurite import REPO_ROOT

log = logging.getLogger("shuttle.mail")
# aiosmtpd logs every connection (its own start-up probe included) at INFO: keep the demo's
# console for what matters.
logging.getLogger("mail.log").setLevel(logging.WARNING)

MAIL_DIR = REPO_ROOT / ".sandbox" / "mail"
LOCAL_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: list[str]  # the envelope (RCPT TO), Bcc included
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])


@dataclass
class _Handler:
    directory: Path | None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _count: itertools.count[int] = field(default_factory=itertools.count)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        item = Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(data))
        with self.lock:
            self.received.append(item)
            n = next(self._count)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{n:04d}.eml"
            path.write_bytes(bytes(data))
            log.info(
                "mail sink: %r to %s saved as %s", item.subject, ", ".join(item.recipients), path
            )
        return "250 Message accepted for delivery"


class MailSink:
    """An SMTP server on 127.0.0.1 in a thread of this process (no TLS, no auth)."""

    def __init__(self, port: int, directory: Path | None = MAIL_DIR) -> None:
        self.handler = _Handler(directory)
        self.port = port
        self.directory = directory
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=port)

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.received.clear()

    def start(self) -> MailSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._controller.stop()

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_local(host: str | None, port: str | None) -> MailSink | None:
    """The sink on SHUTTLE_SMTP_HOST:PORT when they point at this machine and nothing listens
    there yet; None otherwise (a real relay, or a sink someone else runs)."""
    if not host or host not in LOCAL_HOSTS or not (port or "").isdigit():
        return None
    if _listening(int(port or 0)):
        log.info("something already listens on %s:%s; not starting the mail sink", host, port)
        return None
    sink = MailSink(int(port or 0))
    try:
        return sink.start()
    except Exception as exc:  # e.g. another process bound the port a moment ago
        log.warning("mail sink not started on %s:%s: %s", host, port, exc)
        sink.stop()
        return None
