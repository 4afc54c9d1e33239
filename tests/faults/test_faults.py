"""The fault suite (issue 12): for each target, 300 source records through the real pipeline
with each kind of trouble (tests/faults/harness.py says what is checked). Prints one line per
scenario; bench/faults_bench.py runs the same at 3,000 records."""

from __future__ import annotations

import pytest

from shared.connectors.retry import RetryPolicy
from tests.faults.corpus import creatio_accounts, intacct_customers, unique_labels
from tests.faults.harness import (
    SCENARIOS,
    CreatioTarget,
    DataverseTarget,
    IntacctTarget,
    Scenario,
    Target,
    run_scenario,
    table,
)
from tests.support import dataverse as dv
from tests.support.creatio import RunningCreatio
from tests.support.intacct import RunningIntacct

RECORDS = 300
# A storm the allowed pace drains in about ten seconds: Intacct's two slots and Creatio's
# eight may each come back after Retry-After; Dataverse pauses every call for it.
STORM = {"intacct": 20, "dataverse": 10, "creatio": 80}
CLIENT_TIMEOUT_S = 0.5
# Shorter waits between tries than production's (Retry-After still rules): a CI budget.
RETRY = RetryPolicy(attempts=6, base_delay_s=0.05, max_delay_s=1.0, total_s=60.0)


@pytest.fixture(params=["intacct", "dataverse", "creatio"])
def target(
    request: pytest.FixtureRequest,
    creatio_emulator: RunningCreatio,
    intacct_emulator: RunningIntacct,
    dataverse_emulator: dv.RunningDataverse,
) -> Target:
    if request.param == "intacct":
        return IntacctTarget(creatio_emulator, intacct_emulator, CLIENT_TIMEOUT_S)
    if request.param == "dataverse":
        return DataverseTarget(creatio_emulator, dataverse_emulator, CLIENT_TIMEOUT_S)
    return CreatioTarget(creatio_emulator, intacct_emulator, CLIENT_TIMEOUT_S)


def test_the_corpus_is_at_least_fifty_hostile_records_each() -> None:
    for corpus in (creatio_accounts(), intacct_customers()):
        assert len(corpus) >= 50 and unique_labels(corpus)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_every_record_once_with_its_values_and_every_run_accounts_for_it(
    target: Target, scenario: Scenario, storage_connection_string: str, table_prefix: str
) -> None:
    report = await run_scenario(
        target,
        scenario,
        connection=storage_connection_string,
        prefix=table_prefix,
        records=RECORDS,
        storm=STORM[target.system],
        retry=RETRY,
    )
    print("\n" + table([report]))
    for problem in report.problems[:20]:
        print("  -", problem)
    assert report.read == RECORDS
    assert (report.duplicates, report.missing, report.wrong, report.extra) == (0, 0, 0, 0)
    assert report.merged == 0 and report.unclassified == 0
    assert report.counts_ok, report.problems
    assert report.problems == []
    if scenario.knobs or scenario.storm:
        assert report.injected > 0  # the trouble really happened
    if scenario.duplicates:
        assert report.deliveries >= 2 * RECORDS
