"""Load the demo records into the emulators through their admin API (`/_emulator/seed`)."""

from __future__ import annotations

import logging
import ssl
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from sandbox.demo import data
from sandbox.host.errors import HostError

log = logging.getLogger("shuttle")

TIMEOUT_S = 30.0


class SeedError(HostError):
    """An emulator refused the demo data; the message names the emulator and its answer."""


def _post_seed(client: httpx.Client, system: str, payload: dict[str, Any]) -> dict[str, int]:
    response = client.post("/_emulator/seed", json=payload)
    if response.status_code >= 400:
        raise SeedError(f"{system} emulator refused the demo data: {response.status_code} "
                        f"{response.text[:500]}")  # fmt: skip
    counts: dict[str, int] = response.json()
    return counts


def seed_creatio(url: str, today: date) -> dict[str, int]:
    with httpx.Client(base_url=url, timeout=TIMEOUT_S) as client:
        lookups = client.get("/_emulator/lookups")
        lookups.raise_for_status()
        # Standard lookup rows get new ids per emulator instance; find "Closed won" by name.
        closed_won = lookups.json()["OpportunityStage"]["Closed won"]
        return _post_seed(client, "creatio", data.creatio(closed_won, today))


def seed_intacct(url: str, today: date) -> dict[str, int]:
    with httpx.Client(base_url=url, timeout=TIMEOUT_S) as client:
        return _post_seed(client, "intacct", data.intacct(today))


def seed_dataverse(url: str, ca_file: Path) -> dict[str, int]:
    verify = ssl.create_default_context(cafile=str(ca_file))
    with httpx.Client(base_url=url, timeout=TIMEOUT_S, verify=verify) as client:
        return _post_seed(client, "dataverse", data.dataverse())
