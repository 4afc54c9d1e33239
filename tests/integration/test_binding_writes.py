"""A chunk's binding writes against Azurite (shared/storage/binding_store.py `write_many`):
pairs read unbound are inserted, everything else merged, and an insert that meets a row
written meanwhile (a concurrent worker, a redelivery) merges instead, losing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.data.tables.aio import TableClient

from shared.runtime import Services
from shared.storage.binding_store import BindingStore

PAIR = "creatio-intacct.account"


class Recorder(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """The body of every request the table client sends (transactions are multipart)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def on_request(self, request: Any) -> None:
        body = request.http_request.body
        self.bodies.append(body.decode() if isinstance(body, bytes) else str(body or ""))


@pytest.fixture
async def recorded(
    services: Services, storage_connection_string: str
) -> tuple[BindingStore, Recorder]:
    recorder = Recorder()
    table = TableClient.from_connection_string(
        storage_connection_string,
        services.records.bindings.table.table_name,
        per_call_policies=[recorder],
    )
    return BindingStore(table), recorder


def transactions(recorder: Recorder) -> list[str]:
    """Each transaction sent: its operations' HTTP verbs, in order ("POST" inserts, "PATCH"
    merges), as the multipart body lists them."""
    verbs = []
    for body in recorder.bodies:
        if "multipart/mixed" not in body:
            continue
        verbs.append(
            " ".join(
                line.split(" ", 1)[0]
                for line in body.splitlines()
                if line.startswith(("POST http", "MERGE http", "PUT http", "PATCH http"))
            )
        )
    return verbs


async def test_unbound_pairs_are_inserted_and_bound_ones_merged(
    recorded: tuple[BindingStore, Recorder],
) -> None:
    store, recorder = recorded
    async with store.table:
        await store.write(PAIR, "c-old", "e-old", {"hash_to_erp": "h1"})
        recorder.bodies.clear()
        await store.write_many(
            PAIR,
            [("c-new", "e-new", {"hash_to_erp": "n1"}), ("c-old", "e-old", {"echo_erp": "x"})],
            new={("c-new", "e-new")},
        )
        assert transactions(recorder) == ["POST POST", "PATCH PATCH"]
        old = await store.get(PAIR, "erp", "e-old")
        assert old is not None and (old.hash_to_erp, old.echo_erp) == ("h1", "x")
        fresh = await store.get(PAIR, "crm", "c-new")
        assert fresh is not None and (fresh.erp_id, fresh.hash_to_erp) == ("e-new", "n1")


async def test_an_insert_meeting_a_row_written_meanwhile_merges_and_keeps_its_fields(
    recorded: tuple[BindingStore, Recorder],
) -> None:
    """Read unbound, then another worker binds the same pair (with the other direction's
    fields) before this chunk's write: nothing of either write is lost."""
    store, recorder = recorded
    async with store.table:
        await store.write(PAIR, "c-1", "e-1", {"hash_to_crm": "theirs", "echo_crm": "e"})
        recorder.bodies.clear()
        await store.write_many(
            PAIR,
            [("c-1", "e-1", {"hash_to_erp": "mine"}), ("c-2", "e-2", {"hash_to_erp": "two"})],
            new={("c-1", "e-1"), ("c-2", "e-2")},
        )
        assert transactions(recorder) == ["POST POST POST POST", "PATCH PATCH PATCH PATCH"]
        for side, record_id in (("crm", "c-1"), ("erp", "e-1")):
            row = await store.get(PAIR, side, record_id)  # type: ignore[arg-type]
            assert row is not None
            assert (row.hash_to_crm, row.echo_crm, row.hash_to_erp) == ("theirs", "e", "mine")
        two = await store.get(PAIR, "erp", "e-2")
        assert two is not None and two.crm_id == "c-2" and two.hash_to_erp == "two"
