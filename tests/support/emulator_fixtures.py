"""The emulators as module-scoped fixtures, one of each per test module that asks (each test
resets what it uses), and Services of each solution over them. Loaded by
tests/integration/conftest.py and tests/faults/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.runtime import Services
from tests.support import dataverse as dv
from tests.support.creatio import RunningCreatio, running_creatio
from tests.support.engine import emulator_services
from tests.support.intacct import RunningIntacct, running_intacct


@pytest.fixture(scope="module")
def creatio_emulator() -> Iterator[RunningCreatio]:
    with running_creatio() as running:
        yield running


@pytest.fixture(scope="module")
def intacct_emulator() -> Iterator[RunningIntacct]:
    with running_intacct() as running:
        yield running


@pytest.fixture(scope="module")
def dataverse_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dv.RunningDataverse]:
    with dv.running_dataverse(Path(tmp_path_factory.mktemp("tls"))) as running:
        yield running


@pytest.fixture
def intacct_engine_settings() -> dict[str, str]:
    """App settings of `intacct_services` beyond the systems' own (a module may override)."""
    return {"SHUTTLE_PAGE_SIZE": "100"}


@pytest.fixture
async def intacct_services(
    storage_connection_string: str,
    table_prefix: str,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    intacct_engine_settings: dict[str, str],
) -> AsyncIterator[Services]:
    """creatio-intacct over the Creatio and Intacct emulators (reset), by default pages of
    100."""
    async with emulator_services(
        storage_connection_string,
        table_prefix,
        "creatio-intacct",
        creatio_emulator=creatio_emulator,
        intacct_emulator=intacct_emulator,
        settings=intacct_engine_settings,
    ) as built:
        yield built


@pytest.fixture
def dataverse_client_options() -> dict[str, Any]:
    """DataverseConfig values of `dynamics_services`' client beyond the emulator's own (a
    module that scales the emulator's limits down overrides it with their window)."""
    return {}


@pytest.fixture
async def dynamics_services(
    storage_connection_string: str,
    table_prefix: str,
    creatio_emulator: RunningCreatio,
    dataverse_emulator: dv.RunningDataverse,
    dataverse_client_options: dict[str, Any],
) -> AsyncIterator[Services]:
    """creatio-dynamics over the Creatio and Dataverse emulators (reset)."""
    async with emulator_services(
        storage_connection_string,
        table_prefix,
        "creatio-dynamics",
        creatio_emulator=creatio_emulator,
        dataverse_emulator=dataverse_emulator,
        dataverse_options=dataverse_client_options,
    ) as built:
        yield built
