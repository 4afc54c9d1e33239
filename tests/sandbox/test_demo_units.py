"""The demo's pieces that need no running parts: the generated book (deterministic, hundreds
of records, money that adds up), the verdict on a run (only planned records may fail), and
the first cycle's order (parents first, creatio-intacct's writers before the readers)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from rich.console import Console

from sandbox.demo.cycle import Cycle, FlowResult, judge
from sandbox.demo.data import PLANNED_FAILURES, planned_ids
from sandbox.demo.flows import cycle_order, cycle_waits
from sandbox.demo.progress import flow_table, summary
from sandbox.demo.seed import creatio_payload
from sandbox.demo.volume import SIZES, Book
from tests.sandbox.test_demo import _catalog, _syncable

TODAY = date(2026, 3, 14)
LOOKUPS = {
    "OpportunityStage": {
        name: f"stage-{n}"
        for n, name in enumerate(
            (
                "Qualification",
                "Presentation",
                "Proposal",
                "Negotiation",
                "Closed won",
                "Closed lost",
            )
        )
    },
    "Currency": {"USD": "cur-usd", "EUR": "cur-eur"},
}


def _book(size: str = "full") -> dict[str, Any]:
    book = Book(SIZES[size], TODAY)
    return {
        "creatio": creatio_payload(LOOKUPS, TODAY, book),
        "intacct": book.intacct(),
        "dataverse": book.dataverse(),
    }


def _without_hand_written_ids(payload: dict[str, Any]) -> dict[str, Any]:
    # data.py's hand-written records get fresh uuid4 ids; the generated ones are seeded.
    return {
        k: [r for r in rows if "CR-" in str(r.get("Code", "")) or k != "Account"]
        for k, rows in payload["creatio"].items()
        if k == "Account"
    }


def test_the_book_is_the_same_on_every_run_and_has_hundreds_of_records() -> None:
    first, second = _book(), _book()
    assert first["intacct"] == second["intacct"]
    assert first["dataverse"] == second["dataverse"]
    assert _without_hand_written_ids(first) == _without_hand_written_ids(second)
    creatio = first["creatio"]
    assert len(creatio["Account"]) > 200 and len(creatio["Contact"]) > 300
    names = [a["Name"] for a in creatio["Account"]]
    assert len(names) == len(set(names)), "account names are unique"
    assert {o["StageId"] for o in creatio["Opportunity"]} == set(
        LOOKUPS["OpportunityStage"].values()
    )
    generated = [o for o in creatio["Order"] if "CurrencyId" in o]
    assert len(generated) == SIZES["full"].orders
    assert {o["CurrencyId"] for o in generated} == {"cur-usd", "cur-eur"}
    # An order's amount is its lines' totals; each line is gross - discount + tax, to the cent.
    for order in generated:
        lines = [ln for ln in creatio["OrderProduct"] if ln["OrderId"] == order["Id"]]
        assert Decimal(order["Amount"]) == sum(Decimal(ln["TotalAmount"]) for ln in lines)
        for ln in lines:
            gross = Decimal(ln["Price"]) * ln["Quantity"]
            net = gross - Decimal(ln["DiscountAmount"]) + Decimal(ln["TaxAmount"])
            assert Decimal(ln["TotalAmount"]) == net
    invoices = first["intacct"]["ARINVOICE"]
    states = {
        (
            "paid"
            if i.get("TOTALPAID")
            and Decimal(i["TOTALPAID"])
            == sum(Decimal(ln["TRX_AMOUNT"]) for ln in i["ARINVOICEITEMS"]["arinvoiceitem"])
            else "partly"
            if i.get("TOTALPAID")
            else "open"
        )
        for i in invoices
    }
    assert states == {"open", "partly", "paid"}
    assert len(first["intacct"]["ARPAYMENT"]) == sum(1 for i in invoices if i.get("TOTALPAID"))


def test_every_planned_bad_record_is_found_in_the_seeded_rows() -> None:
    payload = _book("small")["creatio"]
    found = planned_ids(payload)
    assert set(found) == {p.flow_id for p in PLANNED_FAILURES}
    assert all(len(ids) == 1 for ids in found.values())


def _result(
    flow_id: str, status: str, failed: int, errors: list[dict[str, Any]], pending: int = 0
) -> FlowResult:
    read = 10 + failed + pending
    counts = {"read": read, "created": 10, "failed": failed, "pending": pending}
    return FlowResult(flow_id, status=status, counts=counts, errors=errors)


def _error(record: str, **extra: Any) -> dict[str, Any]:
    return {
        "record": record,
        "category": "validation",
        "field": "NAME",
        "message": "too long",
        **extra,
    }


PLANNED = {"s.accounts": {"bad-1"}}


def test_only_the_planned_records_may_fail() -> None:
    ok = _result("s.accounts", "partial", 1, [_error("BAD-1")])
    judge(ok, PLANNED)
    assert ok.expected == ["BAD-1"] and ok.unexpected == []

    other = _result("s.accounts", "partial", 2, [_error("bad-1"), _error("good-7")])
    judge(other, PLANNED)
    assert other.unexpected and "record good-7" in other.unexpected[0]

    elsewhere = _result("s.contacts", "partial", 1, [_error("bad-1")])
    judge(elsewhere, PLANNED)
    assert elsewhere.unexpected, "planned for another flow only"


def test_a_failed_run_waiting_records_or_unlisted_failures_are_unexpected() -> None:
    failed = _result("s.accounts", "failed", 0, [])
    failed.message = "Intacct refused the session"
    judge(failed, PLANNED)
    assert failed.unexpected == ["the run ended failed: Intacct refused the session"]

    waiting = _result(
        "s.accounts",
        "partial",
        0,
        [_error("x", category="dependency", message="waiting: parent")],
        pending=2,
    )
    judge(waiting, PLANNED)
    assert waiting.unexpected == ["2 records still wait"]

    unlisted = _result("s.accounts", "partial", 3, [_error("bad-1")])
    judge(unlisted, PLANNED)
    assert unlisted.unexpected == ["2 more records failed"]

    conflict = _result("s.accounts", "succeeded", 0, [_error("y", category="conflict")])
    judge(conflict, PLANNED)
    assert conflict.unexpected == [], "a recorded conflict is not a failure"


def test_the_cycle_verdict_and_summary() -> None:
    good = _result("s.accounts", "partial", 1, [_error("bad-1")])
    judge(good, PLANNED)
    assert Cycle([good]).exit_code == 0
    bad = _result("s.contacts", "succeeded", 1, [_error("c-9")])
    judge(bad, PLANNED)
    assert Cycle([good, bad]).exit_code == 1
    assert Cycle([good], aborted="stopped").exit_code == 1
    assert Cycle([good, FlowResult("s.items")]).exit_code == 1, "a flow that never ran"

    console = Console(record=True, width=160)
    summary(Cycle([good, bad]), console, "http://127.0.0.1:7071/api", ["  mail: sink"], True)
    text = console.export_text()
    assert "s.accounts" in text and "s.contacts" in text
    assert "UNEXPECTED failures in: s.contacts" in text
    assert "console: http://127.0.0.1:7071/api/console" in text and "mail: sink" in text
    table = Console(record=True, width=160)
    table.print(flow_table([good], "t"))
    assert "1 planned bad record(s)" in table.export_text()


def test_the_first_cycle_runs_parents_first_and_waits_for_the_other_solutions_writers() -> None:
    catalog = _catalog()
    flows = sorted(_syncable(catalog))
    order = cycle_order(catalog, flows)
    assert sorted(order) == flows
    for n, flow_id in enumerate(order):
        entry = catalog.get(flow_id)
        for parent in entry.flow.depends_on:
            parent_id = f"{entry.solution.id}.{parent}"
            if parent_id in order:
                assert order.index(parent_id) < n, (flow_id, parent_id)
    waits = cycle_waits(catalog, order)
    assert waits["creatio-dynamics.invoices-to-dataverse"] == [
        "creatio-intacct.invoices-to-creatio"
    ]
    assert "creatio-intacct.aging-to-creatio" not in waits["creatio-dynamics.accounts-to-dataverse"]
    assert all(not w for f, w in waits.items() if f.startswith("creatio-intacct."))


def test_progress_is_a_live_table_in_a_terminal_and_lines_in_a_pipe() -> None:
    from io import StringIO

    from sandbox.demo.progress import Progress

    running = FlowResult("s.accounts", status="running", counts={"read": 3, "created": 2})
    ended = _result("s.contacts", "succeeded", 0, [])
    terminal = StringIO()
    with Progress(Console(file=terminal, force_terminal=True, width=120)) as progress:
        progress.update([running, ended])
        progress.live.refresh()  # type: ignore[union-attr]
    assert "first cycle: 1/2 flows" in terminal.getvalue()
    assert "s.accounts" in terminal.getvalue()

    pipe = StringIO()
    with Progress(Console(file=pipe, width=120)) as progress:
        progress.update([running, FlowResult("s.contacts")])
        progress.update([running, FlowResult("s.contacts")])  # nothing new: said once
        progress.update([running, ended])
    assert pipe.getvalue().splitlines() == [
        "[1/2] s.accounts running",
        "[2/2] s.contacts succeeded: read 10, created 10, updated 0, unchanged 0, skipped 0, "
        "failed 0",
    ]
