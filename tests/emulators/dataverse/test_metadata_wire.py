"""Table definitions over the wire as clients read them before any data call
(docs/wire-notes.md): EntityDefinitions by LogicalName with $select/$expand, attributes
(cast to one type), keys and relationships; new columns and keys through POST, the key's
index Pending then Active; and the 404 body of an unknown table."""

from __future__ import annotations

from tests.support.dataverse import RunningDataverse


def test_set_name_and_primary_id_as_clients_discover_them(dataverse: RunningDataverse) -> None:
    with dataverse.http() as http:
        answer = http.get(
            "EntityDefinitions(LogicalName='account')",
            params={"$select": "EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute"},
        )
    assert answer.status_code == 200
    body = answer.json()
    assert body["@odata.context"] == (
        f"{dataverse.url}/api/data/v9.2/$metadata#EntityDefinitions("
        "EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute)/$entity"
    )
    assert body["EntitySetName"] == "accounts"
    assert body["PrimaryIdAttribute"] == "accountid"
    assert body["PrimaryNameAttribute"] == "name"
    assert set(body) == {
        "@odata.context",
        "EntitySetName",
        "PrimaryIdAttribute",
        "PrimaryNameAttribute",
        "MetadataId",
    }


def test_filter_by_logical_name_and_expand(dataverse: RunningDataverse) -> None:
    with dataverse.http() as http:
        answer = http.get(
            "EntityDefinitions",
            params={
                "$select": "LogicalName,EntitySetName",
                "$filter": "LogicalName eq 'salesorder' or LogicalName eq 'contact'",
                "$expand": "Attributes($select=LogicalName,AttributeType),Keys",
            },
        ).json()
    assert answer["@odata.context"].endswith(
        "$metadata#EntityDefinitions(LogicalName,EntitySetName)"
    )
    by_name = {e["LogicalName"]: e for e in answer["value"]}
    assert set(by_name) == {"salesorder", "contact"}
    assert by_name["salesorder"]["EntitySetName"] == "salesorders"
    attributes = {a["LogicalName"]: a["AttributeType"] for a in by_name["contact"]["Attributes"]}
    assert attributes["parentcustomerid"] == "Customer"
    assert attributes["shuttle_creatiocontactid"] == "String"
    (key,) = by_name["contact"]["Keys"]
    assert key["KeyAttributes"] == ["shuttle_creatiocontactid"]
    assert key["EntityKeyIndexStatus"] == "Active"


def test_string_lengths_through_a_cast(dataverse: RunningDataverse) -> None:
    with dataverse.http() as http:
        strings = http.get(
            "EntityDefinitions(LogicalName='account')/Attributes/"
            "Microsoft.Dynamics.CRM.StringAttributeMetadata",
            params={"$select": "LogicalName,MaxLength"},
        ).json()
        base = http.get(
            "EntityDefinitions(LogicalName='account')/Attributes",
            params={"$select": "LogicalName,MaxLength"},
        )
    lengths = {a["LogicalName"]: a["MaxLength"] for a in strings["value"]}
    assert lengths["accountnumber"] == 20 and lengths["name"] == 160
    assert "creditlimit" not in lengths  # money is no string
    # MaxLength is not a property of the base AttributeMetadata type.
    assert base.status_code == 400
    assert base.json()["error"]["message"] == (
        "Could not find a property named 'MaxLength' on type "
        "'Microsoft.Dynamics.CRM.AttributeMetadata'."
    )


def test_relationships(dataverse: RunningDataverse) -> None:
    with dataverse.http() as http:
        many = http.get("EntityDefinitions(LogicalName='contact')/ManyToOneRelationships").json()
    navs = {
        r["ReferencingEntityNavigationPropertyName"]: r["ReferencedEntity"] for r in many["value"]
    }
    assert navs == {"parentcustomerid_account": "account", "parentcustomerid_contact": "contact"}


def test_unknown_logical_name_is_404_with_an_error_body(dataverse: RunningDataverse) -> None:
    with dataverse.http() as http:
        answer = http.get("EntityDefinitions(LogicalName='nosuchtable')")
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "0x80040217"
    assert "nosuchtable" in error["message"]


def test_columns_and_keys_are_created_and_the_key_becomes_active(
    dataverse: RunningDataverse,
) -> None:
    dataverse.admin.http.post("/metadata/unprovision").raise_for_status()
    with dataverse.http() as http:
        # Without the key an upsert by it is refused, as for any undefined key.
        refused = http.patch("accounts(shuttle_creatioaccountid='c-1')", json={"name": "A"})
        assert refused.status_code == 400
        assert "not defined as an alternate key" in refused.json()["error"]["message"]
        # The column itself is not there either: not in rows, not selectable, not writable.
        assert http.post("accounts", json={"name": "A0"}).status_code == 204
        (row,) = http.get("accounts").json()["value"]
        assert row["name"] == "A0" and "shuttle_creatioaccountid" not in row
        selected = http.get("accounts", params={"$select": "name,shuttle_creatioaccountid"})
        assert selected.status_code == 400
        written = http.post("accounts", json={"name": "A", "shuttle_creatioaccountid": "c-1"})
        assert written.status_code == 400
        assert "does not exist on type" in written.json()["error"]["message"]
        column = http.post(
            "EntityDefinitions(LogicalName='account')/Attributes",
            json={
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": "shuttle_CreatioAccountId",
                "MaxLength": 100,
                "RequiredLevel": {"Value": "None"},
            },
        )
        assert column.status_code == 204
        assert "/Attributes(" in column.headers["OData-EntityId"]
        key = http.post(
            "EntityDefinitions(LogicalName='account')/Keys",
            json={
                "SchemaName": "shuttle_creatioaccountid_key",
                "KeyAttributes": ["shuttle_creatioaccountid"],
            },
        )
        assert key.status_code == 204
        states = [
            http.get("EntityDefinitions(LogicalName='account')/Keys").json()["value"][0][
                "EntityKeyIndexStatus"
            ]
            for _ in range(2)
        ]
        assert states == ["Pending", "Active"]
        upsert = http.patch("accounts(shuttle_creatioaccountid='c-1')", json={"name": "A"})
        assert upsert.status_code == 204
        again = http.post(
            "EntityDefinitions(LogicalName='account')/Keys",
            json={"SchemaName": "shuttle_other", "KeyAttributes": ["shuttle_creatioaccountid"]},
        )
        assert again.status_code == 400


def test_choice_options_only_when_expanded_on_the_choice_type(dataverse: RunningDataverse) -> None:
    resource = (
        "EntityDefinitions(LogicalName='account')/Attributes/"
        "Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
    )
    with dataverse.http() as http:
        plain = http.get(resource, params={"$select": "LogicalName"}).json()["value"]
        expanded = http.get(
            resource, params={"$select": "LogicalName", "$expand": "OptionSet"}
        ).json()["value"]
        base = http.get(
            "EntityDefinitions(LogicalName='account')/Attributes", params={"$expand": "OptionSet"}
        )
    assert all("OptionSet" not in a for a in plain)
    category = next(a for a in expanded if a["LogicalName"] == "accountcategorycode")
    assert [o["Value"] for o in category["OptionSet"]["Options"]] == [1, 2]
    assert category["OptionSet"]["OptionSetType"] == "Picklist"
    assert base.status_code == 400


def test_a_money_column_is_created_as_the_invoice_custom_column(
    dataverse: RunningDataverse,
) -> None:
    dataverse.admin.http.post("/metadata/unprovision").raise_for_status()
    with dataverse.http() as http:
        refused = http.post("invoices", json={"name": "I", "shuttle_amountpaid": 5})
        assert refused.status_code == 400  # not there before it is created
        as_text = http.post(
            "EntityDefinitions(LogicalName='invoice')/Attributes",
            json={
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": "shuttle_AmountPaid",
                "MaxLength": 100,
            },
        )
        assert as_text.status_code == 400  # the emulator knows it as a currency column
        column = http.post(
            "EntityDefinitions(LogicalName='invoice')/Attributes",
            json={
                "@odata.type": "Microsoft.Dynamics.CRM.MoneyAttributeMetadata",
                "SchemaName": "shuttle_AmountPaid",
                "PrecisionSource": 2,
            },
        )
        assert column.status_code == 204
        attributes = http.get(
            "EntityDefinitions(LogicalName='invoice')/Attributes",
            params={"$select": "LogicalName,AttributeType"},
        ).json()["value"]
        types = {a["LogicalName"]: a["AttributeType"] for a in attributes}
        assert types["shuttle_amountpaid"] == "Money"
        assert "shuttle_creditedinvoice" not in types  # still to be created
        made = http.post("invoices", json={"name": "I", "shuttle_amountpaid": 5})
        assert made.status_code == 204
