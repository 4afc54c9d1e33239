"""Start the Creatio emulator for `shuttle dev` / `shuttle demo`: on the port of
CREATIO_URL when that URL is local (default 127.0.0.1:8201), unless something already
listens there."""

from __future__ import annotations

from sandbox.emulators import server
from sandbox.emulators.creatio import DEFAULT_PORT, create_app
from sandbox.emulators.server import EmulatorServer


def start_local(creatio_url: str | None) -> EmulatorServer | None:
    """The started emulator (stop it with `.stop()`), or None when CREATIO_URL names a
    remote service or something already listens on its port."""
    return server.start_local(
        creatio_url,
        default_port=DEFAULT_PORT,
        name="creatio-emulator",
        app=lambda: create_app().asgi,
    )
