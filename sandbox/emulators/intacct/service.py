"""Start the Intacct emulator for `shuttle dev` / `shuttle demo`: on the port of
INTACCT_ENDPOINT when that URL is local (default 127.0.0.1:8202), unless something already
listens there."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

from sandbox.emulators.intacct import DEFAULT_PORT, create_app
from sandbox.emulators.server import HOST, EmulatorError, EmulatorServer

log = logging.getLogger("shuttle")
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((HOST, port)) == 0


def start_local(intacct_endpoint: str | None) -> EmulatorServer | None:
    """The started emulator (stop it with `.stop()`), or None when INTACCT_ENDPOINT names a
    remote gateway or something already listens on its port."""
    port = DEFAULT_PORT
    if intacct_endpoint:
        parts = urlsplit(intacct_endpoint)
        if parts.hostname not in LOCAL_HOSTS:
            log.info("INTACCT_ENDPOINT points at %s; not starting the Intacct emulator",
                     parts.hostname)  # fmt: skip
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
    if _listening(port):
        log.info("something already listens on %s:%d; using it as Intacct", HOST, port)
        return None
    try:
        server = EmulatorServer(create_app().asgi, port=port, name="intacct-emulator").start()
    except EmulatorError as exc:  # taken between the check and the bind: run without it
        log.warning("not starting the Intacct emulator: %s", exc)
        return None
    log.info("Intacct emulator started on %s", server.url)
    return server
