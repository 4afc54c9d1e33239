"""`shuttle demo`'s SMTP sink: started on SHUTTLE_SMTP_HOST:PORT when they point here, saves
each message as an .eml file, and the demo tells where the mails go."""

from __future__ import annotations

import argparse
import contextlib
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from sandbox import cli
from sandbox.azurite import free_port
from sandbox.demo.service import mail_lines
from sandbox.mailsink import MailSink, start_local
from shared.notifications.compose import Message
from shared.notifications.mailer import Envelope, Mailer
from shared.settings import Settings


async def test_the_sink_saves_what_shuttle_sends_as_eml(tmp_path: Path) -> None:
    with MailSink(free_port(), directory=tmp_path) as sink:
        settings = Settings.model_validate(
            {
                "SHUTTLE_SMTP_HOST": "127.0.0.1",
                "SHUTTLE_SMTP_PORT": str(sink.port),
                "SHUTTLE_SMTP_SECURITY": "none",
                "SHUTTLE_MAIL_FROM": "shuttle@example.com",
            }
        )
        message = Message(subject="[Shuttle t] hello", text="plain ü\n", html="<p>html</p>")
        await Mailer(settings).send(message, Envelope(["a@example.com"], [], ["b@example.com"]))
    (saved,) = tmp_path.glob("*.eml")
    mail = message_from_bytes(saved.read_bytes(), policy=policy.default)
    assert mail["Subject"] == "[Shuttle t] hello" and mail["To"] == "a@example.com"
    assert mail.get_body(("plain",)).get_content().rstrip() == "plain ü"  # type: ignore[union-attr]
    assert sink.received[0].recipients == ["a@example.com", "b@example.com"]
    assert b"b@example.com" not in saved.read_bytes()


def test_start_local_only_for_a_local_free_port() -> None:
    assert start_local("smtp.office365.com", "587") is None
    assert start_local("127.0.0.1", "") is None
    with MailSink(free_port(), directory=None) as busy:
        assert start_local("127.0.0.1", str(busy.port)) is None  # someone else's sink


def test_demo_starts_the_sink_and_says_where_mail_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("SHUTTLE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SHUTTLE_SMTP_PORT", str(port))
    monkeypatch.setenv("SHUTTLE_NOTIFY_MODE", "every_error")
    assert (
        cli.start_mail_sink in cli.SERVICES["demo"] and cli.start_mail_sink in cli.SERVICES["dev"]
    )
    args = argparse.Namespace(port=7071)
    with contextlib.ExitStack() as stack:
        cli.start_mail_sink(args, stack)
        assert start_local("127.0.0.1", str(port)) is None  # it listens now
        text = "\n".join(mail_lines(args))
    again = start_local("127.0.0.1", str(port))  # the stack stopped it: the port is free
    assert again is not None
    again.stop()
    assert f"127.0.0.1:{port}" in text and ".sandbox/mail" in text and "every_error" in text


def test_the_example_settings_point_at_the_sink() -> None:
    import json

    values = json.loads(Path("local.settings.example.json").read_text())["Values"]
    assert (
        values["SHUTTLE_SMTP_HOST"],
        values["SHUTTLE_SMTP_PORT"],
        values["SHUTTLE_SMTP_SECURITY"],
    ) == ("127.0.0.1", "8025", "none")


def test_the_message_itself_never_names_bcc() -> None:
    # aiosmtplib also drops a Bcc header when it sends; ours never writes one in the first place
    # (a relay or a client that keeps headers must not see it either).
    from shared.notifications.mailer import build_email

    envelope = Envelope(["to@example.com"], ["cc@example.com"], ["bcc@example.com"])
    message = Message(subject="s", text="t", html="<p>h</p>")
    mail = build_email(message, "from@example.com", envelope)
    assert mail["Bcc"] is None and "bcc@example.com" not in mail.as_string()
    assert mail["To"] == "to@example.com" and mail["Cc"] == "cc@example.com"
    assert mail["Auto-Submitted"] == "auto-generated"
