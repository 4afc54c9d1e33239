"""Start, find and stop Azurite (the storage emulator) from the repo's node_modules."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEFAULT_PORTS = (10000, 10001, 10002)
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key; it is public and only opens the local emulator.
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass(frozen=True)
class StoragePorts:
    blob: int
    queue: int
    table: int

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.blob, self.queue, self.table)


def connection_string(ports: StoragePorts) -> str:
    """A full connection string for Azurite on the given ports (the SDKs need explicit
    endpoints when the ports are not the defaults)."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint=http://{HOST}:{ports.blob}/{ACCOUNT};"
        f"QueueEndpoint=http://{HOST}:{ports.queue}/{ACCOUNT};"
        f"TableEndpoint=http://{HOST}:{ports.table}/{ACCOUNT};"
    )


def local_ports(conn_str: str) -> StoragePorts | None:
    """The Azurite ports a connection string points at, or None if it is not local."""
    if conn_str.strip().rstrip(";") == "UseDevelopmentStorage=true":
        return StoragePorts(*DEFAULT_PORTS)
    parts = dict(p.split("=", 1) for p in conn_str.split(";") if "=" in p)
    found: dict[str, int] = {}
    for service in ("Blob", "Queue", "Table"):
        url = parts.get(f"{service}Endpoint", "")
        host_port = url.split("://", 1)[-1].split("/", 1)[0]
        host, _, port = host_port.partition(":")
        if host not in (HOST, "localhost") or not port.isdigit():
            return None
        found[service.lower()] = int(port)
    return StoragePorts(**found)


def is_listening(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def azurite_binary() -> Path:
    path = REPO_ROOT / "node_modules" / ".bin" / "azurite"
    if not path.exists():
        raise RuntimeError(
            f"Azurite is not installed at {path}; run `npm ci` (or `make setup`) in {REPO_ROOT}"
        )
    return path


class Azurite:
    """One Azurite process serving blob, queue and table on the given ports."""

    def __init__(self, ports: StoragePorts, *, location: Path | None = None) -> None:
        self.ports = ports
        self.location = location
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return connection_string(self.ports)

    def start(self, timeout: float = 30.0) -> None:
        args = [
            str(azurite_binary()),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
            "--blobHost",
            HOST,
            "--blobPort",
            str(self.ports.blob),
            "--queueHost",
            HOST,
            "--queuePort",
            str(self.ports.queue),
            "--tableHost",
            HOST,
            "--tablePort",
            str(self.ports.table),
        ]
        if self.location is None:
            args.append("--inMemoryPersistence")
        else:
            self.location.mkdir(parents=True, exist_ok=True)
            args += ["--location", str(self.location)]
        # stderr goes to a file, not a pipe: nobody reads a pipe while `shuttle dev` runs for
        # hours, and a full pipe would block Azurite. The file is read if it fails to start.
        self._stderr = tempfile.TemporaryFile(prefix="azurite-")  # noqa: SIM115 (closed in stop)
        # Own session: a Ctrl-C in the terminal reaches our CLI, which then stops Azurite
        # deliberately (and its node children with it, via the process group).
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
            cwd=REPO_ROOT,
        )
        try:
            self._wait_listening(self.process, timeout)
        except BaseException:
            # Also on Ctrl-C while waiting: never leave an Azurite behind that nobody owns.
            self.stop()
            raise

    def _wait_listening(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not all(is_listening(p) for p in self.ports.as_tuple()):
            if process.poll() is not None:
                err = self._read_stderr()
                raise RuntimeError(f"Azurite exited with {process.returncode}: {err.strip()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Azurite did not listen on {self.ports} within {timeout}s")
            time.sleep(0.05)

    def _read_stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.process = self.process, None
        stderr, self._stderr = self._stderr, None
        try:
            self._terminate(proc, timeout)
        finally:
            if stderr is not None:
                stderr.close()

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)

    def __enter__(self) -> Azurite:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_azurite(conn_str: str, *, location: Path | None = None) -> Azurite | None:
    """Start Azurite for a local connection string unless something already listens there.

    Returns the started process (the caller stops it), or None when nothing was started.
    """
    ports = local_ports(conn_str)
    if ports is None:
        return None
    listening = [is_listening(p) for p in ports.as_tuple()]
    if all(listening):
        return None
    if any(listening):
        raise RuntimeError(
            f"Some of the storage ports {ports.as_tuple()} are in use and some are not; "
            "stop whatever holds them or point AzureWebJobsStorage at other ports"
        )
    azurite = Azurite(ports, location=location)
    azurite.start()
    return azurite
