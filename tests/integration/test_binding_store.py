"""The binding store against Azurite (shared/storage/binding_store.py):

- a chunk's binding writes (`write_many`): pairs read unbound are inserted, everything else
  merged, and an insert that meets a row written meanwhile (a concurrent worker, a
  redelivery) merges instead, losing nothing; the target side's rows land before the
  source side's;
- a side's rows spread over a few partitions, and a chunk still reads them in few queries;
- bindings and key claims an older version left in the pair's single partition still hold:
  they are moved before any row is read or written."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.data.tables.aio import TableClient

from shared.runtime import Services
from shared.storage.binding_store import (
    BINDING_BUCKETS,
    BindingStore,
    Side,
    claims_partition,
    other,
)

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


def transactions(recorder: Recorder) -> list[tuple[str, str]]:
    """Each transaction sent: the side whose rows it writes, and its operations' HTTP verbs
    in order ("POST" inserts, "PATCH" merges), as the multipart body lists them."""
    sent = []
    for body in recorder.bodies:
        if "multipart/mixed" not in body:
            continue
        text = unquote(body)
        sides = {side for side in ("crm", "erp") if f"|{side}|" in text}
        assert len(sides) == 1, "a transaction writes one side's rows"
        verbs = " ".join(
            line.split(" ", 1)[0]
            for line in text.splitlines()
            if line.startswith(("POST http", "MERGE http", "PUT http", "PATCH http"))
        )
        sent.append((sides.pop(), verbs))
    return sent


def queries(recorder: Recorder) -> int:
    return sum(1 for body in recorder.bodies if body == "")


@pytest.mark.parametrize("source", ["crm", "erp"])
async def test_unbound_pairs_are_inserted_and_bound_ones_merged_the_source_side_last(
    recorded: tuple[BindingStore, Recorder], source: Side
) -> None:
    store, recorder = recorded
    target = other(source)
    async with store.table:
        await store.write(PAIR, "c-old", "e-old", {"hash_to_erp": "h1"}, source=source)
        recorder.bodies.clear()
        await store.write_many(
            PAIR,
            [("c-new", "e-new", {"hash_to_erp": "n1"}), ("c-old", "e-old", {"echo_erp": "x"})],
            source=source,
            new={("c-new", "e-new")},
        )
        # The target's rows first: a worker dying in between leaves the record unbound on
        # its own side, to be linked again (tests/integration/test_engine_chunks.py).
        assert transactions(recorder) == [
            (target, "POST"),
            (target, "PATCH"),
            (source, "POST"),
            (source, "PATCH"),
        ]
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
        await store.write(
            PAIR, "c-1", "e-1", {"hash_to_crm": "theirs", "echo_crm": "e"}, source="erp"
        )
        recorder.bodies.clear()
        await store.write_many(
            PAIR,
            [("c-1", "e-1", {"hash_to_erp": "mine"}), ("c-2", "e-2", {"hash_to_erp": "two"})],
            source="crm",
            new={("c-1", "e-1"), ("c-2", "e-2")},
        )
        sent = transactions(recorder)
        # c-1's inserts were refused (its rows exist), and merged instead, on both sides.
        assert [side for side, verbs in sent if "PATCH" in verbs] == ["erp", "crm"]
        for side, record_id in (("crm", "c-1"), ("erp", "e-1")):
            row = await store.get(PAIR, side, record_id)  # type: ignore[arg-type]
            assert row is not None
            assert (row.hash_to_crm, row.echo_crm, row.hash_to_erp) == ("theirs", "e", "mine")
        two = await store.get(PAIR, "erp", "e-2")
        assert two is not None and two.crm_id == "c-2" and two.hash_to_erp == "two"


async def test_a_sides_rows_spread_over_partitions_and_a_chunk_reads_them_in_few_queries(
    recorded: tuple[BindingStore, Recorder],
) -> None:
    """One partition per pair made every chunk's read (RowKeys joined by `or`: a partition
    scan on Table storage) and every write in Azurite cost more as the pair grew."""
    store, recorder = recorded
    ids = [(f"c-{n:03d}", f"e-{n:03d}") for n in range(100)]
    async with store.table:
        await store.write_many(
            PAIR, [(c, e, {"hash_to_erp": c}) for c, e in ids], source="crm", new=ids
        )
        writes = transactions(recorder)
        assert len(writes) == 2 * BINDING_BUCKETS  # a transaction per partition
        rows = [r async for r in store.table.list_entities(select=["PartitionKey"])]
        partitions = {r["PartitionKey"] for r in rows}
        buckets = range(BINDING_BUCKETS)
        assert partitions == {f"{PAIR}|{s}|{b}" for s in ("crm", "erp") for b in buckets}
        assert max(sum(r["PartitionKey"] == p for r in rows) for p in partitions) < 50
        recorder.bodies.clear()
        found = await store.get_many(PAIR, "crm", [c for c, _ in ids])
        assert {c: b.erp_id for c, b in found.items()} == dict(ids)
        assert queries(recorder) <= 100 // 14 + BINDING_BUCKETS
        assert sorted(await store.bound_ids(PAIR, "erp")) == [e for _, e in ids]


async def test_bindings_and_claims_an_older_version_left_in_the_pairs_partition_still_hold(
    services: Services,
) -> None:
    """Before this layout a pair's bindings and claims lived in the pair's own partition.
    After the upgrade its records are still bound on both sides (no twin is created for
    them), a record that died between its claim and its binding still holds its key, and a
    row the new layout already has (written since) wins over the older copy."""
    store = services.records.bindings
    at = datetime(2026, 12, 1, tzinfo=UTC)
    older = BindingStore(store.table)
    assert await older.claim(PAIR, "erp", 'CUSTOMER:NAME="Acme"', "c-a", at, creating=True) is None
    await older.write(PAIR, "c-b", "e-b", {"hash_to_erp": "old"}, source="crm")
    await older.write(PAIR, "c-c", "e-c", {"hash_to_erp": "old"}, source="crm")
    # As an older version wrote them: the same rows in the pair's partition, nowhere else.
    async for row in store.table.list_entities():
        if row["PartitionKey"].startswith(f"{PAIR}|"):
            fields = {k: v for k, v in row.items() if k not in ("PartitionKey", "RowKey")}
            await store.table.create_entity(
                {"PartitionKey": PAIR, "RowKey": row["RowKey"], **fields}
            )
            await store.table.delete_entity(row["PartitionKey"], row["RowKey"])
    # c-c was synced again since, by a process of the new version.
    newer = BindingStore(store.table)
    newer._current.add(PAIR)  # it moved when the pair had no older rows yet
    await newer.write(PAIR, "c-c", "e-c", {"hash_to_erp": "new"}, source="crm")

    upgraded = BindingStore(store.table)
    held = await upgraded.claim(PAIR, "erp", 'CUSTOMER:NAME="Acme"', "c-b", at)
    assert held is not None and held.source_id == "c-a"
    assert await upgraded.created_by(PAIR, "erp", 'CUSTOMER:NAME="Acme"', "c-a")
    bound = await upgraded.get(PAIR, "crm", "c-b")
    assert bound is not None and (bound.erp_id, bound.hash_to_erp) == ("e-b", "old")
    assert set(await upgraded.get_many(PAIR, "erp", ["e-b", "e-c"])) == {"e-b", "e-c"}
    assert sorted(await upgraded.bound_ids(PAIR, "crm")) == ["c-b", "c-c"]
    for side, record_id in (("crm", "c-c"), ("erp", "e-c")):
        row = await upgraded.get(PAIR, side, record_id)  # type: ignore[arg-type]
        assert row is not None and row.hash_to_erp == "new"
    left = [
        r async for r in store.table.query_entities("PartitionKey eq @p", parameters={"p": PAIR})
    ]
    assert left == []  # moved, not copied
    claims = [
        r
        async for r in store.table.query_entities(
            "PartitionKey eq @p", parameters={"p": claims_partition(PAIR)}
        )
    ]
    assert [r["source_id"] for r in claims] == ["c-a"]


async def test_a_chunks_records_starting_together_look_for_older_rows_once(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BindingStore(services.records.bindings.table)
    real_query = store.table.query_entities
    legacy_queries: list[str] = []

    def counted(query_filter: str, **kwargs: Any) -> Any:
        if query_filter == "PartitionKey eq @pair":
            legacy_queries.append(kwargs["parameters"]["pair"])
        return real_query(query_filter, **kwargs)

    monkeypatch.setattr(store.table, "query_entities", counted)
    found = await asyncio.gather(*(store.get(PAIR, "crm", f"c-{n}") for n in range(50)))
    assert found == [None] * 50
    assert legacy_queries == [PAIR]
