"""Run an emulator's ASGI app with uvicorn in a background thread (tests, benchmarks,
`shuttle dev`): its own event loop, so it never competes with the caller's loop."""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from urllib.parse import urlsplit

import uvicorn
from starlette.types import ASGIApp

HOST = "127.0.0.1"


class EmulatorError(RuntimeError):
    """The emulator could not start (port in use, startup failure)."""


class EmulatorServer:
    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = HOST,
        port: int = 0,
        name: str = "emulator",
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
    ):
        """`ssl_certfile` (the certificate chain, PEM) and `ssl_keyfile` serve HTTPS."""
        self.app = app
        self.ssl_certfile = ssl_certfile
        self.ssl_keyfile = ssl_keyfile
        self.host = host
        self.requested_port = port
        self.port = port
        self.name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_certfile else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def _bind(self) -> socket.socket:
        # Bound here so "port in use" is a clear error and port 0 gives a free port.
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted connections of a
        # socket whose proto is TCP; with proto 0 every answer waits ~40 ms (Nagle + ACK).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise EmulatorError(
                    f"{self.name}: port {self.requested_port} on {self.host} is in use"
                ) from exc
            raise EmulatorError(f"{self.name}: cannot listen on {self.host}: {exc}") from exc
        self.port = int(sock.getsockname()[1])
        return sock

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        sock = self._bind()
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            # Calls held open by a `timeout` fault must not hold up a shutdown.
            timeout_graceful_shutdown=1,
            ssl_certfile=self.ssl_certfile,
            ssl_keyfile=self.ssl_keyfile,
        )
        server = uvicorn.Server(config)
        self._server = server
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self.name, daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                raise EmulatorError(f"{self.name} stopped during startup")
            if time.monotonic() > deadline:
                self.stop()
                raise EmulatorError(f"{self.name} did not start within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


LOCAL_HOSTS = ("127.0.0.1", "localhost")
log = logging.getLogger("shuttle")


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((HOST, port)) == 0


def start_local(
    url: str | None,
    *,
    default_port: int,
    name: str,
    app: Callable[[], ASGIApp],
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> EmulatorServer | None:
    """Start an emulator for `shuttle dev` / `shuttle demo` on the port of `url` when that URL
    is local. None when `url` names a remote service, or when something already listens on the
    port (then that is used as the service)."""
    port = default_port
    if url:
        parts = urlsplit(url)
        if parts.hostname not in LOCAL_HOSTS:
            log.info("%s: %s is not local; not starting it", name, parts.hostname)
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
    if _listening(port):
        log.info("%s: something already listens on %s:%d; using it", name, HOST, port)
        return None
    try:
        server = EmulatorServer(
            app(), port=port, name=name, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile
        ).start()
    except EmulatorError as exc:  # taken between the check and the bind: run without it
        log.warning("not starting %s: %s", name, exc)
        return None
    log.info("%s started on %s", name, server.url)
    return server
