"""The daily report on an injected clock: due at `daily_report_at` in `time_zone` (also across
a DST change), once per local day across two hosts, full or errors only; and the run-end
alerts that are not part of the mode table's scenario (failure episodes, bulk loads)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sandbox.mailsink import MailSink
from shared.errors import ErrorCategory
from shared.flows.definitions import FlowKind
from shared.flows.models import RunCounts, RunErrorEntry, RunStatus
from shared.flows.service import RunEnd, RunRequest
from shared.notifications.monitor import Probe
from shared.runtime import Services
from tests.notifications.conftest import MakeServices, Scripted, flows_of


async def _run(
    services: Services, flow: str, at: datetime, status: RunStatus, failed: int = 0
) -> str:
    run = await services.flows.run_now(flow, RunRequest(), at)
    errors = tuple(
        RunErrorEntry(
            record=f"r{i}",
            category=ErrorCategory.DUPLICATE,
            field="CUSTOMERID",
            message=f"duplicate {i}",
            at=at,
        )
        for i in range(failed)
    )
    counts = RunCounts(read=failed + 1, created=1, failed=failed)
    await services.flows.finish_run(run.id, RunEnd(status, counts=counts, errors=errors), at)
    return run.id


async def test_report_time_follows_the_time_zone_across_a_dst_change(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    body = {"mode": "full_daily", "daily_report_at": "02:30:00", "time_zone": "America/New_York"}
    services = await make_services(notify=body)
    assert services.notifications
    report = services.notifications.report
    # 2026-03-08: New York springs forward at 02:00 EST -> 03:00 EDT; 02:30 does not exist
    # that day and resolves through UTC (07:30 UTC, the EST offset). The day before, 02:30 EST
    # is 07:30 UTC; the day after, 02:30 EDT is 06:30 UTC.
    assert not await report.tick(datetime(2026, 3, 7, 7, 29, 59, tzinfo=UTC))
    assert await report.tick(datetime(2026, 3, 7, 7, 30, 0, tzinfo=UTC))
    assert not await report.tick(datetime(2026, 3, 8, 4, 59, tzinfo=UTC))  # 23:59 EST, 7 Mar
    assert not await report.tick(datetime(2026, 3, 8, 7, 29, tzinfo=UTC))
    assert await report.tick(datetime(2026, 3, 8, 7, 30, tzinfo=UTC))
    assert not await report.tick(datetime(2026, 3, 9, 6, 29, tzinfo=UTC))
    assert await report.tick(datetime(2026, 3, 9, 6, 30, tzinfo=UTC))
    days = [m.subject.rsplit("] ", 1)[-1] for m in mail_sink.received]
    assert days == [f"daily report 2026-03-0{d}" for d in (7, 8, 9)]


async def test_two_hosts_send_one_report_a_day(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    a, b = (
        await make_services(notify={"mode": "full_daily", "daily_report_at": "06:00:00"}),
        await make_services(),
    )
    assert a.notifications and b.notifications
    at = datetime(2026, 12, 5, 6, 0, 30, tzinfo=UTC)
    sent = await asyncio.gather(
        *(
            n.report.tick(at + timedelta(seconds=i))
            for i in range(3)
            for n in (a.notifications, b.notifications)
        )
    )
    assert sum(sent) == 1 and len(mail_sink.received) == 1


async def test_full_report_lists_flows_runs_failed_records_connections_and_lag(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    services = await make_services(notify={"mode": "full_daily"})
    assert services.notifications
    noon = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    flows = flows_of(services)
    await services.flows.start(flows[0], noon - timedelta(days=2))
    run_id = await _run(services, flows[0], noon, RunStatus.PARTIAL, failed=2)
    await _run(services, flows[1], noon - timedelta(days=2), RunStatus.FAILED)  # too old
    services.notifications.monitor.checker = Scripted(intacct=[Probe(ok=False, message="down")])
    await services.notifications.monitor.tick(noon)

    assert await services.notifications.report.tick(datetime(2026, 12, 5, 7, 0, tzinfo=UTC))
    (mail,) = mail_sink.received
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert mail.subject.endswith("daily report 2026-12-05")
    assert (
        f"{flows[0]}: STARTED; 1 runs (1 failed or partial); read 3, written 1, "
        "failed records 2" in text
    )
    assert "(lag " in text and f"{flows[1]}: STOPPED; 0 runs" in text
    assert "intacct: failing since 2026-12-04 12:00 UTC" in text and "creatio: ok" in text
    assert f"{flows[0]} {run_id}: r1 [duplicate] CUSTOMERID: duplicate 1" in text
    for entry in services.catalog.in_solution("creatio-intacct"):
        assert entry.flow_id in text  # every flow


async def test_errors_only_report_is_skipped_on_a_good_day_and_lists_only_errors(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    services = await make_services(notify={"mode": "error_daily"})
    assert services.notifications
    flows = flows_of(services)
    day1 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    await _run(services, flows[0], day1, RunStatus.SUCCEEDED)
    assert not await services.notifications.report.tick(day1 + timedelta(hours=19))
    await _run(services, flows[1], day1 + timedelta(days=1), RunStatus.PARTIAL, failed=1)
    assert await services.notifications.report.tick(day1 + timedelta(days=1, hours=19))
    (mail,) = mail_sink.received
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert mail.subject.endswith("daily error report 2026-12-06")
    assert flows[1] in text and f"{flows[0]}:" not in text


async def test_a_flow_failure_episode_sends_one_alert_and_one_recovery(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    services = await make_services(notify={"mode": "every_error"})
    assert services.notifications
    flow = flows_of(services)[0]
    at = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    for i in range(3):  # three failed runs without record errors (e.g. poisoned)
        await _run(services, flow, at + timedelta(minutes=i), RunStatus.FAILED)
    await _run(services, flow, at + timedelta(minutes=5), RunStatus.SUCCEEDED)
    await _run(services, flow, at + timedelta(minutes=6), RunStatus.SUCCEEDED)
    assert [m.subject.rsplit(": ", 1)[-1] for m in mail_sink.received] == [
        "run failed",
        "runs succeed again",
    ]


async def test_connection_modes_hear_of_runs_failing_on_a_dead_connection_only(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    services = await make_services(notify={"mode": "connection_failures"})
    assert services.notifications
    flows = flows_of(services)
    at = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    await _run(services, flows[0], at, RunStatus.FAILED, failed=1)  # a duplicate: not sent
    run = await services.flows.run_now(flows[1], RunRequest(), at)
    dead = RunErrorEntry(category=ErrorCategory.CONNECTION, message="could not connect", at=at)
    await services.flows.finish_run(run.id, RunEnd(RunStatus.FAILED, errors=(dead,)), at)
    (mail,) = mail_sink.received
    assert mail.subject.endswith("run failed") and flows[1].split(".")[1] in mail.subject


async def test_a_finished_bulk_load_is_reported(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    services = await make_services(notify={"mode": "full_daily"})
    assert services.notifications
    bulk = flows_of(services, FlowKind.BULK)[0]
    at = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    run = await services.flows.run_now(bulk, RunRequest(), at)
    end = RunEnd(RunStatus.SUCCEEDED, counts=RunCounts(read=1000, created=1000))
    await services.flows.finish_run(run.id, end, at)
    (mail,) = mail_sink.received
    assert mail.subject.endswith("bulk load finished (succeeded)")
    assert "read 1000, created 1000" in mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_the_report_day_is_the_local_day(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    body = {"mode": "full_daily", "daily_report_at": "23:30:00", "time_zone": "America/New_York"}
    services = await make_services(notify=body)
    assert services.notifications
    report = services.notifications.report
    # 04:29 UTC on 6 December is 23:29 on 5 December in New York: not yet.
    assert not await report.tick(datetime(2026, 12, 6, 4, 29, tzinfo=UTC))
    assert await report.tick(datetime(2026, 12, 6, 4, 30, tzinfo=UTC))
    assert mail_sink.received[0].subject.endswith("daily report 2026-12-05")


async def test_a_run_with_many_failed_records_lists_the_first_fifty(
    make_services: MakeServices, mail_sink: MailSink
) -> None:
    services = await make_services(notify={"mode": "every_error"})
    assert services.notifications
    run_id = await _run(
        services,
        flows_of(services)[0],
        datetime(2026, 12, 5, 8, 0, tzinfo=UTC),
        RunStatus.PARTIAL,
        failed=60,
    )
    (mail,) = mail_sink.received
    assert mail.subject.endswith("60 records failed")
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Failed records (60, first 50 listed):" in text
    assert "r49 [duplicate]" in text and "r50 [duplicate]" not in text
    assert f"... and 10 more: GET /api/runs/{run_id}" in text
