"""What the Creatio-Intacct scenarios through the local host share (test_finance_intacct_host,
test_rules_intacct_host): one host pointing at the module's emulators (tests/e2e/conftest.py)
whose log must end clean, the host's API, runs through it, and the vendors' own APIs (Creatio
OData, Intacct XML). A module takes these fixtures by importing them; each is registered under
its public name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.azurite import Azurite
from tests.e2e.conftest import RunningHost, start_host, stop_host
from tests.e2e.runs import run_through
from tests.e2e.vendors import CreatioOData, IntacctXml
from tests.support.creatio import RunningCreatio
from tests.support.engine import creatio_settings, intacct_settings
from tests.support.intacct import RunningIntacct

SOLUTION = "creatio-intacct"


def systems_env(creatio: RunningCreatio, intacct: RunningIntacct) -> dict[str, str]:
    """A host's settings for creatio-intacct against the two emulators."""
    return {
        "SHUTTLE_SOLUTIONS": SOLUTION,
        **creatio_settings(creatio),
        **intacct_settings(intacct),
    }


def run(api: httpx.Client, flow: str, *, status: str | None = "succeeded") -> dict[str, Any]:
    """One run of the solution's `flow` through the host, to its end (`status` None: any)."""
    return run_through(api, f"{SOLUTION}.{flow}", status=status)


@pytest.fixture(scope="module", name="host")
def host_fixture(
    e2e_azurite: Azurite,
    tmp_path_factory: pytest.TempPathFactory,
    creatio: RunningCreatio,
    intacct: RunningIntacct,
) -> Iterator[RunningHost]:
    running = start_host(
        e2e_azurite, tmp_path_factory.mktemp("host"), **systems_env(creatio, intacct)
    )
    yield running
    stop_host(running)
    log = running.log()
    assert "Traceback" not in log and "Unclosed client session" not in log, log[-4000:]


@pytest.fixture(scope="module", name="api")
def api_fixture(host: RunningHost) -> Iterator[httpx.Client]:
    with host.client() as client:
        yield client


@pytest.fixture(scope="module", name="odata")
def odata_fixture(creatio: RunningCreatio) -> Iterator[CreatioOData]:
    client = CreatioOData(creatio.url)
    yield client
    client.close()


@pytest.fixture(scope="module", name="xml")
def xml_fixture(intacct: RunningIntacct) -> IntacctXml:
    return IntacctXml(intacct.url)
