"""Start the Dataverse emulator for `shuttle dev` / `shuttle demo`: HTTPS with the sandbox CA
on the port of DATAVERSE_URL when that URL is local (default 127.0.0.1:8203), unless
something already listens there. It trusts the identity emulator at
DATAVERSE_AUTHORITY_HOST (start that one with `sandbox.emulators.identity.service`)."""

from __future__ import annotations

from starlette.types import ASGIApp

from sandbox.emulators.dataverse import DEFAULT_PORT, Options, create_app
from sandbox.emulators.server import EmulatorServer
from sandbox.tls import SandboxTLS, start_https


def start_local(
    dataverse_url: str | None,
    *,
    authority_host: str = "https://127.0.0.1:8204",
    tenant: str = "shuttle-sandbox",
) -> EmulatorServer | None:
    """The started emulator (stop it with `.stop()`), or None when the URL names a remote
    host or something already listens on its port."""

    def app(tls: SandboxTLS) -> ASGIApp:
        # The identity emulator's certificate comes from the same sandbox CA.
        options = Options(identity_url=authority_host, tenant=tenant, ca_file=str(tls.ca_path))
        return create_app(options).asgi

    return start_https(dataverse_url, default_port=DEFAULT_PORT, name="dataverse-emulator", app=app)
