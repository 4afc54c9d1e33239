"""The demo's start-up: seed the emulators this process started, then put every mapped
scheduled flow on a one-minute schedule and start it, then tell the operator where to look."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from dataclasses import dataclass, field
from datetime import date

from sandbox.demo import STARTED_EMULATORS
from sandbox.demo.flows import Prepared, forget_bindings, prepare_flows
from sandbox.demo.seed import seed_creatio, seed_dataverse, seed_intacct
from sandbox.host import DEFAULT_PORT
from shared.runtime import Services
from shared.settings import Settings

log = logging.getLogger("shuttle")

SYSTEMS = ("creatio", "intacct", "dataverse")


@dataclass
class DemoReport:
    seeded: dict[str, dict[str, int]] = field(default_factory=dict)  # system -> object counts
    urls: dict[str, str] = field(default_factory=dict)  # system -> where it was seeded
    left_alone: list[str] = field(default_factory=list)  # systems this process did not start
    bindings_forgotten: dict[str, int] = field(default_factory=dict)
    flows: list[Prepared] = field(default_factory=list)


def _seed_one(system: str, url: str, today: date) -> dict[str, int]:
    if system == "creatio":
        return seed_creatio(url, today)
    if system == "intacct":
        return seed_intacct(url, today)
    from sandbox.tls import ensure_tls  # the CA the HTTPS starters served with

    return seed_dataverse(url, ensure_tls().ca_path)


def _seed(started: dict[str, str], report: DemoReport) -> None:
    today = date.today()
    for system in [s for s in SYSTEMS if s in started]:
        url = started.pop(system)  # taken out first: a failed seed is not retried either
        report.seeded[system] = _seed_one(system, url, today)
        report.urls[system] = url
        log.info("demo: seeded the %s emulator at %s: %s", system, url, report.seeded[system])


async def _prepare(settings: Settings, started: dict[str, str], report: DemoReport) -> None:
    services = await Services.create(settings)
    try:
        # Seeded after the flow rows exist: a new row reads changes from its creation on,
        # so the demo records must be newer than that.
        _seed(started, report)
        for solution in services.catalog.solutions.values():
            if solution.crm.value in report.seeded and solution.erp.value in report.seeded:
                forgotten = await forget_bindings(services, solution.id)
                if forgotten:
                    report.bindings_forgotten[solution.id] = forgotten
                    log.info("demo: %s: forgot %d bindings to records of earlier emulators",
                             solution.id, forgotten)  # fmt: skip
        report.flows = await prepare_flows(services)
    finally:
        await services.close()


def run_demo(args: argparse.Namespace) -> DemoReport:
    started: dict[str, str] = vars(args).setdefault(STARTED_EMULATORS, {})
    report = DemoReport()
    for system in SYSTEMS:
        if system not in started:
            report.left_alone.append(system)
            log.info("demo: the %s emulator was not started by this process (it is remote, "
                     "already seeded, or something else listens on its port); not seeding it",
                     system)  # fmt: skip
    asyncio.run(_prepare(Settings(), started, report))
    return report


def _api_url(args: argparse.Namespace) -> str:
    port = getattr(args, "port", None) or os.environ.get("SHUTTLE_HOST_PORT") or DEFAULT_PORT
    return f"http://127.0.0.1:{port}/api"


def orientation(report: DemoReport, api: str) -> str:
    lines = ["", "Shuttle demo"]
    for system, counts in report.seeded.items():
        what = ", ".join(f"{n} {obj}" for obj, n in counts.items())
        lines.append(f"  demo data in {system} ({report.urls[system]}): {what}")
    for system in report.left_alone:
        lines.append(f"  {system}: not started here, left as it is (no demo data added)")
    started = [p for p in report.flows if p.action == "started"]
    kept = [p for p in report.flows if p.action == "kept"]
    if started:
        lines.append(f"  started {len(started)} flows, each every {started[0].interval_ms // 1000}"
                     " s, first runs in dependency order:")  # fmt: skip
        order = sorted(started, key=lambda p: (p.flow_id.split(".")[0], p.shift_ms))
        lines += [f"    +{p.shift_ms / 1000:>3.0f} s  {p.flow_id}" for p in order]
    if kept:
        lines.append("  already active from an earlier run (left as they are): "
                     + ", ".join(p.flow_id for p in kept))  # fmt: skip
    lines += [
        "  the scheduler ticks every 15 s; runs show up within a minute or two:",
        f"    {api}/console                 the operator console (open it in a browser)",
        f"    curl {api}/flows                      state and last run of every flow",
        f"    curl {api}/flows/creatio-intacct.accounts-to-intacct/runs",
        f"    curl {api}/flows/creatio-dynamics.accounts-to-dataverse/runs",
        "  expect one validation error per solution: an account name too long for Intacct,",
        "  a web address too long for Dataverse. Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def mail_lines(args: argparse.Namespace) -> list[str]:
    """Where the demo's alert e-mails go (the mail sink `shuttle` started, if any)."""
    sink = vars(args).get("mail_sink")
    if not sink:
        return []
    return [f"  alert e-mails (mode {os.environ.get('SHUTTLE_NOTIFY_MODE') or 'default'}) go to"
            f" the SMTP sink {sink}", "  as .eml files (each run that rejects a record sends"
            f" one); settings: curl {_api_url(args)}/settings/notifications", ""]  # fmt: skip


def start_demo(args: argparse.Namespace, stack: object) -> None:
    """The `shuttle demo` service (after the emulators, before the host)."""
    report = run_demo(args)
    print(orientation(report, _api_url(args)) + "\n".join(mail_lines(args)), flush=True)
