"""`shuttle`: run the app locally.

shuttle dev   [--port N] [--app-dir D] [--preload M]...   Azurite (if needed) + the host
shuttle demo  [--once] [--size full|small] ...             `dev` + demo data, one cycle, flows on
shuttle host  ...                                          the host only, no Azurite
shuttle check                                              the preflight (exit 0 ready, 1 not)
shuttle provision dataverse [--dry-run]                    binding columns + alternate keys

`demo` starts what `dev` starts (Azurite, the Creatio, Intacct, identity and Dataverse
emulators), then seeds demo data into the emulators it started itself, runs one full cycle
of every mapped scheduled flow of both solutions through the host's API with live progress,
prints a table per flow, and starts the flows on a one-minute schedule (sandbox/demo).
`demo --once` stops after that first cycle: exit 0 when only the deliberately bad demo
records failed, 1 otherwise (a flow failed, another record failed, the preflight failed).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from sandbox.azurite import REPO_ROOT, ensure_azurite, local_ports
from sandbox.demo import note_started, start_demo
from sandbox.demo.volume import SIZES
from sandbox.host import DEFAULT_PORT, HostError, LocalHost
from sandbox.host.logs import configure_logging
from sandbox.host.settings import load_and_apply

log = logging.getLogger("shuttle")

STORAGE_SETTING = "AzureWebJobsStorage"
PORT_SETTING = "SHUTTLE_HOST_PORT"
AZURITE_LOCATION = REPO_ROOT / ".sandbox" / "azurite"

# A local service: given the parsed arguments, start something and register its cleanup
# on the stack (it is stopped after the host, in reverse order).
Service = Callable[[argparse.Namespace, contextlib.ExitStack], None]


def start_azurite(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """Azurite from node_modules when the storage connection points at local ports where
    nothing listens yet; an Azurite someone else runs is used as it is."""
    connection = os.environ.setdefault(STORAGE_SETTING, "UseDevelopmentStorage=true")
    ports = local_ports(connection)
    if ports is None:
        log.info("%s points at remote storage; not starting Azurite", STORAGE_SETTING)
        return
    location = AZURITE_LOCATION
    if getattr(args, "once", False):
        # A one-shot check starts from empty storage: an earlier, interrupted demo with the
        # same prefix (so the same tables and queues) could have left its messages behind.
        location = Path(tempfile.mkdtemp(prefix="shuttle-once-azurite-"))
        stack.callback(shutil.rmtree, location, ignore_errors=True)
    azurite = ensure_azurite(connection, location=location)
    if azurite is None:
        log.info("Azurite already listening on %s; using it", ports.as_tuple())
        return
    stack.callback(azurite.stop)
    log.info("Azurite started on %s (data in %s)", ports.as_tuple(), location)


def start_creatio(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """The Creatio emulator (in a thread of this process) on CREATIO_URL's local port."""
    from sandbox.emulators.creatio.service import start_local

    server = start_local(os.environ.get("CREATIO_URL"))
    if server is not None:
        stack.callback(server.stop)
        note_started(args, "creatio", server.url)  # the demo seeds only its own emulators


def start_intacct(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """The Intacct emulator (in a thread of this process) on INTACCT_ENDPOINT's local port."""
    from sandbox.emulators.intacct.service import start_local

    server = start_local(os.environ.get("INTACCT_ENDPOINT"))
    if server is not None:
        stack.callback(server.stop)
        note_started(args, "intacct", server.url)


def start_identity(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """The identity-provider emulator (HTTPS, sandbox CA) on DATAVERSE_AUTHORITY_HOST's port."""
    from sandbox.emulators.identity.service import start_local

    server = start_local(os.environ.get("DATAVERSE_AUTHORITY_HOST"))
    if server is not None:
        stack.callback(server.stop)


def start_dataverse(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """The Dataverse emulator (HTTPS, sandbox CA) on DATAVERSE_URL's port."""
    from sandbox.emulators.dataverse.service import start_local

    server = start_local(
        os.environ.get("DATAVERSE_URL"),
        authority_host=os.environ.get("DATAVERSE_AUTHORITY_HOST") or "https://127.0.0.1:8204",
        tenant=os.environ.get("DATAVERSE_TENANT_ID") or "shuttle-sandbox",
    )
    if server is not None:
        stack.callback(server.stop)
        note_started(args, "dataverse", server.url)


def start_mail_sink(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """The SMTP sink (sandbox/mailsink.py) on SHUTTLE_SMTP_HOST:PORT, saving alerts as .eml."""
    from sandbox.mailsink import start_local

    sink = start_local(os.environ.get("SHUTTLE_SMTP_HOST"), os.environ.get("SHUTTLE_SMTP_PORT"))
    if sink is not None:
        stack.callback(sink.stop)
        vars(args)["mail_sink"] = f"127.0.0.1:{sink.port} -> {sink.directory}"
        log.info(
            "mail sink on 127.0.0.1:%d; alerts are saved as .eml files in %s",
            sink.port,
            sink.directory,
        )


def run_preflight(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """The demo runs the preflight first and prints it (a failure is shown, not fatal,
    except for `demo --once`, whose exit code says whether everything worked)."""
    from sandbox.onboarding import check

    try:
        code = check()
    except Exception as exc:
        log.warning("preflight could not run: %s", exc)
        code = 1
    if code and getattr(args, "once", False):
        raise HostError("demo --once: the preflight did not pass (see above)")


# What each command starts before the host; `host` starts nothing. The demo's own service
# comes last: it needs storage and the emulators up, and must finish before the host starts.
SERVICES: dict[str, list[Service]] = {
    "dev": [
        start_azurite,
        start_creatio,
        start_intacct,
        start_identity,
        start_dataverse,
        start_mail_sink,
    ],
    "demo": [
        start_azurite,
        start_creatio,
        start_intacct,
        start_identity,
        start_dataverse,
        start_mail_sink,
        run_preflight,
        start_demo,
    ],
    "host": [],
}


def _default_port() -> int:
    value = os.environ.get(PORT_SETTING, "")
    return int(value) if value.isdigit() else DEFAULT_PORT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shuttle", description="Run Shuttle locally.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    helps = {
        "dev": "start Azurite if needed, then the local Functions host",
        "demo": "as dev, plus demo data in the emulators it starts, one full cycle of the "
        "mapped flows of both solutions with live progress, then the flows on a one-minute "
        "schedule",
        "host": "the local Functions host only (storage must already be reachable)",
    }
    check = commands.add_parser("check", help="the preflight: what the live systems lack")
    check.add_argument("--no-cache", action="store_true", help="do not save the result")
    provision = commands.add_parser("provision", help="create what a system needs")
    provision.add_argument("system", choices=["dataverse"])
    provision.add_argument("--dry-run", action="store_true", help="say what would be created")
    for name, text in helps.items():
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument(
            "--port",
            type=int,
            default=None,
            help=f"HTTP port (default: ${PORT_SETTING}, else local.settings Host.LocalHttpPort, "
            f"else {DEFAULT_PORT})",
        )
        sub.add_argument(
            "--app-dir",
            type=Path,
            default=REPO_ROOT,
            help="directory with function_app.py and host.json (default: the repo root)",
        )
        sub.add_argument(
            "--preload",
            action="append",
            default=[],
            metavar="MODULE",
            help="import MODULE before the app (repeatable)",
        )
        sub.add_argument(
            "--functions",
            nargs="+",
            default=None,
            metavar="NAME",
            help="serve only these functions (as `func start --functions`)",
        )
        if name == "demo":
            sub.add_argument(
                "--once",
                action="store_true",
                help="stop after the first full cycle; exit 0 when only the "
                "deliberately bad demo records failed",
            )
            sub.add_argument(
                "--size",
                choices=sorted(SIZES),
                default=None,
                help="how much demo data (default: full; small with --once)",
            )
    return parser


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _print_ready(host: LocalHost) -> None:
    # Tests and scripts wait for this exact line; flush so a pipe sees it at once.
    print(f"Shuttle API: {host.api_url}", flush=True)
    print(f"Shuttle console: {host.api_url}/console", flush=True)


def _abandoned_threads() -> list[threading.Thread]:
    """Synchronous handlers still running after the drain (threads cannot be cancelled)."""
    workers = [t for t in threading.enumerate() if t.name.startswith("shuttle-fn")]
    for thread in workers:
        thread.join(timeout=1.0)
    return [t for t in workers if t.is_alive()]


def onboarding(args: argparse.Namespace) -> int:
    """`check` and `provision`: settings from local.settings.json as the host reads them."""
    from sandbox.onboarding import check, provision

    load_and_apply(REPO_ROOT)
    if args.command == "check":
        return check(cache=not args.no_cache)
    return provision(args.system, args.dry_run)


def run(args: argparse.Namespace) -> int:
    if args.command in ("check", "provision"):
        return onboarding(args)
    app_dir = args.app_dir.resolve()
    settings = load_and_apply(app_dir)
    port = args.port
    if port is None:
        port = (
            _default_port()
            if PORT_SETTING in os.environ
            else settings.host.local_http_port or DEFAULT_PORT
        )
    if args.command == "demo" and args.size is None:
        args.size = "small" if args.once else "full"
    cycle_stop: threading.Event | None = None

    def on_ready(host: LocalHost) -> None:
        nonlocal cycle_stop
        _print_ready(host)
        if args.command == "demo":
            from sandbox.demo.service import start_first_cycle

            cycle_stop = start_first_cycle(args, host.api_url)

    with contextlib.ExitStack() as stack:
        for service in SERVICES[args.command]:
            service(args, stack)
        host = LocalHost(
            app_dir,
            port=port,
            preload=args.preload,
            functions=args.functions,
            load_settings=False,  # applied above, before the services needed them
        )
        try:
            code = host.run(on_ready=on_ready)
        finally:
            if cycle_stop is not None:
                cycle_stop.set()
            # Stopping the services is bounded (Azurite gets SIGKILL after a while); another
            # Ctrl-C must not cut it short and leave a process behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.command == "demo" and args.once:
        from sandbox.demo.service import EXIT_CODE

        # No verdict: stopped (Ctrl-C, SIGTERM) before the first cycle ended.
        code = vars(args).get(EXIT_CODE, 1)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    # Until the host installs its own handlers, SIGTERM unwinds like Ctrl-C, so whatever
    # was started so far (Azurite) is stopped on the way out.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        code = run(args)
    except HostError as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        log.info("interrupted during startup")
        code = 0
    if _abandoned_threads():
        log.error("synchronous handlers still running after the drain; exiting anyway")
        logging.shutdown()
        sys.stdout.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
