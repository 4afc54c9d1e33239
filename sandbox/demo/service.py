"""The demo's start-up: seed the emulators this process started, put every mapped scheduled
flow on a one-minute schedule (stopped), tell the operator where to look; once the host is
up, run the first full cycle with live progress, print a table per flow, and then either
start the flows (`shuttle demo`) or stop the host with the verdict (`shuttle demo --once`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from datetime import date

from rich.console import Console

from sandbox.demo import STARTED_EMULATORS
from sandbox.demo.cycle import Cycle, CycleDriver
from sandbox.demo.data import PLANNED_FAILURES
from sandbox.demo.flows import (
    Prepared,
    cycle_order,
    cycle_waits,
    forget_bindings,
    prepare_flows,
)
from sandbox.demo.progress import Progress, summary
from sandbox.demo.seed import seed_creatio, seed_dataverse, seed_intacct
from sandbox.demo.volume import SIZES, Book
from sandbox.host import DEFAULT_PORT
from shared.runtime import Services
from shared.settings import Settings

log = logging.getLogger("shuttle")

SYSTEMS = ("creatio", "intacct", "dataverse")
REPORT = "demo_report"  # on the parsed arguments: what start_demo prepared
EXIT_CODE = "demo_exit_code"
WIDE = 160  # on the parsed arguments: the first cycle's verdict


@dataclass
class DemoReport:
    seeded: dict[str, dict[str, int]] = field(default_factory=dict)  # system -> object counts
    urls: dict[str, str] = field(default_factory=dict)  # system -> where it was seeded
    left_alone: list[str] = field(default_factory=list)  # systems this process did not start
    bindings_forgotten: dict[str, int] = field(default_factory=dict)
    flows: list[Prepared] = field(default_factory=list)
    planned: dict[str, set[str]] = field(default_factory=dict)  # flow -> bad record ids
    size: str = "full"
    cycle: list[str] = field(default_factory=list)  # the first cycle's flows, in order
    waits: dict[str, list[str]] = field(default_factory=dict)  # see flows.cycle_waits


def _seed_one(system: str, url: str, today: date, book: Book, report: DemoReport) -> dict[str, int]:
    if system == "creatio":
        counts, report.planned = seed_creatio(url, today, book)
        return counts
    if system == "intacct":
        return seed_intacct(url, today, book)
    from sandbox.tls import ensure_tls  # the CA the HTTPS starters served with

    return seed_dataverse(url, ensure_tls().ca_path, book)


def _seed(started: dict[str, str], report: DemoReport) -> None:
    today = date.today()
    book = Book(SIZES[report.size], today)
    for system in [s for s in SYSTEMS if s in started]:
        url = started.pop(system)  # taken out first: a failed seed is not retried either
        report.seeded[system] = _seed_one(system, url, today, book, report)
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
                    log.info(
                        "demo: %s: forgot %d bindings to records of earlier emulators",
                        solution.id,
                        forgotten,
                    )
        report.flows = await prepare_flows(services)
        report.cycle = cycle_order(
            services.catalog, [p.flow_id for p in report.flows if p.action != "refused"]
        )
        report.waits = cycle_waits(services.catalog, report.cycle)
    finally:
        await services.close()


def run_demo(args: argparse.Namespace) -> DemoReport:
    started: dict[str, str] = vars(args).setdefault(STARTED_EMULATORS, {})
    report = DemoReport(size=getattr(args, "size", None) or "full")
    for system in SYSTEMS:
        if system not in started:
            report.left_alone.append(system)
            log.info(
                "demo: the %s emulator was not started by this process (it is remote, "
                "already seeded, or something else listens on its port); not seeding it",
                system,
            )
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
    ready = [p for p in report.flows if p.action in ("ready", "started")]
    kept = [p for p in report.flows if p.action == "kept"]
    if ready:
        lines.append(
            f"  {len(ready)} flows: first one full cycle in dependency order (below), "
            f"then each every {ready[0].interval_ms // 1000} s, shifted:"
        )
        rank = {flow_id: n for n, flow_id in enumerate(report.cycle)}
        order = sorted(ready, key=lambda p: rank.get(p.flow_id, len(rank)))
        lines += [f"    +{p.shift_ms / 1000:>3.0f} s  {p.flow_id}" for p in order]
    if kept:
        lines.append(
            "  already active from an earlier run (left as they are): "
            + ", ".join(p.flow_id for p in kept)
        )
    bad = sum(len(ids) for ids in report.planned.values())
    lines += [
        "  the scheduler ticks every 15 s; runs show up in the console and the API:",
        f"    {api}/console                 the operator console (open it in a browser)",
        f"    curl {api}/flows                      state and last run of every flow",
        f"    curl {api}/flows/creatio-intacct.accounts-to-intacct/runs",
        f"    curl {api}/flows/creatio-dynamics.accounts-to-dataverse/runs",
        f"  expect {bad or 'a few'} validation errors, each a deliberately bad record:",
        *(f"    {p.flow_id}: {p.why}" for p in PLANNED_FAILURES),
        "  Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def mail_lines(args: argparse.Namespace) -> list[str]:
    """Where the demo's alert e-mails go (the mail sink `shuttle` started, if any)."""
    sink = vars(args).get("mail_sink")
    if not sink:
        return []
    return [
        f"  alert e-mails (mode {os.environ.get('SHUTTLE_NOTIFY_MODE') or 'default'}) go to"
        f" the SMTP sink {sink}",
        "  as .eml files (each run that rejects a record sends"
        f" one); settings: curl {_api_url(args)}/settings/notifications",
        "",
    ]


def start_demo(args: argparse.Namespace, stack: object) -> None:
    """The `shuttle demo` service (after the emulators, before the host)."""
    report = run_demo(args)
    vars(args)[REPORT] = report
    print(orientation(report, _api_url(args)) + "\n".join(mail_lines(args)), flush=True)


def first_cycle(args: argparse.Namespace, api_url: str, stop: threading.Event) -> Cycle:
    """Run the first full cycle with live progress, then print the table per flow. With
    `--once`, ask the host to stop afterwards (as Ctrl-C would); else start the flows."""
    report: DemoReport = vars(args).get(REPORT) or DemoReport()
    once = bool(getattr(args, "once", False))
    console = Console()
    if not console.is_terminal:  # a pipe or a log: wide enough for the flow ids
        console = Console(width=WIDE)
    console.print(f"Demo: first full cycle of {len(report.cycle)} flows", highlight=False)
    with Progress(console) as progress:
        driver = CycleDriver(
            api_url, report.cycle, report.planned, progress.update, stop, report.waits
        )
        cycle = driver.run()
    summary(cycle, console, api_url, mail_lines(args), once)
    if not once and not cycle.aborted:
        for refused in driver.start_flows():
            log.warning("demo: could not start %s", refused)
    return cycle


def start_first_cycle(args: argparse.Namespace, api_url: str) -> threading.Event:
    """In a thread (the host serves on this one): the first cycle; with `--once` its exit
    code lands in args and SIGTERM stops the host. Set the returned event to stop it early."""
    stop = threading.Event()

    def work() -> None:
        try:
            cycle = first_cycle(args, api_url, stop)
            vars(args)[EXIT_CODE] = cycle.exit_code
        except Exception:
            log.exception("demo: the first cycle failed")
            vars(args)[EXIT_CODE] = 1
        if getattr(args, "once", False) and not stop.is_set():
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=work, name="demo-cycle", daemon=True).start()
    return stop
