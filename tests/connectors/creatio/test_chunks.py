"""CreatioSync's batch methods (a chunk's calls, shared/engine/chunk_calls.py) against the
emulator over HTTP: few requests for many records, and still each record its own answer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.connectors.creatio import CreatioClient, deterministic_id
from shared.connectors.creatio.sync import CreatioSync
from shared.connectors.errors import ConnectorError
from shared.connectors.protocol import LINES_FIELD, Reference, SourceRef, WriteOutcome
from shared.errors import ErrorCategory
from tests.support.creatio import RunningCreatio, config

QUERY = "GET /0/odata/Account"
BATCH = "POST /0/odata/$batch"


@pytest.fixture
async def sync(creatio: RunningCreatio) -> AsyncIterator[CreatioSync]:
    connector = CreatioSync(CreatioClient(config(creatio.url)))
    yield connector
    await connector.aclose()


def _source(n: int) -> SourceRef:
    return SourceRef(system="intacct", object="CUSTOMER", id=f"C{n:05d}")


def _seed(creatio: RunningCreatio, count: int) -> dict[str, str]:
    """`count` accounts named like an onboarding's; their Ids by Code."""
    creatio.admin.seed(
        {
            "Account": [
                {"Name": f"Customer number {n:05d} of the chunk", "Code": f"C{n:05d}"}
                for n in range(count)
            ]
        }
    )
    return {r["Code"]: str(r["Id"]) for r in creatio.rows("Account")}


def _queries(creatio: RunningCreatio) -> list[dict[str, Any]]:
    return [r for r in creatio.admin.requests() if r["method"] == "GET" and "/Account" in r["path"]]


async def test_find_many_matches_a_chunk_in_a_few_requests_each_value_its_own_records(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    ids = _seed(creatio, 100)
    creatio.admin.clear_calls()
    names = [f"Customer number {n:05d} of the chunk" for n in range(100)]
    asked = [*names[:98], "CUSTOMER NUMBER 00098 OF THE CHUNK", "Nobody at all"]
    found = await sync.find_many("Account", "Name", asked, fields=["Name", "Code"])
    assert set(found) == set(asked)
    for n, name in enumerate(asked[:99]):
        assert [r.id for r in found[name]] == [ids[f"C{n:05d}"]]  # case-insensitive, as Creatio
        assert found[name][0].values["Code"] == f"C{n:05d}"
    assert found["Nobody at all"] == []
    # Split to stay under IIS's query string limit (docs/wire-notes.md C9), not one per value.
    assert 2 <= creatio.admin.calls(QUERY) <= 5
    assert all(len(r["query"]) <= 2048 for r in _queries(creatio))


async def test_find_many_leaves_out_what_it_cannot_tell_apart(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    creatio.admin.seed(
        {"Account": [{"Name": "Acme", "Code": "A1"}, {"Name": "Acme", "Code": "A2"}]}
    )
    creatio.admin.seed({"Account": [{"Name": "Zeta", "Code": "Z1"}]})
    found = await sync.find_many("Account", "Name", ["acme", "ACME", "Zeta", "Beta"])
    # "acme" and "ACME" ask for the same rows on a case-insensitive site but not on every
    # site: each goes alone (chunk_calls asks `find` for a missing key).
    assert set(found) == {"Zeta", "Beta"}
    assert [r.values["Code"] for r in found["Zeta"]] == ["Z1"] and found["Beta"] == []
    # Two records for one value are both given back: the engine reports the duplicate.
    both = await sync.find_many("Account", "Name", ["Acme"])
    assert sorted(r.values["Code"] for r in both["Acme"]) == ["A1", "A2"]


async def test_find_many_on_a_case_sensitive_site_answers_as_its_single_find_would(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    creatio.admin.options(case_insensitive=False)  # Creatio on PostgreSQL
    creatio.admin.seed({"Account": [{"Name": "Acme", "Code": "A1"}, {"Name": "Zeta"}]})
    found = await sync.find_many("Account", "Name", ["acme", "Zeta"])
    assert found["acme"] == [] == await sync.find("Account", {"Name": "acme"})
    assert [r.values["Name"] for r in found["Zeta"]] == ["Zeta"]


async def test_find_many_by_a_lookup_takes_references_and_guids(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    ids = _seed(creatio, 3)
    creatio.admin.seed(
        {"Contact": [{"Name": f"Person {c}", "AccountId": ids[c]} for c in ("C00000", "C00001")]}
    )
    upper = ids["C00001"].upper()
    found = await sync.find_many(
        "Contact",
        "AccountId",
        [Reference(object="Account", id=ids["C00000"]), upper, ids["C00002"]],
    )
    assert [r.values["Name"] for r in found[ids["C00000"]]] == ["Person C00000"]
    assert [r.values["Name"] for r in found[upper]] == ["Person C00001"]
    assert found[ids["C00002"]] == []


async def test_get_many_reads_a_chunk_by_id_with_missing_and_malformed_ids_on_their_own(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    ids = _seed(creatio, 100)
    creatio.admin.clear_calls()
    ghost = str(uuid.uuid4())
    asked = [*ids.values(), ghost, "not-a-guid"]
    got = await sync.get_many("Account", asked, fields=["Code"])
    assert {code: got[i].values["Code"] for code, i in ids.items()} == {c: c for c in ids}  # type: ignore[union-attr]
    assert ghost not in got  # does not exist
    error = got["not-a-guid"]
    assert isinstance(error, ConnectorError) and error.field == "Id"
    assert 2 <= creatio.admin.calls(QUERY) <= 5
    assert all(len(r["query"]) <= 2048 for r in _queries(creatio))


async def test_create_many_writes_100_in_one_batch_and_3_refusals_fail_alone_by_field(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    bad = {7, 42, 99}
    items = [
        (
            {"Name": f"Chunk {n:03d}", "Code": f"C{n:05d}", "UsrActive": True}
            | ({"UsrErpFullName": "x" * 300} if n in bad else {}),
            _source(n),
        )
        for n in range(100)
    ]
    results = await sync.create_many("Account", items)
    assert len(results) == 100
    for n, result in enumerate(results):
        if n in bad:
            assert isinstance(result, ConnectorError), result
            assert result.category is ErrorCategory.VALIDATION and result.field == "UsrErpFullName"
            assert result.record == str(deterministic_id("intacct", "CUSTOMER", f"C{n:05d}"))
        else:
            assert isinstance(result, WriteOutcome) and result.created, result
            assert result.id == str(deterministic_id("intacct", "CUSTOMER", f"C{n:05d}"))
            assert result.modified is not None
    assert creatio.admin.calls(BATCH) == 1  # refusals are final: nothing sent again
    assert len(creatio.rows("Account")) == 97


async def test_create_many_delivered_twice_makes_no_twin(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    items = [({"Name": f"Twice {n:03d}"}, _source(n)) for n in range(50)]
    first = await sync.create_many("Account", items)
    again = await sync.create_many("Account", items)
    assert all(isinstance(r, WriteOutcome) and r.created for r in first)
    assert all(isinstance(r, WriteOutcome) and not r.created for r in again)
    assert [r.id for r in again] == [r.id for r in first]  # type: ignore[union-attr]
    assert len(creatio.rows("Account")) == 50


async def test_a_batch_whose_answer_is_lost_is_sent_again_without_twins(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    # The emulator applies the whole batch, then resets the connection.
    creatio.admin.faults({"fault": "drop_after", "path": "/0/odata/$batch"})
    items = [({"Name": f"Lost {n:03d}", "Code": f"L{n:03d}"}, _source(n)) for n in range(100)]
    results = await sync.create_many("Account", items)
    assert all(isinstance(r, WriteOutcome) for r in results), results
    ids = [r.id for r in results]  # type: ignore[union-attr]
    assert ids == [str(deterministic_id("intacct", "CUSTOMER", f"C{n:05d}")) for n in range(100)]
    assert len(creatio.rows("Account")) == 100
    assert creatio.admin.writes("create Account") == 100
    # The batch, once more (each create meets its own record), and one read back.
    assert creatio.admin.calls(BATCH) == 3


async def test_a_batch_that_keeps_failing_gives_each_record_a_retryable_error(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    creatio.admin.faults({"fault": "drop", "path": "/0/odata/$batch", "times": 100})
    items = [({"Name": f"Down {n}"}, _source(n)) for n in range(10)]
    results = await sync.create_many("Account", items)
    assert len(results) == 10
    for result in results:
        assert isinstance(result, ConnectorError) and result.category is ErrorCategory.CONNECTION
        assert result.retryable
    assert creatio.rows("Account") == []


async def test_update_many_patches_a_chunk_in_one_batch_each_failure_its_own(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    ids = _seed(creatio, 100)
    creatio.admin.clear_calls()
    ghost = str(uuid.uuid4())
    items: list[tuple[str, dict[str, Any]]] = [
        (ident, {"Name": f"Renamed {code}"}) for code, ident in ids.items()
    ]
    items[5] = (items[5][0], {"UsrErpFullName": "y" * 300})
    items.append((ghost, {"Name": "Nobody"}))
    items.append(("nope", {"Name": "Malformed"}))
    results = await sync.update_many("Account", items)
    assert len(results) == 102
    refused = results[5]
    assert isinstance(refused, ConnectorError) and refused.field == "UsrErpFullName"
    missing = results[100]
    assert isinstance(missing, ConnectorError) and missing.category is ErrorCategory.NOT_FOUND
    malformed = results[101]
    assert isinstance(malformed, ConnectorError) and malformed.field == "Id"
    done = [r for n, r in enumerate(results) if n not in (5, 100, 101)]
    assert all(isinstance(r, WriteOutcome) and not r.created for r in done)
    rows = {str(r["Id"]): r["Name"] for r in creatio.rows("Account")}
    renamed = [ident for code, ident in ids.items() if rows[ident] == f"Renamed {code}"]
    assert len(renamed) == 99
    assert creatio.admin.calls(BATCH) == 2  # 101 PATCHes: batches of at most 100


async def test_create_many_writes_documents_then_all_their_lines_in_two_batches(
    creatio: RunningCreatio, sync: CreatioSync
) -> None:
    creatio.admin.seed({"Product": [{"Name": f"Item {n}", "Code": f"I{n}"} for n in range(3)]})
    products = [Reference(object="Product", id=str(p["Id"])) for p in creatio.rows("Product")]

    def order(n: int) -> dict[str, Any]:
        lines: list[dict[str, Any]] = [
            {"ProductId": products[k], "Quantity": k + 1, "Price": 9.5} for k in range(3)
        ]
        if n == 4:  # a column Creatio does not have on its second line
            lines[1] = {**lines[1], "Colour": "red"}
        return {"Notes": f"Order {n}", LINES_FIELD: lines}

    def source(n: int) -> SourceRef:
        return SourceRef(system="intacct", object="SODOCUMENT", id=f"Sales Order-SO-{n}")

    items = [(order(n), source(n)) for n in range(20)]
    results = await sync.create_many("Order", items)
    failed = results[4]
    assert isinstance(failed, ConnectorError) and failed.field == "lines[2].Colour"
    assert failed.category is ErrorCategory.VALIDATION
    assert all(isinstance(r, WriteOutcome) and r.created for n, r in enumerate(results) if n != 4)
    assert creatio.admin.calls(BATCH) == 2  # the headers, then 59 lines (the refused one not sent)
    assert "POST /0/odata/OrderProduct" not in creatio.admin.stats()["calls"]
    lines = creatio.rows("OrderProduct")
    assert len(lines) == 59
    assert sorted(r["Quantity"] for r in lines if str(r["OrderId"]) == results[0].id) == [1, 2, 3]  # type: ignore[union-attr]
    # Delivered again (the refused order fixed): no twin header or line, its lines completed.
    again = await sync.create_many("Order", [(order(0), source(0)), (order(5), source(4))])
    assert all(isinstance(r, WriteOutcome) and not r.created for r in again), again
    assert len(creatio.rows("Order")) == 20 and len(creatio.rows("OrderProduct")) == 60
