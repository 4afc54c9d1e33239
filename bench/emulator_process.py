"""An emulator as its own process (`python -m sandbox.emulators.<name>`) on a free port, so it
does not share the measured client's interpreter, with a client for its admin API."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from sandbox.azurite import free_port

ROOT = Path(__file__).resolve().parent.parent


class EmulatorProcess:
    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"sandbox.emulators.{name}", "--port", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        self.admin = httpx.Client(base_url=f"{self.url}/_emulator", timeout=600)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.admin.get("/knobs").raise_for_status()
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"the {name} emulator did not start") from None
                time.sleep(0.1)

    def reset(self, **knobs: object) -> None:
        self.admin.post("/reset").raise_for_status()
        if knobs:
            self.admin.put("/knobs", json=knobs).raise_for_status()

    def seed(self, payload: dict[str, list[dict[str, Any]]]) -> None:
        self.admin.post("/seed", json=payload).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return dict(self.admin.get("/calls").json())

    def stop(self) -> None:
        self.admin.close()
        self.process.terminate()
        self.process.wait(20)
