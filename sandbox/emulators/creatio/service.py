"""Start the Creatio emulator for `shuttle dev` / `shuttle demo`: on the port of CREATIO_URL
when that URL is local (default 127.0.0.1:8201), unless something already listens there."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

from sandbox.emulators.creatio import DEFAULT_PORT, create_app
from sandbox.emulators.server import HOST, EmulatorError, EmulatorServer

log = logging.getLogger("shuttle")
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((HOST, port)) == 0


def start_local(creatio_url: str | None) -> EmulatorServer | None:
    """The started emulator (stop it with `.stop()`), or None when CREATIO_URL names a remote
    site or an emulator (or anything) already listens on its port."""
    port = DEFAULT_PORT
    if creatio_url:
        parts = urlsplit(creatio_url)
        if parts.hostname not in LOCAL_HOSTS:
            log.info("CREATIO_URL points at %s; not starting the Creatio emulator", parts.hostname)
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
    if _listening(port):
        log.info("something already listens on %s:%d; using it as Creatio", HOST, port)
        return None
    try:
        server = EmulatorServer(create_app().asgi, port=port, name="creatio-emulator").start()
    except EmulatorError as exc:  # taken between the check and the bind: run without it
        log.warning("not starting the Creatio emulator: %s", exc)
        return None
    log.info("Creatio emulator started on %s", server.url)
    return server
