"""Start the identity emulator for `shuttle dev` / `shuttle demo`: HTTPS with the sandbox CA
on the port of DATAVERSE_AUTHORITY_HOST when that URL is local (default 127.0.0.1:8204),
unless something already listens there."""

from __future__ import annotations

from sandbox.emulators.identity import DEFAULT_PORT, create_app
from sandbox.emulators.server import EmulatorServer
from sandbox.tls import start_https


def start_local(authority_url: str | None) -> EmulatorServer | None:
    """The started emulator (stop it with `.stop()`), or None when the URL names a remote
    host or something already listens on its port."""
    return start_https(
        authority_url,
        default_port=DEFAULT_PORT,
        name="identity-emulator",
        app=lambda tls: create_app().asgi,
    )
