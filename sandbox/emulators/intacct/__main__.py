"""`python -m sandbox.emulators.intacct [--host H] [--port P] [options]`"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvicorn

from sandbox.emulators.intacct import DEFAULT_PORT, Options, create_app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.emulators.intacct", description="Run the Intacct emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--session-timeout", type=float, default=3600.0, metavar="SECONDS")
    parser.add_argument("--timezone", default="America/Los_Angeles")
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=2,
        help="requests in flight before 429 GW-0010 (0: no limit)",
    )
    args = parser.parse_args(argv)
    options = Options(
        session_timeout_s=args.session_timeout,
        timezone=args.timezone,
        max_concurrent=args.max_concurrent or None,
    )
    emulator = create_app(options)
    print(f"Intacct emulator: http://{args.host}:{args.port}/ia/xml/xmlgw.phtml", flush=True)
    uvicorn.run(emulator.asgi, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
