"""Call a user function the way the Python worker does: coroutines on the event loop, plain
functions on a thread pool, bindings passed by their names."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.functions as func
from azure.functions import _abc as func_abc  # TraceContext/RetryContext are not re-exported

from sandbox.host.app import FunctionSpec

RETURN = "$return"


class OutValue(func.Out[Any]):
    """What the worker passes for an output binding parameter (`func.Out[str]`)."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class _TraceContext(func_abc.TraceContext):
    def __init__(self) -> None:
        self._parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(func_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> func_abc.RpcException | None:  # type: ignore[override]
        return None


class InvocationContext(func.Context):
    """The `context` parameter a function may declare."""

    _local = threading.local()

    def __init__(self, spec: FunctionSpec, invocation_id: str) -> None:
        self._spec = spec
        self._invocation_id = invocation_id
        self._trace = _TraceContext()
        self._retry = _RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:  # type: ignore[override]
        return self._local

    @property
    def function_name(self) -> str:
        return self._spec.name

    @property
    def function_directory(self) -> str:
        return str(self._spec.directory)

    @property
    def trace_context(self) -> func_abc.TraceContext:
        return self._trace

    @property
    def retry_context(self) -> func_abc.RetryContext:
        return self._retry


def new_invocation_id() -> str:
    return str(uuid.uuid4())


def _thread_count() -> int | None:
    # The worker's knob; unset means Python's default pool size.
    value = os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


class Invoker:
    """Runs handlers; owns the thread pool for synchronous ones."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=_thread_count(), thread_name_prefix="shuttle-fn"
        )

    async def invoke(
        self, spec: FunctionSpec, trigger_value: Any, invocation_id: str
    ) -> tuple[Any, dict[str, Any]]:
        """Returns the function's return value and the values set on its output bindings
        (`$return` included when an output binding takes the return value)."""
        kwargs: dict[str, Any] = {spec.arg_name: trigger_value}
        outs = {name: OutValue() for name in spec.outputs if name != RETURN}
        kwargs.update(outs)
        if spec.wants_context:
            kwargs["context"] = InvocationContext(spec, invocation_id)
        handler = spec.handler
        if inspect.iscoroutinefunction(handler):
            result = await handler(**kwargs)
        else:
            loop = asyncio.get_running_loop()
            call = functools.partial(contextvars.copy_context().run, handler, **kwargs)
            result = await loop.run_in_executor(self._executor, call)
        if inspect.isawaitable(result):
            result = await result
        values = {name: out.get() for name, out in outs.items()}
        if RETURN in spec.outputs:
            values[RETURN] = result
        return result, values

    def shutdown(self) -> None:
        # Threads cannot be interrupted; queued calls are dropped, running ones finish alone.
        self._executor.shutdown(wait=False, cancel_futures=True)
