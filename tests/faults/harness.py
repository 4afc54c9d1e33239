"""The fault suite's scenarios, shared by tests/faults and bench/faults_bench.py.

A scenario seeds N source records, injects one kind of trouble at the target (or in the
pipeline), runs the flow once through the real pipeline (Azurite queues and tables, the
in-process queue driver sandbox/pump.py, the real connectors over HTTP against the
emulators) and then checks the target through the emulator's own store:

- duplicates: no source record has more than one target record;
- missing:    every source record that must arrive has its target record;
- wrong:      every target record carries exactly the source's mapped values;
- counts:     the run's counts add up and equal what happened (read = seeded, created =
              target records written, failed = the records that must fail, nothing pending,
              updated/unchanged/skipped 0 on a fresh target);
- errors:     every failed record has one error with a category and the field;
- shared match keys: two source records sharing a key never write one target record, and
              never make two twins: at least one fails as `duplicate`.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sandbox.pump import Pump
from shared.connectors.creatio import CreatioClient
from shared.connectors.creatio.config import CreatioConfig
from shared.connectors.creatio.sync import CreatioSync
from shared.connectors.dataverse import DataverseClient
from shared.connectors.dataverse.sync import DataverseSync
from shared.connectors.intacct import IntacctClient, IntacctSync
from shared.connectors.intacct.config import IntacctConfig
from shared.connectors.retry import RetryPolicy
from shared.flows.models import RunRecord
from shared.flows.service import RunRequest
from shared.runtime import Services
from shared.settings import Settings
from tests.faults.corpus import Hostile
from tests.faults.corpus import creatio_accounts as hostile_accounts
from tests.faults.corpus import intacct_customers as hostile_customers
from tests.support import dataverse as dv
from tests.support.creatio import RunningCreatio
from tests.support.engine import creatio_settings, engine_services, intacct_settings
from tests.support.intacct import RunningIntacct

NAMESPACE = uuid.UUID("6b1d3c1e-8f0a-4c55-9a51-5f3a4c1e0f12")


# -- scenarios ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    name: str
    knobs: Mapping[str, Any] = field(default_factory=dict)  # the target emulator's
    storm: bool = False  # scripted 429s (Retry-After 1) on the target's next calls
    duplicates: bool = False  # every record message delivered twice at once
    kill_every: int = 0  # the worker dies between create and bind for every k-th record
    hostile: bool = False  # the hostile corpus in place of as many plain records


SCENARIOS = [
    Scenario("5xx 15%", knobs={"fail_rate": 0.15, "fail_modes": {"5xx": 1}, "seed": 5}),
    Scenario(
        "timeouts 15%",
        knobs={"fail_rate": 0.15, "fail_modes": {"timeout": 1}, "timeout_s": 60, "seed": 6},
    ),
    Scenario(
        "answers dropped after the write 15%",
        knobs={"fail_rate": 0.15, "fail_modes": {"drop_after": 1}, "seed": 7},
    ),
    Scenario("429 storm", storm=True),
    Scenario("concurrent duplicate deliveries", duplicates=True),
    Scenario("worker killed between create and bind", kill_every=3),
    Scenario("hostile corpus", hostile=True),
]
BASELINE = Scenario("no faults")


# -- targets -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """One seeded source record: its id, its values, and what must happen to it."""

    id: str
    values: dict[str, Any]
    fails_on: str | None = None  # the field the target refuses it on
    shared_key: str | None = None


class Target(Protocol):
    system: str
    solution: str
    flow_id: str
    client_timeout_s: float

    def reset(self) -> None: ...
    def seed(self, records: list[Source]) -> None: ...
    def sources(self, count: int, hostile: bool) -> list[Source]: ...
    def target_admin(self) -> Any: ...
    def rows(self) -> list[dict[str, Any]]: ...
    def owner(self, row: Mapping[str, Any], by_key: Mapping[str, Source]) -> str | None: ...
    def expected(self, source: Source) -> dict[str, Any]: ...
    def shared_value(self, row: Mapping[str, Any]) -> list[str]: ...
    def settings(self) -> dict[str, str]: ...
    def dataverse(self) -> dv.RunningDataverse | None: ...


def _plain_accounts(count: int) -> list[dict[str, Any]]:
    return [
        {"Name": f"Fault Account {n:05d}", "Code": f"F{n:05d}", "Phone": f"+1 555 {n:05d}"}
        for n in range(count)
    ]


def _creatio_sources(count: int, hostile: bool, system: str) -> list[Source]:
    corpus: list[Hostile] = hostile_accounts() if hostile else []
    values = [h.values for h in corpus] + _plain_accounts(max(0, count - len(corpus)))
    out = []
    for n, record in enumerate(values):
        spec = corpus[n] if n < len(corpus) else None
        source_id = str(uuid.uuid5(NAMESPACE, f"{system}-{n}"))
        out.append(
            Source(
                source_id,
                dict(record),
                spec.fails.get(system) if spec else None,
                spec.shared_key if spec else None,
            )
        )
    return out


def _seed(admin: Any, payload: Mapping[str, Any]) -> None:
    """Seed through the admin API with JSON that escapes everything outside ASCII, as a
    UTF-16 service would send a lone surrogate (`\\ud83d`): UTF-8 cannot carry it."""
    answer = admin.http.post(
        "/seed",
        content=json.dumps(payload).encode("ascii"),
        headers={"Content-Type": "application/json"},
    )
    answer.raise_for_status()


def _trim(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class FromCreatio:
    """Targets fed by Creatio Accounts (Intacct customers, Dataverse accounts)."""

    system: str
    creatio: RunningCreatio

    def sources(self, count: int, hostile: bool) -> list[Source]:
        return _creatio_sources(count, hostile, self.system)

    def seed(self, records: list[Source]) -> None:
        _seed(
            self.creatio.admin,
            {"Account": [{"Id": s.id, "UsrActive": True, **s.values} for s in records]},
        )


class IntacctTarget(FromCreatio):
    """Creatio Account -> Intacct CUSTOMER (creatio-intacct.accounts-to-intacct)."""

    system, solution = "intacct", "creatio-intacct"
    flow_id = "creatio-intacct.accounts-to-intacct"

    def __init__(self, creatio: RunningCreatio, intacct: RunningIntacct, timeout_s: float):
        self.creatio, self.intacct, self.client_timeout_s = creatio, intacct, timeout_s

    def reset(self) -> None:
        self.creatio.admin.reset()
        self.intacct.admin.reset()

    def target_admin(self) -> Any:
        return self.intacct.admin

    def rows(self) -> list[dict[str, Any]]:
        return self.intacct.admin.rows("CUSTOMER")

    def owner(self, row: Mapping[str, Any], by_key: Mapping[str, Source]) -> str | None:
        found = by_key.get(f"id:{row.get('CUSTOMERID')}") or by_key.get(f"name:{row.get('NAME')}")
        return found.id if found else None

    def keys(self, source: Source) -> list[str]:
        code = _trim(source.values.get("Code"))
        return [f"id:{code.upper()}"] if code else [f"name:{_trim(source.values['Name'])}"]

    def expected(self, source: Source) -> dict[str, Any]:
        values = {"NAME": _trim(source.values["Name"]), "STATUS": "active"}
        code = _trim(source.values.get("Code"))
        if code:
            values["CUSTOMERID"] = code.upper()
        return values

    def shared_value(self, row: Mapping[str, Any]) -> list[str]:
        return [str(row.get("CUSTOMERID")), str(row.get("NAME"))]

    def settings(self) -> dict[str, str]:
        return {
            **creatio_settings(self.creatio),
            **intacct_settings(self.intacct),
            "INTACCT_TIMEOUT_SECONDS": str(self.client_timeout_s),
        }

    def dataverse(self) -> dv.RunningDataverse | None:
        return None


class DataverseTarget(FromCreatio):
    """Creatio Account -> Dataverse account (creatio-dynamics.accounts-to-dataverse)."""

    system, solution = "dataverse", "creatio-dynamics"
    flow_id = "creatio-dynamics.accounts-to-dataverse"

    def __init__(self, creatio: RunningCreatio, dataverse: dv.RunningDataverse, timeout_s: float):
        self.creatio, self._dataverse, self.client_timeout_s = creatio, dataverse, timeout_s

    def reset(self) -> None:
        self.creatio.admin.reset()
        self._dataverse.admin.reset()
        dv.forget_apps()

    def target_admin(self) -> Any:
        return self._dataverse.admin

    def rows(self) -> list[dict[str, Any]]:
        return self._dataverse.admin.rows("account")

    def owner(self, row: Mapping[str, Any], by_key: Mapping[str, Source]) -> str | None:
        found = by_key.get(f"src:{row.get('shuttle_creatioaccountid')}")
        return found.id if found else None

    def keys(self, source: Source) -> list[str]:
        return [f"src:{source.id}"]

    def expected(self, source: Source) -> dict[str, Any]:
        return {
            "name": _trim(source.values["Name"]),
            "accountnumber": _trim(source.values.get("Code")) or None,
            "telephone1": _trim(source.values.get("Phone")) or None,
            "shuttle_creatioaccountid": source.id,
        }

    def shared_value(self, row: Mapping[str, Any]) -> list[str]:
        return [str(row.get("accountnumber")), str(row.get("name"))]

    def settings(self) -> dict[str, str]:
        return creatio_settings(self.creatio)

    def dataverse(self) -> dv.RunningDataverse | None:
        return self._dataverse


class CreatioTarget:
    """Intacct CUSTOMER -> Creatio Account (creatio-intacct.customers-to-creatio)."""

    system, solution = "creatio", "creatio-intacct"
    flow_id = "creatio-intacct.customers-to-creatio"

    def __init__(self, creatio: RunningCreatio, intacct: RunningIntacct, timeout_s: float):
        self.creatio, self.intacct, self.client_timeout_s = creatio, intacct, timeout_s

    def reset(self) -> None:
        self.creatio.admin.reset()
        self.intacct.admin.reset()

    def sources(self, count: int, hostile: bool) -> list[Source]:
        corpus = hostile_customers() if hostile else []
        out = [Source(h.values["CUSTOMERID"], dict(h.values), None, h.shared_key) for h in corpus]
        for n in range(max(0, count - len(corpus))):
            out.append(
                Source(f"C{n:05d}", {"CUSTOMERID": f"C{n:05d}", "NAME": f"Fault Customer {n:05d}"})
            )
        return out

    def seed(self, records: list[Source]) -> None:
        self.intacct.admin.seed({"CUSTOMER": [{**s.values, "STATUS": "active"} for s in records]})

    def target_admin(self) -> Any:
        return self.creatio.admin

    def rows(self) -> list[dict[str, Any]]:
        return self.creatio.rows("Account")

    def owner(self, row: Mapping[str, Any], by_key: Mapping[str, Source]) -> str | None:
        found = by_key.get(f"id:{row.get('Code')}")
        return found.id if found else None

    def keys(self, source: Source) -> list[str]:
        return [f"id:{source.id}"]

    def expected(self, source: Source) -> dict[str, Any]:
        name = source.values["NAME"]
        return {
            "Name": _trim(name),
            "Code": source.id,
            "UsrActive": True,
            "UsrErpFullName": name[:210],
        }

    def shared_value(self, row: Mapping[str, Any]) -> list[str]:
        return [str(row.get("Code")), str(row.get("Name"))]

    def settings(self) -> dict[str, str]:
        return {
            **creatio_settings(self.creatio),
            **intacct_settings(self.intacct),
            "CREATIO_TIMEOUT_SECONDS": str(self.client_timeout_s),
        }

    def dataverse(self) -> dv.RunningDataverse | None:
        return None


def connectors(target: Target, retry: RetryPolicy) -> Callable[[str, Settings], Any]:
    """The real connectors from the settings, with the target's client timeout and `retry`
    (the suite waits less between tries than production does; Retry-After still rules)."""
    timeout = target.client_timeout_s

    def build(system: str, settings: Settings) -> Any:
        if system == "creatio":
            config = CreatioConfig.from_settings(settings, retry=retry, timeout_s=timeout)
            return CreatioSync(CreatioClient(config))
        if system == "intacct":
            return IntacctSync(
                IntacctClient(IntacctConfig.from_settings(settings, retry=retry, timeout_s=timeout))
            )
        running = target.dataverse()
        assert system == "dataverse" and running is not None
        # The test CA is trusted through the config.
        return DataverseSync(DataverseClient(dv.config(running, timeout_s=timeout, retry=retry)))

    return build


# -- running a scenario ----------------------------------------------------------------------
@dataclass
class Report:
    target: str
    scenario: str
    records: int
    seconds: float
    read: int = 0
    created: int = 0
    failed: int = 0
    must_fail: int = 0
    duplicates: int = 0
    missing: int = 0
    wrong: int = 0
    extra: int = 0
    merged: int = 0  # shared match keys written onto one target record or twinned
    unclassified: int = 0  # failed records without an error naming category and field
    counts_ok: bool = True
    deliveries: int = 0
    injected: int = 0  # faults the target emulator answered with
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def row(self) -> list[str]:
        return [
            self.target,
            self.scenario,
            str(self.records),
            str(self.read),
            str(self.created),
            f"{self.failed}/{self.must_fail}",
            str(self.duplicates),
            str(self.missing),
            str(self.wrong),
            str(self.merged),
            str(self.unclassified),
            "yes" if self.counts_ok else "NO",
            str(self.injected),
            f"{self.seconds:.1f}",
        ]


HEADER = [
    "target",
    "scenario",
    "records",
    "read",
    "created",
    "failed/must",
    "dupes",
    "missing",
    "wrong",
    "merged",
    "unclassified",
    "counts ok",
    "faults",
    "seconds",
]


def table(reports: list[Report], baseline: Mapping[str, float] | None = None) -> str:
    header = HEADER + (["recovery s"] if baseline is not None else [])
    rows = []
    for r in reports:
        row = r.row()
        if baseline is not None:
            base = baseline.get(r.target)
            row.append(f"{r.seconds - base:+.1f}" if base is not None else "-")
        rows.append(row)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


@contextmanager
def _patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    had = name in vars(obj)
    old = vars(obj).get(name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        if had:
            setattr(obj, name, old)
        else:
            delattr(obj, name)


@asynccontextmanager
async def _trouble(services: Services, scenario: Scenario) -> AsyncIterator[None]:
    """The pipeline-side trouble: a worker killed between create and bind."""
    records = services.records
    with contextlib.ExitStack() as stack:
        if scenario.kill_every:
            bindings = records.bindings
            write = bindings.write
            killed: set[str] = set()
            counter = Counter[str]()

            async def dies_before_bind(*args: Any, **kwargs: Any) -> Any:
                key = repr(args[:3])
                counter[key] += 1
                if counter[key] == 1 and len(counter) % scenario.kill_every == 0:
                    killed.add(key)
                    raise RuntimeError("worker killed between create and bind")
                return await write(*args, **kwargs)

            stack.enter_context(_patched(bindings, "write", dies_before_bind))
        yield


async def run_scenario(
    target: Target,
    scenario: Scenario,
    *,
    connection: str,
    prefix: str,
    records: int,
    storm: int,
    retry: RetryPolicy | None = None,
    limit_s: float = 600,
) -> Report:
    target.reset()
    sources = target.sources(records, scenario.hostile)
    target.seed(sources)
    admin = target.target_admin()
    if scenario.knobs:
        admin.knobs(**scenario.knobs)
    if scenario.storm:
        admin.faults({"fault": "429", "times": storm, "retry_after": 1})
    async with engine_services(
        connection,
        prefix,
        target.solution,
        {"SHUTTLE_PAGE_SIZE": "100", **target.settings()},
        connectors(target, retry or RetryPolicy()),
    ) as services:
        # Duplicate deliveries: every record message worked twice at the same time.
        pump = Pump(services, concurrent_duplicates=scenario.duplicates)
        started = time.monotonic()
        async with _trouble(services, scenario):
            run = await services.flows.run_now(target.flow_id, RunRequest(), datetime.now(UTC))
            finished = await pump.run_finished(run.id, limit_s=limit_s)
        seconds = time.monotonic() - started
    stats = admin.stats()
    admin.knobs(fail_rate=0.0)  # the checks below read through the admin API only
    report = check(target, scenario, sources, finished, seconds)
    report.deliveries = pump.deliveries
    report.injected = _injected(stats)
    return report


def _injected(stats: Mapping[str, Any]) -> int:
    return int(stats.get("injected", 0))


def check(
    target: Target, scenario: Scenario, sources: list[Source], run: RunRecord, seconds: float
) -> Report:
    report = Report(target.system, scenario.name, len(sources), seconds)
    problems = report.problems
    by_key: dict[str, Source] = {}
    for source in sources:
        for key in target.keys(source):  # type: ignore[attr-defined]
            by_key.setdefault(key, source)
    rows = target.rows()
    owned: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        owner = target.owner(row, by_key)
        if owner is None:
            report.extra += 1
            problems.append(f"a target record belongs to no source record: {_short(row)}")
            continue
        owned.setdefault(owner, []).append(row)
    errors = {e.record: e for e in run.errors}
    shared: dict[str, list[Source]] = {}
    for source in sources:
        if source.shared_key is not None:
            shared.setdefault(source.shared_key, []).append(source)
            continue
        mine = owned.get(source.id, [])
        if len(mine) > 1:
            report.duplicates += len(mine) - 1
            problems.append(f"{source.id}: {len(mine)} target records")
        if source.fails_on is not None:
            report.must_fail += 1
            if mine:
                problems.append(f"{source.id} must fail on {source.fails_on} but was written")
            error = errors.get(source.id)
            if error is None:
                problems.append(f"{source.id} must fail on {source.fails_on}: no error")
                report.unclassified += 1
            elif (error.field or "").lower() != source.fails_on.lower():
                problems.append(
                    f"{source.id}: failed naming {error.field!r}, not "
                    f"{source.fails_on!r}: {error.message[:160]}"
                )
                report.unclassified += 1
            continue
        if not mine:
            report.missing += 1
            why = errors.get(source.id)
            problems.append(
                f"{source.id} is missing"
                + (f" ({why.category}: {why.field}: {why.message[:160]})" if why else "")
            )
            continue
        want = target.expected(source)
        got = {k: mine[0].get(k) for k in want}
        if got != want:
            report.wrong += 1
            problems.append(f"{source.id}: {_diff(want, got)}")
    for key, pair in shared.items():
        holders = [row for row in rows if key in target.shared_value(row)]
        written = [s for s in pair if owned.get(s.id)]
        duplicates = [
            s
            for s in pair
            if (e := errors.get(s.id)) is not None and e.category.value == "duplicate"
        ]
        report.must_fail += len(pair) - len(written)
        if len(holders) > 1 or len(written) > 1 or not duplicates:
            report.merged += 1
            problems.append(
                f"shared key {key!r}: {len(holders)} target records, "
                f"{len(written)} written, {len(duplicates)} failed as duplicate"
            )
        for source in written:
            want = target.expected(source)
            got = {k: owned[source.id][0].get(k) for k in want}
            if got != want:
                report.wrong += 1
                problems.append(f"{source.id} (shared key): {_diff(want, got)}")
    for record, error in errors.items():
        if not error.field or not error.category:
            report.unclassified += 1
            problems.append(f"{record}: error without field: {error.message[:160]}")
    c = run.counts
    report.read, report.created, report.failed = c.read, c.created, c.failed
    written = sum(1 for s in sources if owned.get(s.id))
    expected_counts = {
        "read": len(sources),
        "created": written,
        "failed": len(sources) - written,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "pending": 0,
    }
    actual = {k: getattr(c, k) for k in expected_counts}
    if actual != expected_counts or len(errors) != c.failed:
        report.counts_ok = False
        problems.append(f"counts {actual} (errors {len(errors)}), what happened: {expected_counts}")
    return report


def _short(row: Mapping[str, Any]) -> str:
    return repr({k: (v[:40] if isinstance(v, str) else v) for k, v in list(row.items())[:6]})


def _diff(want: Mapping[str, Any], got: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k}: want {str(want[k])[:40]!r}, got {str(got[k])[:40]!r}"
        for k in want
        if want[k] != got[k]
    )


__all__ = [
    "BASELINE",
    "SCENARIOS",
    "CreatioTarget",
    "DataverseTarget",
    "IntacctTarget",
    "Report",
    "Scenario",
    "run_scenario",
    "table",
]
