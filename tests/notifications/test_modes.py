"""The seven modes, table-driven over one scripted scenario: a connection failure episode (two
failing checks, then a recovery), a run with three failed records, a flow stopped by
stop_on_error, and the daily report time passing on an injected clock. Each mode must send
exactly its messages, to the right envelope, with Bcc never in the headers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.mailsink import MailSink, Received
from shared.errors import ErrorCategory
from shared.flows.definitions import ErrorPolicy, FlowKind
from shared.flows.models import RunCounts, RunErrorEntry, RunStatus
from shared.flows.service import RunEnd, RunRequest
from shared.notifications.monitor import Probe
from shared.runtime import Services
from tests.notifications.conftest import ADMIN, BCC, CC, HOSTING, T0, MakeServices, Scripted

FAILING = "Creatio connection failing"
RECOVERED = "Creatio connection recovered"
RECORDS = "3 records failed"
STOPPED = "flow stopped by its error policy"
FULL = "daily report 2026-12-05"
ERRORS = "daily error report 2026-12-05"

EXPECTED = {
    "none": [],
    "connection_failures": [FAILING, RECOVERED, STOPPED],
    "every_error": [FAILING, RECOVERED, RECORDS, STOPPED],
    "connection_failures_and_full_daily": [FAILING, RECOVERED, STOPPED, FULL],
    "connection_failures_and_error_daily": [FAILING, RECOVERED, STOPPED, ERRORS],
    "error_daily": [STOPPED, ERRORS],
    "full_daily": [STOPPED, FULL],
}


def _what(mail: Received) -> str:
    rest = mail.subject.split("] ", 1)[1]  # after "[Shuttle <deployment>] "
    return rest.split(": ", 1)[-1]


def _errors(n: int, at: object) -> tuple[RunErrorEntry, ...]:
    return tuple(
        RunErrorEntry(
            record=f"rec-{i}",
            category=ErrorCategory.VALIDATION,
            field="Name",
            message=f"record {i}: name too long",
            at=at,
        )  # type: ignore[arg-type]
        for i in range(n)
    )


async def scenario(services: Services, sink: MailSink) -> None:
    notifications = services.notifications
    assert notifications is not None
    monitor = notifications.monitor
    monitor.checker = Scripted(
        creatio=[
            Probe(ok=False, message="could not connect to Creatio"),
            Probe(ok=False, message="could not connect to Creatio"),
            Probe(ok=True),
        ]
    )
    flows = [
        e.flow_id
        for e in services.catalog.in_solution("creatio-intacct")
        if e.flow.kind is FlowKind.SCHEDULED
    ][:2]
    now = T0
    # 1. a connection failure episode: ok, failing, failing, ok
    for _ in range(4):
        await monitor.tick(now)
        now += timedelta(minutes=5)
    # 2. a run with three failed records (flow never stops)
    run = await services.flows.run_now(flows[0], RunRequest(), now)
    counts = RunCounts(read=5, created=2, failed=3)
    await services.flows.finish_run(
        run.id, RunEnd(RunStatus.PARTIAL, counts=counts, errors=_errors(3, now)), now
    )
    # 3. a flow stopped by stop_on_error
    await services.flows.patch(flows[1], {"error_policy": ErrorPolicy.STOP_ON_ERROR})
    await services.flows.start(flows[1], now)
    run = await services.flows.run_now(flows[1], RunRequest(), now)
    counts = RunCounts(read=2, created=1, failed=1)
    await services.flows.finish_run(
        run.id, RunEnd(RunStatus.PARTIAL, counts=counts, errors=_errors(1, now)), now
    )
    # 4. the daily report (07:00:00 Europe/Berlin = 06:00 UTC in December): not before, once after
    assert not await notifications.report.tick(T0.replace(hour=5, minute=59, second=59))
    await notifications.report.tick(T0.replace(hour=6, minute=0, second=1))
    await notifications.report.tick(T0.replace(hour=6, minute=30))
    await notifications.report.tick(T0.replace(hour=23, minute=59))


@pytest.mark.parametrize("mode", list(EXPECTED))
async def test_each_mode_sends_exactly_its_messages(
    mode: str, make_services: MakeServices, mail_sink: MailSink
) -> None:
    body = {
        "mode": mode,
        "admin_email": ADMIN,
        "cc": [CC],
        "bcc": [BCC],
        "hosting_provider": [HOSTING],
        "daily_report_at": "07:00:00",
        "time_zone": "Europe/Berlin",
    }
    services = await make_services(notify=body)
    assert services.notifications is not None

    await scenario(services, mail_sink)

    mails = mail_sink.received
    assert [_what(m) for m in mails] == EXPECTED[mode]
    for mail in mails:
        connection = "connection" in mail.subject
        expected_to = [ADMIN, HOSTING] if connection else [ADMIN]
        assert sorted(mail.recipients) == sorted([*expected_to, CC, BCC])
        message = mail.message
        assert message["To"] == ", ".join(expected_to)
        assert message["Cc"] == CC
        assert message["Bcc"] is None
        assert BCC.encode() not in mail.data  # in the envelope only
        assert mail.sender == "shuttle@example.com"
        types = [part.get_content_type() for part in message.walk()]
        assert types == ["multipart/alternative", "text/plain", "text/html"]
        assert (
            "creatio-intacct" in mail.subject
            or "connection" in mail.subject
            or ("daily" in mail.subject)
        )


async def test_messages_say_what_happened_and_what_to_do(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    services = await make_services(notify={"mode": "every_error"})
    assert services.notifications is not None
    await scenario(services, mail_sink)
    by_what = {_what(m): m for m in mail_sink.received}

    records = by_what[RECORDS]
    text = records.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "[Shuttle " in records.subject and "creatio-intacct / " in records.subject
    for i in range(3):
        assert f"rec-{i} [validation] Name: record {i}: name too long" in text
    assert "run: creatio-intacct." in text  # the run id
    assert "What to do:" in text and "POST /api/runs/" in text
    assert "Runbook: docs/operations.md" in text
    html = records.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<td>rec-2</td>" in html

    failing = by_what[FAILING].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "could not connect to Creatio" in failing and "What to do:" in failing
    for mail in mail_sink.received:  # no secret of the app settings in any message
        for secret in ("creatio-Pa55word", "intacct-sender-Pa55", "intacct-user-Pa55"):
            assert secret.encode() not in mail.data


async def test_only_one_message_per_episode_then_one_recovery(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    services = await make_services(notify={"mode": "connection_failures"})
    assert services.notifications is not None
    monitor = services.notifications.monitor
    down = [Probe(ok=False, message="could not connect to Creatio")] * 5
    monitor.checker = Scripted(
        creatio=[*down, Probe(ok=True), Probe(ok=True), Probe(ok=False, message="again")]
    )
    now = T0
    for _ in range(8):
        await monitor.tick(now)
        now += timedelta(minutes=5)
    assert [_what(m) for m in mail_sink.received] == [FAILING, RECOVERED, FAILING]
