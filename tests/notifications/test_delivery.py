"""Delivery: two hosts racing one episode send one message; webhooks get Slack-, Teams- and
JSON-shaped payloads; an SMTP server that is down is retried, then recorded and shown by
/api/status, and neither the monitor tick nor the run's end fails."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sandbox.azurite import free_port
from sandbox.mailsink import MailSink
from shared.errors import ErrorCategory
from shared.flows.models import RunCounts, RunErrorEntry, RunStatus
from shared.flows.service import RunEnd, RunRequest
from shared.notifications.events import Event, EventKind
from shared.notifications.monitor import Probe
from tests.notifications import conftest
from tests.notifications.conftest import (
    ADMIN,
    T0,
    MakeServices,
    Scripted,
    WebhookReceiver,
    flows_of,
    status_api,
)

DOWN = Probe(ok=False, message="could not connect to Creatio")


async def test_two_hosts_racing_one_episode_send_one_message(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    a, b = await make_services(notify={"mode": "connection_failures"}), await make_services()
    assert a.notifications and b.notifications
    a.notifications.monitor.checker = Scripted(creatio=[DOWN, DOWN, Probe(ok=True)])
    b.notifications.monitor.checker = Scripted(creatio=[DOWN, DOWN, Probe(ok=True)])
    now = T0
    for _ in range(3):  # both hosts check at the same moment, three times
        await asyncio.gather(a.notifications.monitor.tick(now), b.notifications.monitor.tick(now))
        now += timedelta(minutes=5)
    subjects = [m.subject for m in mail_sink.received]
    assert len(subjects) == 2, subjects
    assert subjects[0].endswith("Creatio connection failing")
    assert subjects[1].endswith("Creatio connection recovered")


async def test_the_same_event_from_two_hosts_is_sent_once(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    a, b = await make_services(notify={"mode": "every_error"}), await make_services()
    assert a.notifications and b.notifications
    event = Event(
        kind=EventKind.FLOW_STOPPED,
        key="run|r1|stopped",
        at=T0,
        what="flow stopped",
        solution="creatio-intacct",
        flow_id="creatio-intacct.x",
        run_id="r1",
    )
    sent = await asyncio.gather(
        *(n.notifier.emit(event) for n in (a.notifications, b.notifications) * 3)
    )
    assert sorted(sent) == [False] * 5 + [True]
    assert len(mail_sink.received) == 1


async def test_a_redelivered_run_end_sends_nothing_new(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    services = await make_services(notify={"mode": "every_error"})
    assert services.notifications
    flow = flows_of(services)[0]
    run = await services.flows.run_now(flow, RunRequest(), T0)
    error = RunErrorEntry(record="r", category=ErrorCategory.VALIDATION, message="bad", at=T0)
    end = RunEnd(RunStatus.FAILED, counts=RunCounts(read=1, failed=1), errors=(error,))
    for _ in range(3):  # at-least-once delivery finishes the run again
        await services.flows.finish_run(run.id, end, T0)
    assert [m.subject.rsplit(": ", 1)[-1] for m in mail_sink.received] == ["run failed"]


async def test_webhooks_get_slack_teams_and_json_payloads(
    make_services: MakeServices,
    mail_sink: MailSink,
    webhook_receiver: tuple[WebhookReceiver, str],
) -> None:
    receiver, url = webhook_receiver
    hooks = [
        {"url": f"{url}/slack/T000/B000/XXXX", "format": "slack"},
        {"url": f"{url}/teams/workflow", "format": "teams"},
        {"url": f"{url}/json", "format": "json"},
    ]
    body = {"mode": "connection_failures", "webhooks": hooks}
    services = await make_services(notify=body)
    assert services.notifications
    services.notifications.monitor.checker = Scripted(creatio=[DOWN])
    await services.notifications.monitor.tick(T0)

    assert [path for path, _ in receiver.posts] == [
        "/slack/T000/B000/XXXX",
        "/teams/workflow",
        "/json",
    ]
    slack, teams, plain = (body for _, body in receiver.posts)
    assert slack["text"].endswith("Creatio connection failing")
    assert [b["type"] for b in slack["blocks"]] == ["header", "section"]
    assert "could not connect to Creatio" in slack["blocks"][1]["text"]["text"]
    (attachment,) = teams["attachments"]
    assert teams["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"]
    assert card["body"][0]["text"].endswith("Creatio connection failing")
    assert plain["event"] == "connection_failed" and plain["system"] == "creatio"
    # the same event went to e-mail too
    assert [m.subject for m in mail_sink.received] == [slack["text"]]


async def test_smtp_down_is_retried_then_recorded_and_shown_by_status(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    closed = free_port()  # nothing listens there
    services = await make_services(
        SHUTTLE_SMTP_PORT=str(closed), notify={"mode": "connection_failures"}
    )
    assert services.notifications
    services.notifications.monitor.checker = Scripted(creatio=[DOWN])
    conftest.SLEEPS.clear()

    report = await services.notifications.monitor.tick(T0)  # must not raise

    assert report.checks["creatio"].status == "failing"
    assert conftest.SLEEPS == [1.0, 3.0]  # three attempts, two waits
    api = status_api(services)
    _, status = await api.status(T0)
    assert status.notifications is not None
    (failed,) = status.notifications.failed
    assert failed.channel == "email"
    assert failed.event == "connection|creatio|1|failed"
    assert f"127.0.0.1:{closed}" in failed.error and "3 times" in failed.error
    assert status.notifications.email == "configured"
    assert mail_sink.received == []


async def test_a_run_ends_even_when_its_alert_cannot_be_sent(make_services: MakeServices) -> None:
    services = await make_services(
        SHUTTLE_SMTP_PORT=str(free_port()), notify={"mode": "every_error"}
    )
    assert services.notifications
    flow = flows_of(services)[0]
    run = await services.flows.run_now(flow, RunRequest(), T0)
    error = RunErrorEntry(record="r", category=ErrorCategory.VALIDATION, message="bad", at=T0)
    end = RunEnd(RunStatus.PARTIAL, counts=RunCounts(read=2, created=1, failed=1), errors=(error,))
    finished = await services.flows.finish_run(run.id, end, T0)
    assert finished.status is RunStatus.PARTIAL
    assert (await services.flows.flows.get(flow)).state.value == "STOPPED"
    failures = await services.notifications.store.failures()
    assert [f.event for f in failures] == [f"run|{run.id}|errors"]


async def test_hosting_provider_hears_of_connections_only(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    body = {"mode": "every_error", "use_admin_email": False, "hosting_provider": ["noc@h.example"]}
    services = await make_services(notify=body)
    assert services.notifications
    services.notifications.monitor.checker = Scripted(creatio=[DOWN])
    await services.notifications.monitor.tick(T0)
    event = Event(kind=EventKind.FLOW_STOPPED, key="k", at=T0, what="flow stopped")
    await services.notifications.notifier.emit(event)  # no recipient: no mail
    assert [m.recipients for m in mail_sink.received] == [["noc@h.example"]]
    assert ADMIN not in mail_sink.received[0].data.decode()


async def test_no_secret_of_the_settings_reaches_a_message_or_the_status(
    make_services: MakeServices,
    mail_sink: MailSink,
    webhook_receiver: tuple[WebhookReceiver, str],
) -> None:
    receiver, url = webhook_receiver
    body = {"mode": "every_error", "webhooks": [{"url": f"{url}/json", "format": "json"}]}
    services = await make_services(SHUTTLE_SMTP_PASSWORD="smtp-Pa55word-9", notify=body)
    assert services.notifications
    # A system that echoes the credential in its error text (some proxies and gateways do).
    leak = "login failed for Supervisor/creatio-Pa55word (sender intacct-sender-Pa55)"
    services.notifications.monitor.checker = Scripted(creatio=[Probe(ok=False, message=leak)])
    await services.notifications.monitor.tick(T0)
    flow = flows_of(services)[0]
    run = await services.flows.run_now(flow, RunRequest(), T0)
    error = RunErrorEntry(record="r", category=ErrorCategory.AUTH, message=leak, at=T0)
    await services.flows.finish_run(run.id, RunEnd(RunStatus.FAILED, errors=(error,)), T0)

    api = status_api(services)
    _, status = await api.status(T0)
    texts = [m.data.decode() for m in mail_sink.received]
    texts += [json.dumps(b) for _, b in receiver.posts] + [status.model_dump_json()]
    assert len(mail_sink.received) == 2 and len(receiver.posts) == 2
    for text in texts:
        for secret in ("creatio-Pa55word", "intacct-sender-Pa55", "smtp-Pa55word-9"):
            assert secret not in text
    assert "login failed for Supervisor/***" in texts[0]
