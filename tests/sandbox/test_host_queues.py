"""Queue triggers against the session's Azurite, with the sample app's host.json:
maxDequeueCount 3, visibilityTimeout 1 s, batchSize 4 + newBatchThreshold 2."""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path

import httpx
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import BinaryBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient

from sandbox.azurite import Azurite
from tests.sandbox.helpers import StartHost, eventually, read_records


def _client(azurite: Azurite, name: str, *, base64_text: bool = False) -> QueueClient:
    # Python SDK clients send raw text by default; the host expects base64 like Azure.
    policy = TextBase64EncodePolicy() if base64_text else None
    return QueueClient.from_connection_string(
        azurite.connection_string, name, message_encode_policy=policy
    )


async def _raw_messages(azurite: Azurite, name: str) -> list[str]:
    async with _client(azurite, name) as queue:
        try:
            return [str(m.content) for m in await queue.peek_messages(max_messages=32)]
        except ResourceNotFoundError:  # not created yet
            return []


async def _send(azurite: Azurite, name: str, text: str, *, base64_text: bool = True) -> None:
    async with _client(azurite, name, base64_text=base64_text) as queue:
        with contextlib.suppress(ResourceExistsError):
            await queue.create_queue()
        await queue.send_message(text)


async def test_base64_message_is_delivered_decoded(
    start_host: StartHost, azurite: Azurite, record_file: Path, queue_names: tuple[str, str]
) -> None:
    source, output = queue_names
    await start_host("consume")
    await _send(azurite, source, "hello wörld")

    rows = await eventually(
        lambda: read_records(record_file, "queue"), what="the queue function to run"
    )
    assert [(r["body"], r["dequeue_count"]) for r in rows] == [("hello wörld", 1)]
    # The queue output binding wrote base64, like the real extension.
    written = await eventually(lambda: _raw_messages(azurite, output), what="the output message")
    assert [base64.b64decode(m).decode() for m in written] == ["processed:hello wörld"]
    # Succeeded messages are deleted.
    await eventually(
        lambda: _raw_messages(azurite, source), until=lambda m: m == [], what="an empty queue"
    )


async def test_failing_message_is_retried_then_poisoned(
    start_host: StartHost, azurite: Azurite, record_file: Path, queue_names: tuple[str, str]
) -> None:
    source, _ = queue_names
    await start_host("consume")
    await _send(azurite, source, "fail-always")

    poisoned = await eventually(
        lambda: _raw_messages(azurite, f"{source}-poison"), what="the poison message"
    )
    # The original text as it sat in the queue (still base64), exactly once.
    assert poisoned == [base64.b64encode(b"fail-always").decode()]
    attempts = [r["dequeue_count"] for r in read_records(record_file, "queue")]
    assert attempts == [1, 2, 3]  # maxDequeueCount in the sample host.json
    assert await _raw_messages(azurite, source) == []


async def test_non_base64_body_lands_in_poison_without_calling_the_function(
    start_host: StartHost, azurite: Azurite, record_file: Path, queue_names: tuple[str, str]
) -> None:
    source, _ = queue_names
    await start_host("consume")
    await _send(azurite, source, "plain text, not base64!", base64_text=False)

    poisoned = await eventually(
        lambda: _raw_messages(azurite, f"{source}-poison"), what="the poison message"
    )
    assert poisoned == ["plain text, not base64!"]
    assert read_records(record_file, "queue") == []


async def test_parallelism_is_bounded_by_batch_size_plus_threshold(
    start_host: StartHost, azurite: Azurite, record_file: Path, queue_names: tuple[str, str]
) -> None:
    source, output = queue_names
    for index in range(12):  # all waiting before the host starts polling
        await _send(azurite, source, f"slow-{index}")
    await start_host("consume")

    rows = await eventually(
        lambda: read_records(record_file, "queue"),
        until=lambda rows: len(rows) == 12,
        what="twelve invocations",
    )
    peak = max(r["running"] for r in rows)
    assert 1 < peak <= 4 + 2
    written = await eventually(
        lambda: _raw_messages(azurite, output),
        until=lambda m: len(m) == 12,
        what="twelve output messages",
    )
    assert len(written) == 12


async def test_http_function_writes_queue_output(
    start_host: StartHost, azurite: Azurite, queue_names: tuple[str, str]
) -> None:
    _, output = queue_names
    host = await start_host("enqueue")
    async with httpx.AsyncClient(base_url=host.api_url) as client:
        response = await client.post("/enqueue", content=b"job-1")
    assert response.status_code == 202
    async with QueueClient.from_connection_string(
        azurite.connection_string, output, message_decode_policy=BinaryBase64DecodePolicy()
    ) as queue:
        messages = [m.content async for m in queue.receive_messages()]
    assert messages == [b"job-1"]


async def test_stop_lets_invocations_in_flight_finish(
    start_host: StartHost, azurite: Azurite, record_file: Path, queue_names: tuple[str, str]
) -> None:
    source, output = queue_names
    host = await start_host("consume")
    await _send(azurite, source, "slow-drain")
    await eventually(lambda: read_records(record_file, "queue"), what="the invocation to start")

    await host.stop()  # the handler is still sleeping: stop waits for it

    async with QueueClient.from_connection_string(azurite.connection_string, source) as queue:
        assert (await queue.get_queue_properties()).approximate_message_count == 0
    written = await _raw_messages(azurite, output)
    assert [base64.b64decode(m).decode() for m in written] == ["processed:slow-drain"]


async def test_stop_cancels_what_outlives_the_drain_and_keeps_the_message(
    start_host: StartHost, azurite: Azurite, record_file: Path, queue_names: tuple[str, str]
) -> None:
    source, output = queue_names
    host = await start_host("consume", drain_timeout=0.05)
    await _send(azurite, source, "slow-cancelled")
    await eventually(lambda: read_records(record_file, "queue"), what="the invocation to start")

    await host.stop()

    # Not deleted, not poisoned: it is still leased and comes back when the lease ends.
    async with QueueClient.from_connection_string(azurite.connection_string, source) as queue:
        assert (await queue.get_queue_properties()).approximate_message_count == 1
    assert await _raw_messages(azurite, output) == []
    assert await _raw_messages(azurite, f"{source}-poison") == []
