"""The mapping language: short forms parse, every transform does its job, problems come back
classified with the field named, and mastership decides what a direction may write."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared.connectors.protocol import Reference
from shared.errors import ErrorCategory
from shared.mapping.apply import map_fields, passes
from shared.mapping.model import Condition, FieldMapping, Master, ObjectMapping


def fields(*specs: dict[str, Any]) -> tuple[FieldMapping, ...]:
    return tuple(FieldMapping.model_validate(s) for s in specs)


async def no_bindings(binding: str, source_id: str) -> str | None:
    return None


async def run(specs: tuple[FieldMapping, ...], values: dict[str, Any], **kw: Any):  # type: ignore[no-untyped-def]
    kw.setdefault("source_side", Master.CRM)
    kw.setdefault("resolve", no_bindings)
    return await map_fields(specs, values, **kw)


@pytest.mark.parametrize(
    ("transforms", "value", "expected"),
    [
        (["trim"], "  Acme  ", "Acme"),
        (["trim", "upper"], " acme ", "ACME"),
        (["lower"], "ACME", "acme"),
        ([{"truncate": 4}], "Acmeville", "Acme"),
        ([{"date": "%m/%d/%Y"}], "2026-03-09T10:00:00Z", "03/09/2026"),
        ([{"date": "%Y-%m-%d"}], "03/09/2026", "2026-03-09"),
        ([{"datetime": "iso"}], "2026-03-09T10:00:00.1234567+02:00", "2026-03-09T08:00:00Z"),
        ([{"value_map": {"Active": "active", "Inactive": "inactive"}}], "ACTIVE", "active"),
        ([{"value_map": {True: "active", False: "inactive"}}], False, "inactive"),
        ([{"round": 2}], "10.005", Decimal("10.01")),
        # Money never passes through a float: 0.1 + 0.2 style drift cannot reach a target.
        ([{"round": 2}], "1234567890123.455", Decimal("1234567890123.46")),
        ([{"round": 2}], 100, Decimal("100.00")),
        ([{"round": 0}], 2.5, 3),
        (["number"], "1,250.50", Decimal("1250.50")),
        (["boolean"], "Yes", True),
        ([{"split": {"separator": " ", "index": 0}}], "Ada Lovelace", "Ada"),
        (
            [{"split": {"separator": " ", "index": 1, "rest": True}}],
            "Ada King Lovelace",
            "King Lovelace",
        ),
        ([{"default": "n/a"}], "", "n/a"),
        ([{"default": "n/a"}], "set", "set"),
        ([{"strip_chars": "\t\r\n"}], "A\tB\nC", "ABC"),
        (["trim", {"truncate": 3}], None, None),  # empty passes through
    ],
)
async def test_transforms(transforms: list[Any], value: Any, expected: Any) -> None:
    mapped = await run(fields({"to": "T", "from": "S", "transforms": transforms}), {"S": value})
    assert mapped.ok, mapped.issues
    assert mapped.values["T"] == expected


async def test_concat_joins_several_sources_skipping_empty_ones() -> None:
    spec = fields(
        {"to": "FullName", "from": ["First", "Middle", "Last"], "transforms": [{"concat": " "}]}
    )
    mapped = await run(spec, {"First": "Ada", "Middle": "", "Last": "Lovelace"})
    assert mapped.values == {"FullName": "Ada Lovelace"}


async def test_constant_value_and_defaults() -> None:
    mapped = await run(fields({"to": "TYPE", "value": "Inventory"}), {})
    assert mapped.values == {"TYPE": "Inventory"}


@pytest.mark.parametrize(
    ("spec", "value", "text"),
    [
        ({"transforms": [{"value_map": {"A": "a"}}]}, "B", "'B' is not an allowed value"),
        ({"transforms": [{"date": "%m/%d/%Y"}]}, "31/02/2026", "is not a date"),
        ({"transforms": [{"datetime": "iso"}]}, "yesterday", "is not a date and time"),
        ({"transforms": ["number"]}, "12abc", "is not a number"),
        ({"transforms": [{"reject_chars": "<>"}]}, "Acme <Ltd>", "'<' '>'"),
        ({"required": True}, "", "T is required but S is empty"),
        ({"max_length": 5}, "Acmeville", "9 characters long; the target allows 5"),
    ],
)
async def test_bad_values_are_validation_issues_naming_the_field(
    spec: dict[str, Any], value: Any, text: str
) -> None:
    good = {"to": "OK", "from": "Other"}
    mapped = await run(fields({"to": "T", "from": "S", **spec}, good), {"S": value, "Other": 1})
    assert not mapped.ok
    (issue,) = mapped.issues
    assert issue.field == "T" and issue.category is ErrorCategory.VALIDATION
    assert text in issue.message
    assert mapped.values == {"OK": 1}  # the other field still maps


async def test_lookup_resolves_through_bindings_or_reports_a_dependency() -> None:
    spec = fields(
        {
            "to": "CUSTOMERID",
            "from": "AccountId",
            "lookup": {"binding": "account", "object": "CUSTOMER", "flow": "accounts-to-intacct"},
        }
    )
    asked: list[tuple[str, str]] = []

    async def resolve(binding: str, source_id: str) -> str | None:
        asked.append((binding, source_id))
        return "C-100" if source_id == "acc-1" else None

    bound = await run(spec, {"AccountId": "acc-1"}, resolve=resolve)
    assert bound.values == {"CUSTOMERID": Reference(object="CUSTOMER", id="C-100")}
    waiting = await run(spec, {"AccountId": "acc-2"}, resolve=resolve)
    (issue,) = waiting.issues
    assert issue.category is ErrorCategory.DEPENDENCY and issue.field == "CUSTOMERID"
    assert "acc-2 is not synced yet (flow 'accounts-to-intacct')" in issue.message
    empty = await run(spec, {"AccountId": None}, resolve=resolve)
    assert empty.ok and empty.values == {"CUSTOMERID": None}
    assert asked == [("account", "acc-1"), ("account", "acc-2")]


async def test_mastership_decides_what_this_direction_writes() -> None:
    spec = fields(
        {"to": "NAME", "from": "Name"},  # both
        {"to": "CREDITLIMIT", "from": "Limit", "master": "erp"},
        {"to": "PHONE", "from": "Phone", "master": "crm"},
    )
    values = {"Name": "Acme", "Limit": 10, "Phone": "1"}
    from_crm = await run(spec, values, source_side=Master.CRM)
    assert from_crm.writable == {"NAME", "PHONE"}
    from_erp = await run(spec, values, source_side=Master.ERP)
    assert from_erp.writable == {"NAME", "CREDITLIMIT"}
    assert from_crm.values == from_erp.values  # all mapped, for hashing and conflict checks


async def test_filters() -> None:
    won = Condition.model_validate({"field": "Stage", "equals": "Closed won"})
    some = Condition.model_validate({"field": "Type", "in": ["Customer", "Partner"]})
    assert await passes([won, some], {"Stage": "closed WON", "Type": "Partner"})
    assert not await passes([won, some], {"Stage": "Qualification", "Type": "Partner"})
    assert not await passes([won, some], {"Stage": "Closed won", "Type": None})


async def test_filter_on_a_lookup_compares_ids_of_the_named_rows() -> None:
    won = Condition.model_validate(
        {"field": "StageId", "lookup": "OpportunityStage", "equals": "Closed won"}
    )
    asked: list[tuple[str, tuple]] = []

    async def names(lookup: str, options: tuple) -> tuple:
        asked.append((lookup, options))
        return ("guid-won",) if options == ("Closed won",) else ()

    assert await passes([won], {"StageId": "guid-won"}, names)
    assert not await passes([won], {"StageId": "guid-lost"}, names)
    assert asked[0] == ("OpportunityStage", ("Closed won",))


@pytest.mark.parametrize(
    ("mapping", "text"),
    [
        (
            {"binding": "account", "fields": [{"to": "A", "from": "a", "transforms": ["squash"]}]},
            "squash",
        ),
        ({"binding": "account", "fields": [{"to": "A"}]}, "give `from` or `value`"),
        ({"binding": "account", "fields": [{"to": "A", "from": ["a", "b"]}]}, "concat"),
        (
            {"binding": "account", "fields": [{"to": "A", "from": "a"}, {"to": "A", "from": "b"}]},
            "mapped twice: A",
        ),
        # Case by case only when every mapping of the field has its own `when`.
        (
            {
                "binding": "account",
                "fields": [
                    {"to": "A", "from": "a"},
                    {"to": "A", "from": "b", "when": {"field": "s", "equals": 1}},
                ],
            },
            "mapped twice: A",
        ),
        (
            {"binding": "account", "fields": [{"to": "A", "from": "a"}], "match": [["B"]]},
            "must name mapped target fields",
        ),
        ({"binding": "Account!", "fields": [{"to": "A", "from": "a"}]}, "binding"),
        (
            {
                "binding": "aging",
                "fields": [{"to": "A", "from": "a"}],
                "match": [["A"]],
                "updates": {"binding": "account", "object": "Account"},
            },
            "drop `match`",
        ),
        (
            {"binding": "account", "fields": [{"to": "A", "from": "a"}], "on_delete": "deactivate"},
            "needs `inactive`",
        ),
        (
            {"binding": "account", "fields": [{"to": "A", "from": "a"}], "on_delete": "erase"},
            "on_delete",
        ),
    ],
)
def test_broken_mappings_fail_at_load(mapping: dict[str, Any], text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ObjectMapping.model_validate(mapping)
    assert text in str(caught.value)


async def test_a_field_mapped_case_by_case_takes_the_case_that_applies() -> None:
    mapping = ObjectMapping.model_validate(
        {
            "binding": "invoice",
            "fields": [
                {"to": "Paid", "from": "total", "when": {"field": "status", "equals": 100001}},
                {"to": "Paid", "from": "amountpaid", "when": {"field": "status", "equals": 100002}},
            ],
        }
    )
    record = {"total": Decimal("313.78"), "amountpaid": Decimal("100.00")}
    full = await run(mapping.fields, {**record, "status": 100001})
    part = await run(mapping.fields, {**record, "status": 100002})
    open_ = await run(mapping.fields, {**record, "status": 1})
    assert (full.values, part.values) == ({"Paid": Decimal("313.78")}, {"Paid": Decimal("100.00")})
    assert open_.values == {}  # neither case: the target keeps its value


@pytest.mark.parametrize(
    ("empty", "value", "passes_"),
    [
        (True, None, True),
        (True, " ", True),
        (True, "INV-1", False),
        (False, None, False),
        (False, "INV-1", True),
    ],
)
async def test_a_condition_on_whether_a_field_is_empty(
    empty: bool, value: Any, passes_: bool
) -> None:
    condition = Condition.model_validate({"field": "credits", "empty": empty})
    assert await passes([condition], {"credits": value}) is passes_
