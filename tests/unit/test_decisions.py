"""The per-record field decisions (shared/engine/decisions.py): what is written, what the target
masters, and which fields both sides changed since the last sync."""

from __future__ import annotations

from shared.engine.decisions import field_hashes, plan_fields, shown


def decide(current: dict, mapped: dict, base: dict | None, writable: set[str]):  # type: ignore[no-untyped-def]
    return plan_fields(
        current, mapped, writable, set(), base, source_system="creatio", target_system="intacct"
    )


def test_a_field_changed_on_one_side_only_is_no_conflict() -> None:
    base = field_hashes({"NAME": "Acme", "STATUS": "active"})
    only_source = decide(
        {"NAME": "Acme", "STATUS": "active"}, {"NAME": "Acme 2", "STATUS": "active"}, base, {"NAME"}
    )
    only_target = decide(
        {"NAME": "Acme (ERP)", "STATUS": "active"},
        {"NAME": "Acme", "STATUS": "active"},
        base,
        {"NAME"},
    )
    assert only_source.changes == {"NAME": "Acme 2"} and only_source.conflicts == []
    # The source masters NAME and did not change it: its value is written back, quietly.
    assert only_target.changes == {"NAME": "Acme"} and only_target.conflicts == []


def test_both_sides_changed_the_master_wins_and_both_values_are_kept() -> None:
    base = field_hashes({"NAME": "Acme", "STATUS": "active"})
    fields = decide(
        {"NAME": "Acme (ERP)", "STATUS": "on hold"},
        {"NAME": "Acme (CRM)", "STATUS": "inactive"},
        base,
        {"NAME"},
    )
    assert fields.changes == {"NAME": "Acme (CRM)"}  # the source masters NAME
    assert fields.blocked == ["STATUS"]  # the target masters STATUS: its value stands
    got = {(c.field, c.source_value, c.target_value, c.winner) for c in fields.conflicts}
    assert got == {
        ("NAME", "Acme (CRM)", "Acme (ERP)", "creatio"),
        ("STATUS", "inactive", "on hold", "intacct"),
    }
    assert fields.shown_changes() == {"NAME": ["Acme (ERP)", "Acme (CRM)"]}


def test_without_a_base_there_is_no_three_way_report_and_values_shown_are_bounded() -> None:
    fields = decide({"NAME": "x"}, {"NAME": "y"}, None, {"NAME"})
    assert fields.conflicts == [] and fields.changes == {"NAME": "y"}
    assert len(shown("z" * 5000)) == 201
    # Equal values spelled differently are equal to the base too.
    assert field_hashes({"A": "100.00"}) == field_hashes({"A": 100})
