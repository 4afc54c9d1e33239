"""The README's main-job command (`make demo`): it starts Azurite, the emulators and the local
host, prints the API's address, syncs its demo data through both solutions, and Ctrl-C stops
everything, leaving no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import uuid

import httpx
import psutil

from sandbox.azurite import StoragePorts, connection_string, free_port, is_listening
from tests.e2e.conftest import ROOT, wait_for

# Started first by the demo (shift 0): each must end a run that created records.
FIRST_FLOWS = ("creatio-intacct.accounts-to-intacct", "creatio-dynamics.accounts-to-dataverse")
# The first scheduler tick comes within 15 s; a run then takes seconds. Generous on purpose.
SYNC_TIMEOUT_S = 240


def _created_run(api: httpx.Client, flow_id: str) -> dict | None:
    """The flow's last run, once one has ended having created records."""
    last = api.get(f"/flows/{flow_id}").json().get("last_run")
    if last and last["status"] != "running" and last["counts"]["created"] > 0:
        return last  # type: ignore[no-any-return]
    return None


def test_make_demo_serves_the_api_and_ctrl_c_leaves_nothing_behind() -> None:
    ports = StoragePorts(free_port(), free_port(), free_port())
    assert not any(is_listening(p) for p in ports.as_tuple())
    api_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SHUTTLE_", "AzureWeb"))},
        "AzureWebJobsStorage": connection_string(ports),  # nothing listens: make demo starts it
        "SHUTTLE_HOST_PORT": str(api_port),
        "SHUTTLE_TABLE_PREFIX": "demo" + uuid.uuid4().hex[:8],
    }
    make = subprocess.Popen(
        ["make", "-s", "demo"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(make.stdout.readline, "")))
    reader.start()

    def api_line() -> str | None:
        found = next((ln for ln in lines if ln.startswith("Shuttle API: ")), None)
        if found is None and make.poll() is not None:
            raise AssertionError("make demo exited early:\n" + "".join(lines))
        return found

    try:
        line = wait_for(api_line, 120, "make demo to print the API address")
        assert re.fullmatch(rf"Shuttle API: http://127\.0\.0\.1:{api_port}/api\n", line)
        # The preflight ran first, before the API was up, and passed (sandbox/onboarding.py).
        preflight = next(n for n, ln in enumerate(lines) if ln.startswith("Preflight "))
        assert lines[preflight].startswith("Preflight passed"), "".join(lines)
        assert preflight < lines.index(line)
        status = httpx.get(f"http://127.0.0.1:{api_port}/api/status", timeout=10)
        assert status.status_code == 200 and status.json()["flows"]["total"] > 0
        assert all(is_listening(p) for p in ports.as_tuple()), "Azurite runs"
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}/api", timeout=10) as api:
            for flow_id in FIRST_FLOWS:
                run = wait_for(
                    lambda f=flow_id: _created_run(api, f),
                    SYNC_TIMEOUT_S,
                    f"a run of {flow_id} that created records",
                )
                # One demo account is rejected by each solution's mapping, classified.
                errors = run["errors"]  # type: ignore[index]
                assert any(e["category"] == "validation" and e["field"] for e in errors), run
        tree = [psutil.Process(make.pid), *psutil.Process(make.pid).children(recursive=True)]
        assert any("azurite" in " ".join(p.cmdline()) for p in tree)

        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        make.wait(timeout=60)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
        reader.join(timeout=10)
    _, alive = psutil.wait_procs(tree, timeout=20)
    assert alive == [], f"left behind: {[p.cmdline() for p in alive]}"
    assert not any(is_listening(p) for p in (*ports.as_tuple(), api_port))
    assert "Traceback" not in "".join(lines), "".join(lines)
