"""Concise console logging for the host and the CLI."""

from __future__ import annotations

import logging
import sys

from shared.log_redaction import install_log_redaction

FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"
# Chatty libraries: the SDKs log every request (URLs, headers), uvicorn its own banner.
QUIET = ("azure", "httpx", "httpcore", "uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(verbose: bool = False) -> None:
    install_log_redaction()  # as function_app.py does: even --verbose never shows a secret
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
