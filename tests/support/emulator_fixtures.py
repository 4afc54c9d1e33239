"""The emulators as module-scoped fixtures, one of each per test module that asks (each test
resets what it uses). Loaded by tests/integration/conftest.py and tests/faults/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import dataverse as dv
from tests.support.creatio import RunningCreatio, running_creatio
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
