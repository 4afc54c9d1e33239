"""`python -m sandbox.emulators.creatio [--host H] [--port P] [options]`"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvicorn

from sandbox.emulators.creatio import DEFAULT_PORT, Options, create_app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.emulators.creatio", description="Run the Creatio emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--session-timeout", type=float, default=3600.0, metavar="SECONDS")
    parser.add_argument("--token-lifetime", type=int, default=3600, metavar="SECONDS")
    parser.add_argument(
        "--expired-session",
        choices=["401", "redirect"],
        default="401",
        help="answer to an expired cookie session",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (lookup GUIDs)")
    args = parser.parse_args(argv)
    options = Options(
        session_timeout_s=args.session_timeout,
        token_lifetime_s=args.token_lifetime,
        expired_session=args.expired_session,
    )
    emulator = create_app(options, seed=args.seed)
    print(f"Creatio emulator: http://{args.host}:{args.port}", flush=True)
    uvicorn.run(emulator.asgi, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
