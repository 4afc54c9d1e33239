"""The one exception type the host raises for anything a user must fix before it can start."""

from __future__ import annotations


class HostError(RuntimeError):
    """Startup cannot proceed; the message names the function, setting or file at fault."""
