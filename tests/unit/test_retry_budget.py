"""Layer 2 of the retry budget (docs/engine.md, "Who retries a transient failure"): the
record requeue takes over where the client gave up, a fixed number of times; and the table's
numbers are the code's."""

from __future__ import annotations

import json
import re
from pathlib import Path

from shared.connectors.dataverse.config import DataverseConfig
from shared.connectors.errors import ConnectorError
from shared.connectors.retry import RetryPolicy
from shared.engine.record_worker import MAX_RETRIES
from shared.engine.upsert import Retry, Settled, classify
from shared.errors import ErrorCategory
from shared.storage.outcome_store import Outcome

ROOT = Path(__file__).resolve().parents[2]


def _error(category: ErrorCategory, retry_after: float | None = None) -> ConnectorError:
    return ConnectorError("boom", category=category, system="intacct", retry_after=retry_after)


def test_a_transient_failure_is_requeued_max_retries_times_then_fails() -> None:
    delays = []
    for retries in range(MAX_RETRIES):
        result = classify(_error(ErrorCategory.CONNECTION), retries, MAX_RETRIES)
        assert isinstance(result, Retry)
        delays.append(result.delay)
    assert delays == [min(2.0**n, 300.0) for n in range(MAX_RETRIES)]
    last = classify(_error(ErrorCategory.CONNECTION), MAX_RETRIES, MAX_RETRIES)
    assert isinstance(last, Settled) and last.outcome is Outcome.FAILED
    assert last.message is not None and last.message.startswith(f"gave up after {MAX_RETRIES}")


def test_the_requeue_waits_for_retry_after_and_a_permanent_failure_is_not_requeued() -> None:
    throttled = classify(_error(ErrorCategory.RATE_LIMIT, retry_after=42), 0, MAX_RETRIES)
    assert isinstance(throttled, Retry) and throttled.delay == 42
    refused = classify(_error(ErrorCategory.VALIDATION), 0, MAX_RETRIES)
    assert isinstance(refused, Settled) and refused.outcome is Outcome.FAILED


def test_the_table_in_docs_engine_md_states_the_codes_numbers() -> None:
    text = (ROOT / "docs" / "engine.md").read_text()
    table = text.split("## Who retries a transient failure", 1)[1].split("\n## ", 1)[0]
    policy = RetryPolicy()
    host = json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]
    assert f"{policy.attempts} attempts and {policy.total_s:g} s in all" in table
    assert f"waits {policy.base_delay_s:g} s doubling to {policy.max_delay_s:g} s" in table
    assert f"`MAX_RETRIES` = {MAX_RETRIES} requeues" in table
    assert f"{host['maxDequeueCount']} deliveries" in table
    wait = DataverseConfig.model_fields["throttle_max_wait_s"].default
    assert f"`throttle_max_wait_s` ({wait:g} s)" in table
    assert re.search(rf"at most {policy.attempts} requests per delivery", table)
