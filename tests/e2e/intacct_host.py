"""What the Creatio-Intacct scenarios through the local host share (test_finance_intacct_host,
test_rules_intacct_host): module-scoped emulators, one host pointing at them whose log must end
clean, the host's API, and the vendors' own APIs (Creatio OData, Intacct XML). A module takes
these fixtures by importing them; each is registered under its public name."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.azurite import Azurite
from tests.e2e.conftest import RunningHost, start_host, stop_host
from tests.e2e.test_sync_through_host import systems_env
from tests.e2e.vendors import CreatioOData, IntacctXml
from tests.support.creatio import RunningCreatio, running_creatio
from tests.support.intacct import RunningIntacct, running_intacct

SOLUTION = "creatio-intacct"


@pytest.fixture(scope="module", name="creatio")
def creatio_fixture() -> Iterator[RunningCreatio]:
    with running_creatio() as running:
        yield running


@pytest.fixture(scope="module", name="intacct")
def intacct_fixture() -> Iterator[RunningIntacct]:
    with running_intacct() as running:
        yield running


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
