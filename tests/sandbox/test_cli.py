"""`shuttle dev` as a user runs it: its own Azurite, the sample app, Ctrl-C, nothing left."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from sandbox.azurite import REPO_ROOT, StoragePorts, connection_string, free_port, is_listening
from sandbox.cli import build_parser
from tests.sandbox.helpers import SAMPLE_APP

SHUTTLE = Path(sys.executable).parent / "shuttle"


def _command() -> list[str]:
    # The console script when the project is installed (make setup), else the module.
    return [str(SHUTTLE)] if SHUTTLE.exists() else [sys.executable, "-m", "sandbox.cli"]


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def _stdout_lines(process: subprocess.Popen[str]) -> Iterator[queue.Queue[str]]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    yield lines


def _wait_for_line(lines: queue.Queue[str], prefix: str, timeout: float, log: Path) -> str:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {prefix!r} line; log:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(queue.Empty):
            line = lines.get(timeout=min(remaining, 0.5))
            if line.startswith(prefix):
                return line


def test_parser_defaults() -> None:
    args = build_parser().parse_args(["dev"])
    assert (args.command, args.port, args.app_dir, args.preload) == ("dev", None, REPO_ROOT, [])
    args = build_parser().parse_args(["host", "--preload", "a", "--preload", "b", "--port", "1"])
    assert (args.preload, args.port) == (["a", "b"], 1)


@pytest.mark.e2e
def test_dev_runs_its_own_azurite_and_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    storage = StoragePorts(free_port(), free_port(), free_port())
    assert not any(is_listening(p) for p in storage.as_tuple())
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SHUTTLE_", "AzureWeb"))},
        "AzureWebJobsStorage": connection_string(storage),  # free ports: the CLI starts Azurite
        "SAMPLE_RECORD_FILE": str(tmp_path / "records.jsonl"),
        "SAMPLE_TIMER_SCHEDULE": "0 0 0 1 1 *",
        "SAMPLE_QUEUE": "cli-in",
        "SAMPLE_OUTPUT_QUEUE": "cli-out",
    }
    log = tmp_path / "shuttle.log"
    args = [*_command(), "dev", "--port", str(port), "--app-dir", str(SAMPLE_APP)]
    args += ["--preload", "sample_preload"]
    with log.open("w") as log_file:
        process = subprocess.Popen(
            args,
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            start_new_session=True,
        )
    tree: list[psutil.Process] = []
    try:
        with _stdout_lines(process) as lines:
            ready = _wait_for_line(lines, "Shuttle API:", 90, log)
        assert ready == f"Shuttle API: http://127.0.0.1:{port}/api"
        assert all(is_listening(p) for p in storage.as_tuple())

        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api", timeout=10) as client:
            item = client.get("/items/5")
            health = client.get("/health")
        assert item.status_code == 200
        assert item.json() == {"op": "get", "item_id": "5"}
        assert (health.status_code, health.text) == (503, "fault injected")  # --preload ran

        parent = psutil.Process(process.pid)
        tree = [parent, *parent.children(recursive=True)]
        assert len(tree) > 1, "Azurite should run as a child of the CLI"

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
        assert process.wait(timeout=60) == 0, log.read_text(errors="replace")
        _, alive = psutil.wait_procs(tree, timeout=20)
        assert alive == [], f"left behind: {alive}"
        _wait_for(
            lambda: not any(is_listening(p) for p in storage.as_tuple()),
            20,
            "the storage ports to close",
        )
        text = log.read_text(errors="replace")
        assert "AccountKey" not in text  # no connection strings in the log
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                proc.kill()
