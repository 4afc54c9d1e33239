"""The binding store against Azurite (shared/storage/binding_store.py):

- a chunk's binding writes (`write_many`): pairs read unbound are inserted, everything else
  merged, and an insert that meets a row written meanwhile (a concurrent worker, a
  redelivery) merges instead, losing nothing;
- key claims live in a partition of their own, and claims an older version left in the
  pair's partition still hold: they are moved before any claim is read or taken."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.data.tables.aio import TableClient

from shared.runtime import Services
from shared.storage.binding_store import BindingStore, claims_partition

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


async def test_claims_an_older_version_left_in_the_pairs_partition_still_hold(
    services: Services,
) -> None:
    """Before this layout a claim row lived in the pair's own partition. A record that died
    between its claim and its binding must still hold its key after the upgrade: another
    source record with the same key is refused, and the holder's own create is known."""
    store = services.records.bindings
    older = BindingStore(store.table)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    assert await older.claim(PAIR, "erp", 'CUSTOMER:NAME="Acme"', "c-a", at, creating=True) is None
    claims = store.table.query_entities(
        "PartitionKey eq @p", parameters={"p": claims_partition(PAIR)}
    )
    (row_key,) = [row["RowKey"] async for row in claims]
    # As an older version wrote it: the same row in the pair's partition, and nowhere else.
    row = await store.table.get_entity(claims_partition(PAIR), row_key)
    await store.table.create_entity({**row, "PartitionKey": PAIR, "RowKey": row_key})
    await store.table.delete_entity(claims_partition(PAIR), row_key)

    upgraded = BindingStore(store.table)
    held = await upgraded.claim(PAIR, "erp", 'CUSTOMER:NAME="Acme"', "c-b", at)
    assert held is not None and held.source_id == "c-a"
    assert await upgraded.created_by(PAIR, "erp", 'CUSTOMER:NAME="Acme"', "c-a")
    left = [
        r async for r in store.table.query_entities("PartitionKey eq @p", parameters={"p": PAIR})
    ]
    assert left == []  # moved, not copied
