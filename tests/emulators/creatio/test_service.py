"""Starting the emulator the ways the sandbox does: `shuttle dev`'s starter and
`python -m sandbox.emulators.creatio`."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time

import httpx

from sandbox.azurite import REPO_ROOT, free_port, is_listening
from sandbox.emulators.creatio.service import start_local
from tests.support.creatio import LOGIN, PASSWORD, USER


def _login_works(url: str) -> bool:
    response = httpx.post(url + LOGIN, json={"UserName": USER, "UserPassword": PASSWORD})
    return response.status_code == 200 and response.json()["Code"] == 0


def test_start_local_serves_on_creatio_urls_port_and_stops() -> None:
    port = free_port()
    server = start_local(f"http://127.0.0.1:{port}")
    assert server is not None
    try:
        assert server.url == f"http://127.0.0.1:{port}"
        assert _login_works(server.url)
        # A second start finds the port taken and leaves it to the first.
        assert start_local(f"http://127.0.0.1:{port}") is None
    finally:
        server.stop()
    assert not is_listening(port)


def test_start_local_leaves_remote_sites_alone() -> None:
    assert start_local("https://mysite.creatio.com") is None


def test_module_entry_point_runs_the_emulator() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.emulators.creatio", "--port", str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == f"Creatio emulator: http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while not is_listening(port):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the emulator did not start listening"
            time.sleep(0.05)
        assert _login_works(f"http://127.0.0.1:{port}")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
    assert not is_listening(port)
