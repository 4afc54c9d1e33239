"""Queue triggers and queue output bindings with the Storage extension's semantics
(QueuesOptions): base64 bodies, dequeue counts, poison queues, retry visibility, batching."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage as FuncQueueMessage
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from sandbox.host.app import FunctionSpec
from sandbox.host.config import MIN_POLLING_INTERVAL, QueuesOptions
from sandbox.host.errors import HostError
from sandbox.host.invoke import new_invocation_id
from sandbox.host.settings import get_setting

log = logging.getLogger("shuttle.queue")

Run = Callable[[FunctionSpec, Any, str], Awaitable[Any]]

DEFAULT_CONNECTION = "AzureWebJobsStorage"
POISON_SUFFIX = "-poison"
MAX_QUEUE_NAME = 63
_QUEUE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-))+[a-z0-9]$")
# The real host takes messages for 10 minutes and renews that lease while a function runs,
# so a slow invocation is never handed to a second worker.
RECEIVE_VISIBILITY = timedelta(minutes=10)


class QueueConfigError(HostError):
    """A queue binding the host cannot serve; the message names the function."""


class MessageDecodeError(ValueError):
    """A body that is not valid under the configured messageEncoding."""


def validate_queue_name(name: str, function: str) -> str:
    if not 3 <= len(name) <= MAX_QUEUE_NAME or not _QUEUE_NAME.match(name):
        raise QueueConfigError(
            f"function '{function}': {name!r} is not a valid queue name "
            "(3-63 lower-case letters, digits and single hyphens)"
        )
    return name


def poison_queue_name(name: str) -> str | None:
    # As the Storage extension: no poison queue for a poison queue, nor when the name would
    # get too long.
    if name.endswith(POISON_SUFFIX) or len(name) + len(POISON_SUFFIX) > MAX_QUEUE_NAME:
        return None
    return name + POISON_SUFFIX


def resolve_connection(setting: str | None, function: str) -> str:
    """The connection string behind a binding's `connection` setting name. As the host does,
    an empty name means AzureWebJobsStorage and `X` may also be found as `AzureWebJobsX`."""
    name = setting or DEFAULT_CONNECTION
    for candidate in (name, f"AzureWebJobs{name}"):
        value = get_setting(candidate)
        if value:
            return value
    if get_setting(f"{name}__queueServiceUri") or get_setting(f"{name}__serviceUri"):
        raise QueueConfigError(
            f"function '{function}': identity-based connection '{name}' is not supported "
            "locally; set a connection string instead"
        )
    raise QueueConfigError(
        f"function '{function}': connection setting '{name}' is not set "
        "(it must hold a storage connection string, e.g. UseDevelopmentStorage=true)"
    )


def decode_body(content: str, encoding: str) -> bytes:
    if encoding == "none":
        return content.encode("utf-8")
    try:
        # Convert.FromBase64String ignores whitespace; nothing else is tolerated.
        return base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MessageDecodeError(f"the message body is not valid base64 ({exc})") from exc


def encode_body(value: str | bytes, encoding: str) -> str:
    data = value.encode("utf-8") if isinstance(value, str) else value
    if encoding == "none":
        return data.decode("utf-8")
    return base64.b64encode(data).decode("ascii")


class StorageClients:
    """One QueueServiceClient per connection string, and each queue created once."""

    def __init__(self) -> None:
        self._services: dict[str, QueueServiceClient] = {}
        self._created: set[tuple[str, str]] = set()

    def queue(self, connection_string: str, name: str) -> QueueClient:
        service = self._services.get(connection_string)
        if service is None:
            # A few quick retries instead of the SDK's default (about 80 s of backoff): locally
            # an unreachable Azurite should fail startup at once, and the poll loop backs off
            # on its own.
            service = QueueServiceClient.from_connection_string(
                connection_string,
                retry_total=2,
                initial_backoff=1,
                increment_base=1,
                random_jitter_range=1,
            )
            self._services[connection_string] = service
        return service.get_queue_client(name)

    async def ensure(self, connection_string: str, name: str) -> QueueClient:
        client = self.queue(connection_string, name)
        key = (connection_string, name)
        if key not in self._created:
            with contextlib.suppress(ResourceExistsError):
                await client.create_queue()
            self._created.add(key)
        return client

    async def close(self) -> None:
        services, self._services = self._services, {}
        for service in services.values():
            with contextlib.suppress(Exception):
                await service.close()


@dataclass(frozen=True)
class QueueOutput:
    connection_string: str
    queue_name: str


class OutputSender:
    """Writes the values a function set on its queue output bindings, after it succeeded."""

    def __init__(self, clients: StorageClients, encoding: str) -> None:
        self._clients = clients
        self._encoding = encoding
        self._outputs: dict[tuple[str, str], QueueOutput] = {}

    def register(self, function: str, binding_name: str, output: QueueOutput) -> None:
        self._outputs[(function, binding_name)] = output

    async def send(self, spec: FunctionSpec, values: dict[str, Any]) -> None:
        for name, value in values.items():
            output = self._outputs.get((spec.name, name))
            if output is None or value is None:
                continue
            items = value if isinstance(value, list | tuple) else [value]
            queue = await self._clients.ensure(output.connection_string, output.queue_name)
            for item in items:
                await queue.send_message(encode_body(_as_text(item), self._encoding))


def _as_text(value: Any) -> str | bytes:
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, dict | int | float | bool):
        return json.dumps(value)
    raise TypeError(f"cannot write {type(value).__name__} to a queue output binding")


@dataclass
class _Lease:
    """The current pop receipt of a message being processed; renewals replace it."""

    pop_receipt: str
    done: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class QueueListener:
    """Polls one queue for one function, the way the Storage extension's QueueListener does."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        queue_name: str,
        connection_name: str,
        queue: QueueClient,
        poison_name: str | None,
        clients: StorageClients,
        connection_string: str,
        options: QueuesOptions,
        run: Run,
        receive_visibility: timedelta = RECEIVE_VISIBILITY,
    ) -> None:
        self.spec = spec
        self.queue_name = queue_name
        self.connection_name = connection_name
        self._queue = queue
        self.poison_name = poison_name
        self._clients = clients
        self.connection_string = connection_string
        self.options = options
        self._run = run
        self._receive_visibility = receive_visibility
        self._threshold = options.effective_new_batch_threshold()
        self._max_interval = options.effective_max_polling_interval().total_seconds()
        self._min_interval = min(MIN_POLLING_INTERVAL.total_seconds(), self._max_interval)
        self._stopping = asyncio.Event()
        self._changed = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    def describe(self) -> str:
        poison = self.poison_name or "none"
        return (
            f"{self.spec.name}: queue {self.queue_name} via {self.connection_name} "
            f"(batch {self.options.batch_size}+{self._threshold}, "
            f"maxDequeueCount {self.options.max_dequeue_count}, poison {poison})"
        )

    async def prepare(self) -> None:
        """Create the queue if missing (as the real host does at startup, so producers and
        the listener never race on it); a storage account out of reach fails here."""
        try:
            await self._clients.ensure(self.connection_string, self.queue_name)
        except Exception as exc:
            raise QueueConfigError(
                f"function '{self.spec.name}': cannot reach queue '{self.queue_name}' "
                f"via {self.connection_name}: {exc}"
            ) from exc

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll_loop(), name=f"queue:{self.spec.name}")

    async def _receive(self) -> list[QueueMessage]:
        pages = self._queue.receive_messages(
            messages_per_page=self.options.batch_size,
            visibility_timeout=int(self._receive_visibility.total_seconds()),
        ).by_page()
        try:
            page = await pages.__anext__()
        except StopAsyncIteration:  # the SDK's way of saying "queue empty"
            return []
        return [message async for message in page]

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _poll_loop(self) -> None:
        delay = self._min_interval
        while not self._stopping.is_set():
            # A new batch is fetched once the messages in flight drop to newBatchThreshold,
            # so at most batchSize + newBatchThreshold run at once.
            while len(self._inflight) > self._threshold and not self._stopping.is_set():
                self._changed.clear()
                await self._changed.wait()
            if self._stopping.is_set():
                break
            try:
                messages = await self._receive()
            except Exception as exc:
                log.warning("queue %s: receive failed: %s", self.queue_name, exc)
                await self._pause(delay)
                delay = min(delay * 2, self._max_interval)
                continue
            if messages:
                delay = self._min_interval  # found work: poll again at once
                for message in messages:
                    task = asyncio.create_task(self._process(message))
                    self._inflight.add(task)
                    task.add_done_callback(self._finished)
                continue
            await self._pause(delay)
            delay = min(delay * 2, self._max_interval)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._changed.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("queue %s: processing crashed: %r", self.queue_name, task.exception())

    def _to_function_message(self, message: QueueMessage) -> FuncQueueMessage:
        return FuncQueueMessage(
            id=message.id,
            body=decode_body(str(message.content or ""), self.options.message_encoding),
            dequeue_count=message.dequeue_count,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )

    async def _renew(self, message: QueueMessage, lease: _Lease) -> None:
        interval = self._receive_visibility.total_seconds() / 2
        while True:
            await asyncio.sleep(interval)
            async with lease.lock:
                if lease.done:
                    return
                try:
                    updated = await self._queue.update_message(
                        message.id,
                        lease.pop_receipt,
                        visibility_timeout=int(self._receive_visibility.total_seconds()),
                    )
                    lease.pop_receipt = updated.pop_receipt or lease.pop_receipt
                except Exception as exc:
                    log.warning(
                        "queue %s: renewing %s failed: %s", self.queue_name, message.id, exc
                    )

    async def _process(self, message: QueueMessage) -> None:
        lease = _Lease(str(message.pop_receipt))
        renewal = asyncio.create_task(self._renew(message, lease))
        invocation_id = new_invocation_id()
        started = time.perf_counter()
        succeeded = False
        try:
            function_message = self._to_function_message(message)
            await self._run(self.spec, function_message, invocation_id)
            succeeded = True
        except asyncio.CancelledError:
            log.warning(
                "queue %s: %s id=%s cancelled at shutdown; it reappears after its lease ends",
                self.queue_name,
                self.spec.name,
                message.id,
            )
            raise
        except MessageDecodeError as exc:
            log.error("queue %s: %s id=%s: %s", self.queue_name, self.spec.name, message.id, exc)
        except Exception:
            log.exception(
                "queue %s: function '%s' failed (message %s, invocation %s)",
                self.queue_name,
                self.spec.name,
                message.id,
                invocation_id,
            )
        finally:
            async with lease.lock:
                lease.done = True
            renewal.cancel()
        outcome = await self._complete(message, lease.pop_receipt, succeeded)
        log.info(
            "queue %s: %s id=%s dequeue=%s -> %s (%.0f ms)",
            self.queue_name,
            self.spec.name,
            message.id,
            message.dequeue_count,
            outcome,
            (time.perf_counter() - started) * 1000,
        )

    async def _complete(self, message: QueueMessage, pop_receipt: str, succeeded: bool) -> str:
        try:
            if succeeded:
                await self._queue.delete_message(message.id, pop_receipt)
                return "succeeded"
            dequeue_count = message.dequeue_count or 0
            if dequeue_count >= self.options.max_dequeue_count and self.poison_name:
                # The original text as it sat in the queue, not the decoded body; the poison
                # queue is created on first use, as the real host does.
                poison = await self._clients.ensure(self.connection_string, self.poison_name)
                await poison.send_message(message.content)
                await self._queue.delete_message(message.id, pop_receipt)
                return f"failed, moved to {self.poison_name}"
            delay = int(self.options.visibility_timeout.total_seconds())
            await self._queue.update_message(message.id, pop_receipt, visibility_timeout=delay)
            return f"failed, visible again in {delay} s"
        except Exception as exc:
            # E.g. the lease expired and another worker took the message: it is theirs now.
            log.warning("queue %s: completing %s failed: %s", self.queue_name, message.id, exc)
            return "failed to complete"

    def stop_polling(self) -> None:
        self._stopping.set()
        self._changed.set()

    async def idle(self) -> None:
        """Returns once polling has stopped and every invocation in flight has finished."""
        if self._task is not None:
            await asyncio.wait({self._task})
        while self._inflight:
            await asyncio.wait(set(self._inflight))

    async def cancel(self) -> None:
        tasks = [t for t in (self._task, *self._inflight) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
