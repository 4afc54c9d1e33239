"""Queue names follow SHUTTLE_TABLE_PREFIX, as table names do: a host on a storage account that
another deployment (or a demo killed mid-run) shares works its own queues only, and leaves the
other deployment's messages where they are."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64EncodePolicy

from sandbox.azurite import Azurite
from shared.messages import FLOW_RUNS_QUEUE, RECORD_UPSERTS_QUEUE, FlowRunMessage, RecordMessage
from shared.queue_names import queue_name
from tests.e2e.conftest import start_host, stop_host
from tests.e2e.intacct_host import systems_env
from tests.e2e.runs import finished
from tests.support.creatio import RunningCreatio
from tests.support.intacct import RunningIntacct

pytestmark = pytest.mark.e2e

ACCOUNTS = "creatio-intacct.accounts-to-intacct"
OURS, THEIRS = "qnours", "qntheirs"


def other_queue(azurite: Azurite, queue: str) -> QueueClient:
    return QueueClient.from_connection_string(
        azurite.connection_string,
        queue_name(THEIRS, queue),
        message_encode_policy=TextBase64EncodePolicy(),
    )


def test_two_prefixes_on_one_storage_account_never_see_each_others_messages(
    own_azurite: Azurite, tmp_path: Path, creatio: RunningCreatio, intacct: RunningIntacct
) -> None:
    # The other deployment's work, waiting in its own queues (its host is down).
    theirs = {
        FLOW_RUNS_QUEUE: FlowRunMessage(flow_id=ACCOUNTS, run_id=f"{ACCOUNTS}.theirs-1"),
        RECORD_UPSERTS_QUEUE: RecordMessage(
            flow_id=ACCOUNTS,
            run_id=f"{ACCOUNTS}.theirs-1",
            record_id="their-record",
            modified=datetime.now(UTC),
        ),
    }
    for queue, message in theirs.items():
        with other_queue(own_azurite, queue) as client:
            client.create_queue()
            client.send_message(message.model_dump_json())

    creatio.admin.reset()
    intacct.admin.reset()
    creatio.admin.seed({"Account": [{"Name": "Ours Ltd", "Code": "OURS"}]})
    host = start_host(
        own_azurite, tmp_path, SHUTTLE_TABLE_PREFIX=OURS, **systems_env(creatio, intacct)
    )
    try:
        with host.client() as api:
            run = finished(api, api.post(f"/flows/{ACCOUNTS}/run").json()["run_id"])
        assert run["status"] == "succeeded" and run["counts"]["created"] == 1
    finally:
        stop_host(host)
    assert [c["NAME"] for c in intacct.admin.rows("CUSTOMER")] == ["Ours Ltd"]
    assert "theirs-1" not in host.log() and "their-record" not in host.log()

    # Their messages wait for their host, untouched (never delivered: dequeue count 0) ...
    for queue, message in theirs.items():
        with other_queue(own_azurite, queue) as client:
            (waiting,) = client.peek_messages(max_messages=32)
        assert base64.b64decode(waiting.content).decode() == message.model_dump_json()
        assert waiting.dequeue_count == 0
    # ... and ours are named after our prefix.
    service = QueueServiceClient.from_connection_string(own_azurite.connection_string)
    with service:
        names = {q.name for q in service.list_queues()}
    assert {
        f"{OURS}-flow-runs",
        f"{OURS}-record-upserts",
        f"{OURS}-flow-runs-poison",
        f"{OURS}-record-upserts-poison",
    } <= names
    assert not {"flow-runs", "record-upserts"} & names
