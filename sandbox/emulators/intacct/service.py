"""Start the Intacct emulator for `shuttle dev` / `shuttle demo`: on the port of
INTACCT_ENDPOINT when that URL is local (default 127.0.0.1:8202), unless something already
listens there."""

from __future__ import annotations

from sandbox.emulators import server
from sandbox.emulators.intacct import DEFAULT_PORT, create_app
from sandbox.emulators.server import EmulatorServer


def start_local(intacct_endpoint: str | None) -> EmulatorServer | None:
    """The started emulator (stop it with `.stop()`), or None when INTACCT_ENDPOINT names a
    remote service or something already listens on its port."""
    return server.start_local(
        intacct_endpoint,
        default_port=DEFAULT_PORT,
        name="intacct-emulator",
        app=lambda: create_app().asgi,
    )
