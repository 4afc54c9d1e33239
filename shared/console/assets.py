"""The console's files, read from the package (no CDN, no inline script: the policy below
forbids both, so injected markup can never run)."""

from __future__ import annotations

from functools import cache
from importlib import resources

# The browser runs only the console's own script, loads only its own style sheet, and sends
# requests only to this origin; no frames, no plug-ins, no inline script or style.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)

ASSET_TYPES = {"console.css": "text/css", "console.js": "text/javascript"}


@cache
def read_asset(name: str) -> bytes:
    return resources.files("shared.console").joinpath("static", name).read_bytes()
