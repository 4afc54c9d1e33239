"""Load the demo records into the emulators through their admin API (`/_emulator/seed`)."""

from __future__ import annotations

import logging
import ssl
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from sandbox.demo import data
from sandbox.demo.volume import Book
from sandbox.host.errors import HostError

log = logging.getLogger("shuttle")

TIMEOUT_S = 30.0


class SeedError(HostError):
    """An emulator refused the demo data; the message names the emulator and its answer."""


def _post_seed(client: httpx.Client, system: str, payload: dict[str, Any]) -> dict[str, int]:
    response = client.post("/_emulator/seed", json=payload)
    if response.status_code >= 400:
        raise SeedError(
            f"{system} emulator refused the demo data: {response.status_code} {response.text[:500]}"
        )
    counts: dict[str, int] = response.json()
    return counts


def _merge(*payloads: dict[str, data.Rows]) -> dict[str, data.Rows]:
    merged: dict[str, data.Rows] = {}
    for payload in payloads:
        for name, rows in payload.items():
            merged.setdefault(name, []).extend(rows)
    return merged


def creatio_payload(
    lookups: dict[str, dict[str, str]], today: date, book: Book
) -> dict[str, data.Rows]:
    """The hand-written records, then the generated book (its products first: its
    opportunity and order lines point at them)."""
    # Standard lookup rows get new ids per emulator instance; find them by name.
    stages, currencies = lookups["OpportunityStage"], lookups["Currency"]
    products = book.products()
    generated = book.creatio({p["Code"]: p["Id"] for p in products}, stages, currencies)
    return _merge(data.creatio(stages["Closed won"], today), {"Product": products}, generated)


def seed_creatio(url: str, today: date, book: Book) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Counts per entity, and the ids of the deliberately bad records per flow."""
    with httpx.Client(base_url=url, timeout=TIMEOUT_S) as client:
        lookups = client.get("/_emulator/lookups")
        lookups.raise_for_status()
        payload = creatio_payload(lookups.json(), today, book)
        return _post_seed(client, "creatio", payload), data.planned_ids(payload)


def seed_intacct(url: str, today: date, book: Book) -> dict[str, int]:
    payload = _merge(data.intacct(today), {"ITEM": book.items()}, book.intacct())
    with httpx.Client(base_url=url, timeout=TIMEOUT_S) as client:
        return _post_seed(client, "intacct", payload)


def seed_dataverse(url: str, ca_file: Path, book: Book) -> dict[str, int]:
    verify = ssl.create_default_context(cafile=str(ca_file))
    with httpx.Client(base_url=url, timeout=TIMEOUT_S, verify=verify) as client:
        counts = _post_seed(client, "dataverse", _merge(data.dataverse(), book.dataverse()))
        return counts | _post_if_known(client, "dataverse", data.PRICE_LIST)


def _post_if_known(client: httpx.Client, system: str, payload: dict[str, Any]) -> dict[str, int]:
    """Rows of a table an older emulator does not have (Dataverse price lists): skipped
    with a note when the emulator answers that it has no such table."""
    response = client.post("/_emulator/seed", json=payload)
    if response.status_code == 422 and "no table" in response.text:
        log.info("demo: the %s emulator has no %s; not seeding it", system, ", ".join(payload))
        return {}
    if response.status_code >= 400:
        raise SeedError(
            f"{system} emulator refused the demo data: {response.status_code} {response.text[:500]}"
        )
    counts: dict[str, int] = response.json()
    return counts
