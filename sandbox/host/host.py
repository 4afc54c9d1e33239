"""LocalHost: loads the app, serves its HTTP routes, runs its timers and queue triggers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from sandbox.host.app import FunctionSpec, load_functions
from sandbox.host.config import HostConfig, load_host_config
from sandbox.host.errors import HostError
from sandbox.host.http import HttpDispatcher
from sandbox.host.invoke import Invoker
from sandbox.host.queues import (
    OutputSender,
    QueueListener,
    QueueOutput,
    StorageClients,
    poison_queue_name,
    resolve_connection,
    validate_queue_name,
)
from sandbox.host.schedule import parse_schedule
from sandbox.host.server import HttpServer
from sandbox.host.settings import get_setting, load_and_apply, resolve_placeholders
from sandbox.host.timers import TimerRunner

log = logging.getLogger("shuttle.host")

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCALHOST = "127.0.0.1"
DEFAULT_PORT = 7071
LOCAL_KEY_SETTING = "SHUTTLE_LOCAL_KEY"
LOCAL_ROLES_SETTING = "SHUTTLE_LOCAL_ROLES"
_UNSET: Any = object()


class _Component(Protocol):
    async def idle(self) -> None: ...

    async def cancel(self) -> None: ...


def _disabled(name: str) -> bool:
    # The app setting the real host honours to switch a function off.
    value = get_setting(f"AzureWebJobs.{name}.Disabled") or ""
    return value.strip().lower() in ("1", "true")


class LocalHost:
    """A small Azure Functions host for one app directory.

    `await start()` / `await stop()` (or `async with`) from tests; `run()` from the CLI.
    Everything that can be misconfigured is checked before anything starts, and raises
    HostError with a message naming the function and setting at fault.
    """

    def __init__(
        self,
        app_dir: Path | str | None = None,
        *,
        port: int = DEFAULT_PORT,
        bind: str = LOCALHOST,
        preload: Sequence[str] = (),
        functions: Sequence[str] | None = None,
        local_key: str | None = _UNSET,
        drain_timeout: float = 10.0,
        load_settings: bool = True,
    ) -> None:
        self.app_dir = Path(app_dir or REPO_ROOT).resolve()
        self.bind = bind
        self.requested_port = port
        self.preload = tuple(preload)
        self.only = tuple(functions) if functions else None
        self._local_key = local_key
        self.drain_timeout = drain_timeout
        self.load_settings = load_settings
        self.config: HostConfig = HostConfig()
        self.functions: list[FunctionSpec] = []
        self.dispatcher: HttpDispatcher | None = None
        self.timers: list[TimerRunner] = []
        self.listeners: list[QueueListener] = []
        self._invoker: Invoker | None = None
        self._clients = StorageClients()
        self._outputs: OutputSender | None = None
        self._http: HttpServer | None = None
        self._started = False
        self._serving = False
        self._force = asyncio.Event()

    # -- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._http.port if self._http else self.requested_port

    @property
    def base_url(self) -> str:
        return f"http://{self.bind}:{self.port}"

    @property
    def api_url(self) -> str:
        prefix = self.config.route_prefix
        return f"{self.base_url}/{prefix}" if prefix else self.base_url

    # -- startup ---------------------------------------------------------------------------

    def _select(self, specs: list[FunctionSpec]) -> list[FunctionSpec]:
        if self.only is not None:
            wanted = {name.lower() for name in self.only}
            unknown = wanted - {spec.name.lower() for spec in specs}
            if unknown:
                raise HostError(f"--functions: no function named {', '.join(sorted(unknown))}")
            specs = [spec for spec in specs if spec.name.lower() in wanted]
        selected = []
        for spec in specs:
            if _disabled(spec.name):
                log.info(
                    "function '%s' is disabled (AzureWebJobs.%s.Disabled)", spec.name, spec.name
                )
            else:
                selected.append(spec)
        return selected

    def _plan(self) -> None:
        """Everything that can fail on configuration, before anything starts."""
        self.timers, self.listeners = [], []
        if self.load_settings:
            load_and_apply(self.app_dir)
        specs = self._select(load_functions(self.app_dir, self.preload))
        self.config = load_host_config(self.app_dir)
        self.functions = specs
        self._invoker = Invoker()
        self._outputs = OutputSender(self._clients, self.config.queues.message_encoding)
        key = os.environ.get(LOCAL_KEY_SETTING) if self._local_key is _UNSET else self._local_key
        http_specs = [s for s in specs if s.trigger_type == "httpTrigger"]
        self.dispatcher = HttpDispatcher(
            http_specs,
            route_prefix=self.config.route_prefix,
            local_key=key,
            run=self._run,
            local_roles=os.environ.get(LOCAL_ROLES_SETTING),
        )
        for spec in specs:
            for name, binding in spec.outputs.items():
                queue_name = resolve_placeholders(
                    str(binding.get("queueName", "")), function=spec.name, what="queueName"
                )
                output = QueueOutput(
                    connection_string=resolve_connection(binding.get("connection"), spec.name),
                    queue_name=validate_queue_name(queue_name, spec.name),
                )
                self._outputs.register(spec.name, name, output)
            if spec.trigger_type == "timerTrigger":
                self.timers.append(self._plan_timer(spec))
            elif spec.trigger_type == "queueTrigger":
                self.listeners.append(self._plan_queue(spec))

    def _plan_timer(self, spec: FunctionSpec) -> TimerRunner:
        expression = resolve_placeholders(
            str(spec.trigger.get("schedule", "")), function=spec.name, what="schedule"
        )
        try:
            schedule = parse_schedule(expression)
        except HostError as exc:
            raise HostError(f"function '{spec.name}': invalid schedule: {exc}") from exc
        return TimerRunner(
            spec, schedule, self._run, run_on_startup=bool(spec.trigger.get("runOnStartup"))
        )

    def _plan_queue(self, spec: FunctionSpec) -> QueueListener:
        queue_name = resolve_placeholders(
            str(spec.trigger.get("queueName", "")), function=spec.name, what="queueName"
        )
        queue_name = validate_queue_name(queue_name, spec.name)
        connection_name = str(spec.trigger.get("connection") or "AzureWebJobsStorage")
        connection_string = resolve_connection(connection_name, spec.name)
        return QueueListener(
            spec,
            queue_name=queue_name,
            connection_name=connection_name,
            queue=self._clients.queue(connection_string, queue_name),
            poison_name=poison_queue_name(queue_name),
            clients=self._clients,
            connection_string=connection_string,
            options=self.config.queues,
            run=self._run,
        )

    async def start(self) -> None:
        if self._started:
            raise HostError("the host is already started")
        self._started = True
        try:
            self._plan()
            for listener in self.listeners:
                await listener.prepare()
            assert self.dispatcher is not None
            self._http = HttpServer(
                self.dispatcher.app,
                host=self.bind,
                port=self.requested_port,
                graceful_timeout=self.drain_timeout,
            )
            await self._http.start()
            for listener in self.listeners:
                listener.start()
            for timer in self.timers:
                timer.start()
        except BaseException:
            await self.stop()
            raise
        self._serving = True
        self._log_functions()

    def _log_functions(self) -> None:
        lines = [
            f"  {line}"
            for line in (self.dispatcher.describe(self.base_url) if self.dispatcher else [])
        ]
        lines += [f"  {timer.describe()}" for timer in self.timers]
        lines += [f"  {listener.describe()}" for listener in self.listeners]
        log.info("app %s: %d functions\n%s", self.app_dir, len(self.functions), "\n".join(lines))

    async def _run(self, spec: FunctionSpec, trigger_value: Any, invocation_id: str) -> Any:
        assert self._invoker is not None and self._outputs is not None
        result, outputs = await self._invoker.invoke(spec, trigger_value, invocation_id)
        # Output bindings are written only when the function succeeded, as in Azure.
        await self._outputs.send(spec, outputs)
        return result

    # -- shutdown --------------------------------------------------------------------------

    def force_stop(self) -> None:
        """Stop waiting for invocations in flight (a second Ctrl-C)."""
        self._force.set()
        if self._http is not None:
            self._http.force()

    async def stop(self, drain_timeout: float | None = None) -> None:
        """Stop accepting work, let invocations in flight finish (bounded), close clients."""
        if not self._started:
            return
        self._started = False
        budget = self.drain_timeout if drain_timeout is None else drain_timeout
        if self._http is not None:
            self._http.stop_accepting()
        for timer in self.timers:
            timer.stop_scheduling()
        for listener in self.listeners:
            listener.stop_polling()
        components: list[_Component] = [*self.timers, *self.listeners]
        if self._http is not None:
            components.append(self._http)
        started = time.monotonic()
        drained = asyncio.ensure_future(asyncio.gather(*(c.idle() for c in components)))
        forced = asyncio.ensure_future(self._force.wait())
        done, _ = await asyncio.wait(
            {drained, forced}, timeout=budget, return_when=asyncio.FIRST_COMPLETED
        )
        forced.cancel()
        if drained not in done:
            log.warning(
                "stopping: invocations still running after %.1f s are cancelled",
                time.monotonic() - started,
            )
            drained.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drained
        for component in components:
            await component.cancel()
        await _close_app_services()
        await self._clients.close()
        if self._invoker is not None:
            self._invoker.shutdown()
        if self._serving:
            self._serving = False
            log.info("host stopped")

    async def __aenter__(self) -> LocalHost:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- blocking entry point --------------------------------------------------------------

    def run(self, on_ready: Callable[[LocalHost], None] | None = None) -> int:
        """Serve until SIGINT/SIGTERM, then drain and stop. Returns the exit code (0)."""
        return asyncio.run(self._serve(on_ready))

    async def _serve(self, on_ready: Callable[[LocalHost], None] | None) -> int:
        loop = asyncio.get_running_loop()
        stop_requested = asyncio.Event()
        received: list[int] = []

        def on_signal(sig: signal.Signals) -> None:
            received.append(sig)
            if len(received) == 1:
                log.info("%s: stopping (again to stop without waiting)", sig.name)
                stop_requested.set()
            else:
                self.force_stop()

        handled = (signal.SIGINT, signal.SIGTERM)
        for sig in handled:
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            await self.start()
            if on_ready is not None:
                on_ready(self)
            await stop_requested.wait()
        finally:
            await self.stop()
            for sig in handled:
                loop.remove_signal_handler(sig)
        return 0


async def _close_app_services() -> None:
    """Close what Shuttle's functions built on this loop (storage and connector clients):
    Azure Functions has no shutdown hook, but the local host knows when it stops, and
    leaving aiohttp sessions open only produces "Unclosed client session" noise."""
    runtime = sys.modules.get("shared.runtime")
    if runtime is None:
        return
    try:
        await runtime.reset_services()
    except Exception:  # closing is best effort; the process is ending anyway
        log.debug("closing the app's services failed", exc_info=True)
