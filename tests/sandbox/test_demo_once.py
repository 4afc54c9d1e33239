"""`shuttle demo --once` as a user runs it: a real subprocess on free ports (its own Azurite,
emulators, SMTP sink and host). It seeds the small demo, runs one full cycle of every mapped
flow of both solutions through the host's API with progress, prints a table per flow, and
exits 0 when only the deliberately bad records failed, 1 otherwise; it stops everything it
started, whether the cycle ends or SIGTERM comes first."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from sandbox.azurite import StoragePorts, connection_string, free_port, is_listening
from sandbox.demo.data import PLANNED_FAILURES, TOO_LONG_NAME
from sandbox.emulators.creatio.service import start_local as start_creatio
from tests.e2e.conftest import wait_for
from tests.sandbox.test_demo import SOLUTIONS, _catalog, _syncable

ROOT = Path(__file__).resolve().parents[2]
SHUTTLE = Path(sys.executable).parent / "shuttle"
ONCE_TIMEOUT_S = 300  # the small cycle takes about a minute and a half on two cores


@dataclass
class Demo:
    process: subprocess.Popen[str]
    ports: dict[str, int]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def tree(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        return []


def _env(ports: dict[str, int]) -> dict[str, str]:
    storage = StoragePorts(ports["blob"], ports["queue"], ports["table"])
    ours = ("SHUTTLE_", "AzureWeb", "CREATIO_", "INTACCT_", "DATAVERSE_")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return {
        **keep,
        "AzureWebJobsStorage": connection_string(storage),  # nothing listens: demo starts it
        "SHUTTLE_HOST_PORT": str(ports["api"]),
        "SHUTTLE_TABLE_PREFIX": "once" + uuid.uuid4().hex[:8],
        "SHUTTLE_SOLUTIONS": ",".join(SOLUTIONS),
        "SHUTTLE_SMTP_PORT": str(ports["smtp"]),
        "CREATIO_URL": f"http://127.0.0.1:{ports['creatio']}",
        "INTACCT_ENDPOINT": f"http://127.0.0.1:{ports['intacct']}/ia/xml/xmlgw.phtml",
        "DATAVERSE_URL": f"https://127.0.0.1:{ports['dataverse']}",
        "DATAVERSE_AUTHORITY_HOST": f"https://127.0.0.1:{ports['identity']}",
    }


@contextlib.contextmanager
def demo_once(ports: dict[str, int] | None = None) -> Iterator[Demo]:
    ports = ports or _ports()
    process = subprocess.Popen(
        [str(SHUTTLE), "demo", "--once"],
        cwd=ROOT,
        env=_env(ports),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    demo = Demo(process, ports)
    assert process.stdout is not None
    stdout = process.stdout
    demo.reader = threading.Thread(target=lambda: demo.lines.extend(iter(stdout.readline, "")))
    demo.reader.start()
    tree: list[psutil.Process] = []
    try:
        # Taken while it runs: what must be gone afterwards (Azurite is a child process).
        wait_for(
            lambda: "Shuttle API: " in demo.output or process.poll() is not None,
            120,
            "the demo to start its host",
        )
        tree = demo.tree()
        yield demo
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        demo.reader.join(timeout=10)
        _, alive = psutil.wait_procs(tree, timeout=20)
        assert alive == [], f"left behind: {[p.cmdline() for p in alive]}"


def _ports() -> dict[str, int]:
    names = ("blob", "queue", "table", "api", "smtp", "creatio", "intacct", "dataverse", "identity")
    return {name: free_port() for name in names}


def _assert_nothing_listens(ports: dict[str, int]) -> None:
    busy = [name for name, port in ports.items() if is_listening(port)]
    assert busy == [], f"still listening: {busy}"


def _table_rows(output: str) -> dict[str, list[str]]:
    """The per-flow summary table, as {flow id: cells}."""
    table = output.split("Shuttle demo: first full cycle", 1)[1].split("Demo result:", 1)[0]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if cells and cells[0].count(".") == 1 and cells[0].split(".")[0] in SOLUTIONS:
            rows[cells[0]] = cells
    return rows


def test_demo_once_runs_every_flow_once_and_exits_0_when_only_planned_records_failed() -> None:
    flows = _syncable(_catalog())
    with demo_once() as demo:
        code = demo.process.wait(timeout=ONCE_TIMEOUT_S)
        ports = demo.ports
    output = demo.output
    assert code == 0, output[-6000:]
    assert "Traceback" not in output, output
    # Progress while the cycle runs: each flow announced running, then its run's counts.
    for flow_id in flows:
        assert f"{flow_id} running" in output, flow_id
    assert "creatio-intacct.accounts-to-intacct partial: read " in output
    # The summary lists every mapped flow with its counts; only planned records failed.
    rows = _table_rows(output)
    assert set(rows) == flows, output[-6000:]
    planned = {p.flow_id for p in PLANNED_FAILURES}
    for flow_id, cells in rows.items():
        status, read, created, updated, unchanged, skipped, failed = cells[1:8]
        done = int(created) + int(updated) + int(unchanged) + int(skipped) + int(failed)
        assert int(read) == done, cells
        assert int(failed) == (1 if flow_id in planned else 0), cells
        assert status == ("partial" if flow_id in planned else "succeeded"), cells
    # The documents made it across (created, or updated where a flow only updates).
    for flow_id in (
        "creatio-intacct.opportunities-to-sales-orders",
        "creatio-intacct.orders-to-invoices",
        "creatio-intacct.payments-to-creatio",
        "creatio-intacct.credit-memos-to-creatio",
        "creatio-dynamics.invoices-to-dataverse",
        "creatio-dynamics.payments-to-creatio",
        "creatio-dynamics.credit-memos-to-creatio",
        "creatio-dynamics.cases-to-creatio",
    ):
        assert int(rows[flow_id][3]) + int(rows[flow_id][4]) > 0, rows[flow_id]
    assert f"only the {len(PLANNED_FAILURES)} deliberately bad records failed" in output
    assert f"console: http://127.0.0.1:{ports['api']}/api/console" in output
    assert f"go to the SMTP sink 127.0.0.1:{ports['smtp']}" in output
    _assert_nothing_listens(ports)


def test_demo_once_exits_1_when_a_record_beyond_the_planned_ones_fails() -> None:
    ports = _ports()
    # Someone else's Creatio on the demo's port, holding one more account too long for
    # Intacct: the demo leaves it as it is (no seeding) and syncs it like any other.
    theirs = start_creatio(f"http://127.0.0.1:{ports['creatio']}")
    assert theirs is not None
    bad_id = str(uuid.uuid4())
    try:
        extra = [
            {"Id": bad_id, "Name": TOO_LONG_NAME + " (a second one)", "Code": "EXTRA-1"},
            {"Name": "Extra Good Company", "Code": "EXTRA-2"},
        ]
        seeded = httpx.post(f"{theirs.url}/_emulator/seed", json={"Account": extra}, timeout=10)
        assert seeded.status_code == 200, seeded.text
        with demo_once(ports) as demo:
            code = demo.process.wait(timeout=ONCE_TIMEOUT_S)
    finally:
        theirs.stop()
    output = demo.output
    assert code == 1, output[-6000:]
    assert "creatio: not started here" in output
    rows = _table_rows(output)
    assert set(rows) == _syncable(_catalog())
    status, read, created, *_ = rows["creatio-intacct.accounts-to-intacct"][1:]
    assert (status, read, created) == ("partial", "2", "1")
    # The verdict names the flow, the record and the classified error.
    assert "Demo result: UNEXPECTED failures in: creatio-intacct.accounts-to-intacct" in output
    why = f"  creatio-intacct.accounts-to-intacct: record {bad_id}: validation NAME "
    assert why in output, output[-6000:]
    _assert_nothing_listens({k: v for k, v in ports.items() if k != "creatio"})


def test_sigterm_during_the_cycle_stops_everything_and_exits_1() -> None:
    with demo_once() as demo:
        wait_for(
            lambda: "[1/" in demo.output or demo.process.poll() is not None,
            60,
            "the first cycle to start",
        )
        os.killpg(demo.process.pid, signal.SIGTERM)
        code = demo.process.wait(timeout=60)
        ports = demo.ports
    assert code == 1, demo.output[-4000:]
    assert "Demo result:" not in demo.output or "stopped early" in demo.output
    assert "Traceback" not in demo.output, demo.output
    _assert_nothing_listens(ports)
