"""Solution definition files: both ship complete, and a broken one fails loudly and precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import DefinitionError
from shared.flows.catalog import SOLUTIONS_DIR, load_catalog, load_solution_file
from shared.flows.definitions import FlowKind

# Every flow each solution must carry, as (source object, target object).
INTACCT_FLOWS = {
    ("Account", "CUSTOMER"),
    ("CUSTOMER", "Account"),
    ("Contact", "CONTACT"),
    ("CONTACT", "Contact"),
    ("ITEM", "Product"),
    ("Opportunity", "SODOCUMENT"),
    ("Order", "ARINVOICE"),
    ("ARINVOICE", "Invoice"),
    ("ARPAYMENT", "UsrPayment"),
    ("ARADJUSTMENT", "UsrCreditMemo"),
    ("ARAGING", "Account"),
    ("SODOCUMENT", "Opportunity"),
    ("ARINVOICE", "Opportunity"),
}
DYNAMICS_FLOWS = {
    ("Account", "account"),
    ("account", "Account"),
    ("Contact", "contact"),
    ("contact", "Contact"),
    ("Product", "product"),
    ("product", "Product"),
    ("Opportunity", "opportunity"),
    ("Order", "salesorder"),
    ("Invoice", "invoice"),
    ("invoice", "Invoice"),
    ("invoice", "UsrPayment"),
    ("invoice", "UsrCreditMemo"),
    ("Case", "incident"),
    ("incident", "Case"),
    ("salesorder", "Opportunity"),
    ("invoice", "Opportunity"),
}


@pytest.mark.parametrize(
    ("solution", "expected"),
    [("creatio-intacct", INTACCT_FLOWS), ("creatio-dynamics", DYNAMICS_FLOWS)],
)
def test_solution_ships_every_flow_of_the_design(solution: str, expected: set) -> None:
    catalog = load_catalog([solution])
    scheduled = {
        (e.flow.source.object, e.flow.target.object)
        for e in catalog
        if e.flow.kind is FlowKind.SCHEDULED
    }
    assert scheduled == expected
    kinds = {e.flow.kind for e in catalog}
    assert kinds == set(FlowKind), "each solution has binding, bulk and single utility flows"
    for entry in catalog:
        assert entry.flow_id == f"{solution}.{entry.flow.id}"
        if entry.flow.kind is FlowKind.SCHEDULED:
            assert entry.flow.interval_ms >= 60_000


def refusal(path: Path) -> str:
    with pytest.raises(DefinitionError) as exc:
        load_solution_file(path)
    return str(exc.value)


def write(tmp_path: Path, text: str, name: str = "demo") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD_FLOW = """
  - id: accounts
    name: A
    source: {system: creatio, object: Account}
    target: {system: intacct, object: CUSTOMER}
"""
HEADER = "id: demo\nname: Demo\ncrm: creatio\nerp: intacct\nflows:\n"


def test_bad_field_names_file_flow_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + GOOD_FLOW
        + """
  - id: contacts
    name: C
    interval_ms: 5
    source: {system: creatio, object: Contact}
    target: {system: intacct, object: CONTACT}
""",
    )
    with pytest.raises(DefinitionError) as exc:
        load_solution_file(path)
    message = str(exc.value)
    assert str(path) in message
    assert "flow 'contacts'" in message
    assert "field 'interval_ms'" in message
    assert "greater than or equal to 1000" in message


def test_nested_field_and_unknown_key_are_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + """
  - id: accounts
    name: A
    colour: blue
    source: {system: hubspot, object: Account}
    target: {system: intacct, object: CUSTOMER}
""",
    )
    message = refusal(path)
    assert "flow 'accounts': field 'source.system'" in message
    assert "flow 'accounts': field 'colour': Extra inputs are not permitted" in message


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("    depends_on: [nowhere]\n", "depends_on names unknown flow 'nowhere'"),
        ("    depends_on: [accounts]\n", "depends_on has a cycle: accounts -> accounts"),
        ("    bulk_flow: accounts\n", "bulk_flow 'accounts' is not a bulk flow"),
    ],
)
def test_references_are_checked(tmp_path: Path, extra: str, needle: str) -> None:
    path = write(tmp_path, HEADER + GOOD_FLOW + extra)
    assert needle in refusal(path)


def test_a_bulk_flow_must_move_what_its_scheduled_flow_moves(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + GOOD_FLOW
        + """    bulk_flow: bulk-contacts
  - id: bulk-contacts
    name: B
    kind: bulk
    source: {system: creatio, object: Contact}
    target: {system: intacct, object: CONTACT}
""",
    )
    assert "moves Contact → CONTACT, not Account → CUSTOMER" in refusal(path)


@pytest.mark.parametrize("solution", ["creatio-intacct", "creatio-dynamics"])
def test_every_scheduled_flow_has_a_bulk_flow_the_volume_guard_can_name(solution: str) -> None:
    """The guides pair each scheduled flow with a bulk load; the volume guard's message names
    it (shared/engine/sync_engine.py), so it must exist and share the flow's mapping."""
    from shared.engine.plan import plan_for

    catalog = load_catalog([solution])
    scheduled = [e for e in catalog if e.flow.kind is FlowKind.SCHEDULED]
    for entry in scheduled:
        assert entry.flow.bulk_flow, f"{entry.flow_id} names no bulk flow"
        bulk = catalog.get(f"{solution}.{entry.flow.bulk_flow}")
        assert bulk.flow.kind is FlowKind.BULK
        assert bulk.flow.optional == entry.flow.optional
        if entry.flow.mapping is not None:
            assert plan_for(catalog, bulk.flow_id).mapping == entry.flow.mapping
    bulk_ids = {e.flow.id for e in catalog if e.flow.kind is FlowKind.BULK}
    assert bulk_ids == {e.flow.bulk_flow for e in scheduled}, "no bulk flow without its twin"


def test_duplicate_flow_ids_and_foreign_systems_are_refused(tmp_path: Path) -> None:
    dup = write(tmp_path, HEADER + GOOD_FLOW + GOOD_FLOW, "demo")
    assert "defined twice" in refusal(dup)
    foreign = write(tmp_path, HEADER.replace("erp: intacct", "erp: dataverse") + GOOD_FLOW)
    assert "not part of this solution" in refusal(foreign)


def test_yaml_syntax_and_file_name_mismatch(tmp_path: Path) -> None:
    broken = write(tmp_path, "id: demo\nflows: [\n")
    assert "not valid YAML" in refusal(broken)
    renamed = write(tmp_path, HEADER + GOOD_FLOW, "other")
    assert "must match the file name" in refusal(renamed)


def test_unknown_solution_in_settings_lists_known_ones() -> None:
    with pytest.raises(DefinitionError) as exc:
        load_catalog(["creatio-sap"])
    message = str(exc.value)
    assert "creatio-sap" in message and "creatio-intacct" in message


def test_shipped_files_are_the_enabled_defaults() -> None:
    assert sorted(p.stem for p in SOLUTIONS_DIR.glob("*.yaml")) == [
        "creatio-dynamics",
        "creatio-intacct",
    ]
