"""The real app under the local host (a subprocess), over real HTTP, on an Azurite of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sandbox.azurite import Azurite, StoragePorts, free_port
from tests.support.creatio import RunningCreatio, running_creatio
from tests.support.dataverse import RunningDataverse
from tests.support.emulator_fixtures import (  # noqa: F401 (fixtures)
    creatio_emulator,
    dataverse_emulator,
    intacct_emulator,
)
from tests.support.engine import creatio_settings, intacct_settings
from tests.support.intacct import RunningIntacct, running_intacct

ROOT = Path(__file__).resolve().parents[2]
SHUTTLE = Path(sys.executable).parent / "shuttle"


@dataclass
class RunningHost:
    process: subprocess.Popen[str]
    base_url: str
    env: dict[str, str]
    log_path: Path

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10, **kwargs)  # type: ignore[arg-type]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(predicate: Callable[[], object], timeout: float = 60, what: str = "it") -> object:
    """Poll until predicate() is truthy; fail with `what` after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _azurite() -> Iterator[Azurite]:
    instance = Azurite(StoragePorts(free_port(), free_port(), free_port()))
    instance.start()
    yield instance
    instance.stop()


# Hosts with one table prefix on one storage account would share queues; a test that starts
# two hosts after each other gets an Azurite per test.
e2e_azurite = pytest.fixture(scope="module")(_azurite)
own_azurite = pytest.fixture(_azurite)


@dataclass
class EmulatedSystems:
    """A Creatio and an Intacct emulator over HTTP; `env` points a host's connectors at them,
    so its runs go through the real sync engine."""

    creatio: RunningCreatio
    intacct: RunningIntacct

    @property
    def env(self) -> dict[str, str]:
        return {**creatio_settings(self.creatio), **intacct_settings(self.intacct)}


# One of each emulator per module that asks (tests/support/emulator_fixtures.py), by the
# short names these tests use; a test resets (or keeps apart) what it uses.
@pytest.fixture(scope="module")
def creatio(request: pytest.FixtureRequest) -> RunningCreatio:
    return request.getfixturevalue("creatio_emulator")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def intacct(request: pytest.FixtureRequest) -> RunningIntacct:
    return request.getfixturevalue("intacct_emulator")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def dataverse(request: pytest.FixtureRequest) -> RunningDataverse:
    return request.getfixturevalue("dataverse_emulator")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def emulated_systems() -> Iterator[EmulatedSystems]:
    with running_creatio() as creatio, running_intacct() as intacct:
        yield EmulatedSystems(creatio, intacct)


@pytest.fixture
def api(host: RunningHost) -> Iterator[httpx.Client]:
    """A client of the host's HTTP API (`host`: whatever host the module starts)."""
    with host.client() as client:
        yield client


def start_host(
    azurite: Azurite, tmp: Path, *, preload: list[str] | None = None, **env: str
) -> RunningHost:
    port = free_port()
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SHUTTLE_", "AzureWeb"))},
        "AzureWebJobsStorage": azurite.connection_string,
        "SHUTTLE_TABLE_PREFIX": "e" + uuid.uuid4().hex[:10],
        "SHUTTLE_SCHEDULER_SCHEDULE": "* * * * * *",  # every second: tests don't wait 15 s
        "SHUTTLE_EGRESS_IP": "198.51.100.20",
        # Retry at once and poll often, so a message's five tries take seconds.
        "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:00",
        "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:01",
        **env,
    }
    log_path = tmp / f"host-{port}.log"
    args = [str(SHUTTLE), "host", "--port", str(port), "--app-dir", str(ROOT)]
    for module in preload or []:
        args += ["--preload", module]
    log_file = log_path.open("w")
    process = subprocess.Popen(
        args,
        env=full_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    host = RunningHost(process, f"http://127.0.0.1:{port}/api", full_env, log_path)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"local host exited early:\n{host.log()}")
        return "Shuttle API:" in host.log()

    wait_for(ready, 60, "the local host to listen")
    return host


def stop_host(host: RunningHost) -> None:
    host.process.terminate()
    try:
        host.process.wait(20)
    except subprocess.TimeoutExpired:
        host.process.kill()
        host.process.wait(10)
