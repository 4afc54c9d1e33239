"""The preflight's comparison on metadata as the connectors parse it: what needs.py derives
from the solution files, and each kind of mismatch the emulators cannot be told to show
(a custom field of the wrong type, one too short, a Failed key index, another entity set)."""

from __future__ import annotations

from shared.connectors.metadata import FieldInfo, KeyInfo, ObjectInfo
from shared.flows.catalog import load_catalog
from shared.preflight.compare import compare
from shared.preflight.needs import solution_needs

CATALOG = load_catalog(["creatio-intacct", "creatio-dynamics"])
INTACCT = solution_needs(CATALOG.solutions["creatio-intacct"])
DYNAMICS = solution_needs(CATALOG.solutions["creatio-dynamics"])


def creatio_account(**changes: FieldInfo) -> ObjectInfo:
    need = INTACCT[("creatio", "Account")]
    fields = {name: FieldInfo(name, "Edm.String", 250) for name in need.fields}
    for name in ("UsrCurrBalPymts", "UsrArOver30", "UsrArOver60", "UsrArOver90"):
        fields[name] = FieldInfo(name, "Edm.Decimal")
    fields["UsrActive"] = FieldInfo("UsrActive", "Edm.Boolean")
    fields["UsrErpLastModified"] = FieldInfo("UsrErpLastModified", "Edm.DateTimeOffset")
    fields["UsrErpFullName"] = FieldInfo("UsrErpFullName", "Edm.String", 210)
    fields.update(changes)
    return ObjectInfo("Account", fields)


def test_needs_follow_the_mappings() -> None:
    account = INTACCT[("creatio", "Account")]
    assert {"UsrErpFullName", "UsrArOver60", "Code", "Name", "UsrActive"} <= set(account.fields)
    assert account.fields["UsrArOver60"].flows == {
        "creatio-intacct.aging-to-creatio",
        "creatio-intacct.bulk-aging-to-creatio",  # a utility flow uses its twin's mapping
    }
    assert account.fields["UsrErpFullName"].kind == "text"
    assert ("intacct", "ARAGING") not in INTACCT  # a report, not an object
    assert INTACCT[("intacct", "SODOCUMENTENTRY")].fields.keys() >= {"ITEMID", "QUANTITY"}
    assert ("creatio", "OpportunityStage") in INTACCT  # the filter's lookup
    salesorder = DYNAMICS[("dataverse", "salesorder")]
    assert salesorder.key == "shuttle_creatiosalesorderid"
    assert DYNAMICS[("dataverse", "salesorderdetail")].key == "shuttle_creatiosalesorderdetailid"
    assert DYNAMICS[("dataverse", "account")].key_flows == {
        "creatio-dynamics.accounts-to-dataverse",
        "creatio-dynamics.bind-accounts",
        "creatio-dynamics.bulk-accounts-to-dataverse",
        "creatio-dynamics.single-account-to-dataverse",
    }


def test_a_complete_object_passes() -> None:
    assert compare(INTACCT[("creatio", "Account")], creatio_account()) == []


def test_wrong_type_and_too_short_custom_fields() -> None:
    found = compare(
        INTACCT[("creatio", "Account")],
        creatio_account(
            UsrActive=FieldInfo("UsrActive", "Edm.String", 10),
            UsrErpFullName=FieldInfo("UsrErpFullName", "Edm.String", 100),
        ),
    )
    assert [(p.field, p.kind) for p in found] == [
        ("UsrActive", "wrong_type"),
        ("UsrErpFullName", "too_short"),
    ]
    assert "needs Edm.Boolean" in found[0].message
    assert "at least 210" in found[1].fix


def test_a_failed_key_index_and_another_entity_set() -> None:
    need = DYNAMICS[("dataverse", "account")]
    fields = {n: FieldInfo(n, "String", 200) for n in need.fields}
    info = ObjectInfo(
        "account",
        fields,
        entity_set="accountset",
        keys=[KeyInfo("k", ("shuttle_creatioaccountid",), "Failed")],
    )
    found = compare(need, info)
    assert [(p.field, p.kind) for p in found] == [
        ("EntitySetName", "wrong_type"),
        ("shuttle_creatioaccountid", "key_not_active"),
    ]
    assert "Failed" in found[1].message and "duplicate" in found[1].fix
