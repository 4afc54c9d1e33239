"""uvicorn embedded in the host's own event loop, on a socket the host binds itself."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import time
from collections.abc import Generator

import uvicorn
from starlette.applications import Starlette

from sandbox.host.errors import HostError


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The host owns SIGINT/SIGTERM (it drains queues and timers too); uvicorn would
        # otherwise install its own handlers and re-raise the signal when it exits.
        yield


class HttpServer:
    def __init__(self, app: Starlette, *, host: str, port: int, graceful_timeout: float) -> None:
        self._app = app
        self.host = host
        self.requested_port = port
        self.port = port
        self._graceful_timeout = graceful_timeout
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    def _bind(self) -> socket.socket:
        # Binding here (not in uvicorn) turns "port in use" into a clear error instead of
        # uvicorn's sys.exit, and lets tests ask for port 0.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise HostError(
                    f"port {self.requested_port} on {self.host} is in use; "
                    "pick another with --port or SHUTTLE_HOST_PORT"
                ) from exc
            raise HostError(f"cannot listen on {self.host}:{self.requested_port}: {exc}") from exc
        self.port = int(sock.getsockname()[1])
        return sock

    async def start(self, startup_timeout: float = 10.0) -> None:
        sock = self._bind()
        config = uvicorn.Config(
            self._app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=self._graceful_timeout,
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="http")
        deadline = time.monotonic() + startup_timeout
        while not self._server.started:
            if self._task.done():
                self._task.result()  # re-raise what stopped it
                raise HostError("the HTTP server stopped during startup")
            if time.monotonic() > deadline:
                raise HostError(f"the HTTP server did not start within {startup_timeout} s")
            await asyncio.sleep(0.01)

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

    def force(self) -> None:
        if self._server is not None:
            self._server.force_exit = True

    async def idle(self) -> None:
        if self._task is not None:
            await asyncio.wait({self._task})

    async def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self.force()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
