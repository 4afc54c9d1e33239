"""Pure parts of the host: TimeSpan, NCRONTAB, route templates, host.json, local settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.host.config import LOCAL_MAX_POLLING_INTERVAL, HostConfigError, load_host_config
from sandbox.host.routes import parse_template, precedence_key
from sandbox.host.schedule import (
    CronSchedule,
    IntervalSchedule,
    ScheduleError,
    normalize_ncrontab,
    parse_schedule,
)
from sandbox.host.settings import (
    SettingsError,
    apply_settings,
    load_local_settings,
    resolve_placeholders,
)
from sandbox.host.timespan import format_timespan, parse_timespan


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:01", timedelta(seconds=1)),
        ("00:00:00.5", timedelta(milliseconds=500)),
        ("00:00:00.05", timedelta(milliseconds=50)),
        ("00:00:00.1234567", timedelta(microseconds=123457)),
        ("01:02:03", timedelta(hours=1, minutes=2, seconds=3)),
        ("00:10", timedelta(minutes=10)),
        ("1.02:00:00", timedelta(days=1, hours=2)),
        ("7", timedelta(days=7)),  # .NET reads a bare number as days
        (" 00:01:00 ", timedelta(minutes=1)),
        ("-00:00:02", timedelta(seconds=-2)),
    ],
)
def test_parse_timespan(text: str, expected: timedelta) -> None:
    assert parse_timespan(text) == expected


@pytest.mark.parametrize("text", ["", "1:2:3:4", "00:60:00", "24:00:00", "00:00:61", "abc", "1s"])
def test_parse_timespan_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="TimeSpan"):
        parse_timespan(text)


def test_format_timespan_round_trips() -> None:
    for text in ("00:00:01", "00:00:00.5", "1.02:03:04"):
        assert format_timespan(parse_timespan(text)) == text


@pytest.mark.parametrize(
    ("ncrontab", "normalized"),
    [
        ("0 */5 * * * *", "0 */5 * * * *"),  # seconds stay first (croniter's option)
        ("30 15 9 * * Mon-Fri", "30 15 9 * * 1-5"),
        ("0 0 0 1 Jan,Jul *", "0 0 0 1 1,7 *"),
        ("0 0 12 * * Sunday", "0 0 12 * * 0"),
        ("5 4 * * *", "0 5 4 * * *"),  # five fields: no seconds, fires at second 0
    ],
)
def test_normalize_ncrontab(ncrontab: str, normalized: str) -> None:
    assert normalize_ncrontab(ncrontab) == normalized


@pytest.mark.parametrize(
    "expression",
    [
        "* * * *",
        "* * * * * * *",
        "60 * * * * *",
        "* * 24 * * *",
        "* * * * * 7",
        "* * * ? * *",
        "*/0 * * * * *",
        "0 0 0 L * *",
        "0 0 0 * * 1#2",
        "0 0 0 5-1 * *",
    ],
)
def test_ncrontab_rejects(expression: str) -> None:
    with pytest.raises(ScheduleError):
        normalize_ncrontab(expression)


def test_cron_schedule_next_occurrences_are_utc_with_seconds() -> None:
    schedule = parse_schedule("*/15 * * * * *")
    assert isinstance(schedule, CronSchedule)
    start = datetime(2025, 1, 1, 12, 0, 7, tzinfo=UTC)
    first = schedule.next_after(start)
    assert first == datetime(2025, 1, 1, 12, 0, 15, tzinfo=UTC)
    assert schedule.next_after(first) == datetime(2025, 1, 1, 12, 0, 30, tzinfo=UTC)


def test_cron_schedule_reads_seconds_first() -> None:
    # Second 30 of 09:15 on weekdays: read seconds-last, this would be 15:09 on day 30.
    schedule = parse_schedule("30 15 9 * * Mon-Fri")
    saturday = datetime(2025, 1, 4, 10, 0, tzinfo=UTC)
    assert schedule.next_after(saturday) == datetime(2025, 1, 6, 9, 15, 30, tzinfo=UTC)
    assert parse_schedule("5 4 * * *").next_after(saturday) == datetime(
        2025, 1, 5, 4, 5, tzinfo=UTC
    )


def test_cron_day_of_month_and_weekday_must_both_match() -> None:
    # NCrontab ANDs the two day fields (Vixie cron ORs them): the 13th that is a Friday.
    schedule = parse_schedule("0 0 0 13 * Fri")
    hit = schedule.next_after(datetime(2025, 1, 1, tzinfo=UTC))
    assert hit == datetime(2025, 6, 13, tzinfo=UTC)


def test_timespan_schedule() -> None:
    schedule = parse_schedule("00:00:30")
    assert isinstance(schedule, IntervalSchedule)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert schedule.next_after(start) == start + timedelta(seconds=30)
    with pytest.raises(ScheduleError):
        parse_schedule("00:00:00")


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("flows/{flow_id}", "/flows/intacct.accounts", {"flow_id": "intacct.accounts"}),
        ("flows/{flow_id}", "/FLOWS/a/", {"flow_id": "a"}),  # case-insensitive, trailing /
        ("flows/{flow_id}", "/flows/a/runs", None),
        ("items/{id:int}", "/items/12", {"id": "12"}),
        ("items/{id:int}", "/items/twelve", None),
        ("items/{id:int:min(1)}", "/items/3", {"id": "3"}),
        ("files/{*rest}", "/files/a/b/c.txt", {"rest": "a/b/c.txt"}),
        ("files/{*rest}", "/files", {"rest": ""}),
        ("runs/{id?}", "/runs", {}),
        ("runs/{page=1}", "/runs", {"page": "1"}),
        ("monitor", "/monitor", {}),
        ("", "", {}),
    ],
)
def test_route_templates(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert parse_template(template).match(path) == expected


def test_route_precedence_prefers_literals() -> None:
    templates = ["flows/{flow_id}", "files/{*rest}", "flows/status", "files"]
    ordered = sorted((parse_template(t) for t in templates), key=precedence_key)
    position = {route.template: index for index, route in enumerate(ordered)}
    assert position["flows/status"] < position["flows/{flow_id}"]
    assert position["files"] < position["files/{*rest}"]


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_host_json_defaults_and_env_overrides(tmp_path: Path) -> None:
    _write(
        tmp_path / "host.json",
        {"extensions": {"queues": {"maxDequeueCount": 5, "visibilityTimeout": "00:00:30"}}},
    )
    env = {
        "AzureFunctionsJobHost__extensions__queues__maxDequeueCount": "2",
        "AzureFunctionsJobHost__extensions__queues__BATCHSIZE": "8",
        "AzureFunctionsJobHost__extensions__http__routePrefix": "",
    }
    config = load_host_config(tmp_path, env)
    queues = config.queues
    assert queues.max_dequeue_count == 2
    assert queues.batch_size == 8
    assert queues.visibility_timeout == timedelta(seconds=30)
    assert queues.effective_new_batch_threshold(cpu_count=2) == 8  # batchSize/2 x cpus
    assert queues.effective_max_polling_interval() == LOCAL_MAX_POLLING_INTERVAL
    assert queues.message_encoding == "base64"
    assert config.route_prefix == ""


def test_host_json_defaults_without_file(tmp_path: Path) -> None:
    config = load_host_config(tmp_path, {})
    assert config.route_prefix == "api"
    assert config.queues.max_dequeue_count == 5
    assert config.queues.visibility_timeout == timedelta(0)


@pytest.mark.parametrize(
    "queues",
    [{"batchSize": 64}, {"maxPollingInterval": "00:00:00.01"}, {"messageEncoding": "utf8"}],
)
def test_host_json_rejects_what_the_real_host_rejects(tmp_path: Path, queues: object) -> None:
    _write(tmp_path / "host.json", {"extensions": {"queues": queues}})
    with pytest.raises(HostConfigError):
        load_host_config(tmp_path, {})


def test_local_settings_prefers_the_real_file_and_env_wins(tmp_path: Path) -> None:
    _write(tmp_path / "local.settings.example.json", {"Values": {"A": "example"}})
    assert load_local_settings(tmp_path).values == {"A": "example"}
    _write(
        tmp_path / "local.settings.json",
        {"IsEncrypted": False, "Values": {"A": "real", "B": "b"}, "Host": {"LocalHttpPort": 7080}},
    )
    settings = load_local_settings(tmp_path)
    assert settings.values == {"A": "real", "B": "b"}
    assert settings.host.local_http_port == 7080
    environ = {"A": "from-env"}
    assert apply_settings(settings.values, environ) == ["B"]
    assert environ == {"A": "from-env", "B": "b"}


def test_local_settings_values_must_be_strings(tmp_path: Path) -> None:
    _write(tmp_path / "local.settings.json", {"Values": {"N": 5}})
    with pytest.raises(SettingsError, match=r"local\.settings\.json"):
        load_local_settings(tmp_path)


def test_placeholders() -> None:
    env = {"QUEUE": "record-upserts", "Sched": "0 */5 * * * *"}
    assert resolve_placeholders("%QUEUE%", function="f", what="queueName", environ=env) == (
        "record-upserts"
    )
    assert resolve_placeholders("%sched%", function="f", what="schedule", environ=env) == (
        "0 */5 * * * *"
    )
    with pytest.raises(SettingsError, match=r"function 'f'.*'MISSING'"):
        resolve_placeholders("%MISSING%", function="f", what="schedule", environ=env)
