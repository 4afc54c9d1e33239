"""Each connector turns a change page into records one row at a time: a row without a usable
key or modification time is rejected alone, named by its key and field, and the rest of the
page is read (rows as each system's wire format gives them)."""

from __future__ import annotations

from shared.connectors.creatio.sync import read_page as creatio_page
from shared.connectors.dataverse.entities import entity
from shared.connectors.dataverse.sync import read_page as dataverse_page
from shared.connectors.intacct import IntacctClient, IntacctSync
from shared.connectors.intacct.objects import OBJECTS
from tests.support.intacct import config as intacct_config

GOOD = "0f8fad5b-d9cb-469f-a165-70867728950e"
BAD = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def test_creatio_rows_without_a_usable_modified_on_or_id_are_rejected_alone() -> None:
    rows = [
        {"Id": GOOD, "ModifiedOn": "2026-11-20T10:00:00.1234567Z", "Name": "Fine"},
        {"Id": BAD, "ModifiedOn": "2026-02-31T10:00:00Z", "Name": "Impossible date"},
        {"ModifiedOn": "2026-11-20T10:00:00Z", "Name": "No key"},
    ]
    records, rejected = creatio_page(rows, "Account")
    assert [r.id for r in records] == [GOOD]
    assert [(r.id, r.field) for r in rejected] == [(BAD, "ModifiedOn"), (None, "Id")]
    assert "'2026-02-31T10:00:00Z'" in rejected[0].message and "missing" in rejected[1].message


def test_dataverse_rows_without_a_usable_modifiedon_are_rejected_alone() -> None:
    rows = [
        {"accountid": GOOD, "modifiedon": "2026-11-20T10:00:00Z", "name": "Fine"},
        {"accountid": BAD, "name": "No stamp"},
    ]
    records, rejected = dataverse_page(rows, entity("account"))
    assert [r.id for r in records] == [GOOD]
    assert [(r.id, r.field) for r in rejected] == [(BAD, "modifiedon")]


async def test_intacct_rows_without_a_usable_key_or_whenmodified_are_rejected_alone() -> None:
    sync = IntacctSync(IntacctClient(intacct_config("https://127.0.0.1:9/ia/xml/xmlgw.phtml")))
    try:
        customer = OBJECTS["CUSTOMER"]
        fine = {"RECORDNO": "1", "CUSTOMERID": "C1", "WHENMODIFIED": "11/20/2026 10:00:00"}
        no_stamp = {"RECORDNO": "2", "CUSTOMERID": "C2", "WHENMODIFIED": "11/31/2026 10:00:00"}
        no_key = {"RECORDNO": "3", "WHENMODIFIED": "11/20/2026 10:00:00"}
        assert sync._rejected(customer, fine) is None
        bad_stamp = sync._rejected(customer, no_stamp)
        assert bad_stamp is not None and (bad_stamp.id, bad_stamp.field) == ("C2", "WHENMODIFIED")
        keyless = sync._rejected(customer, no_key)
        assert keyless is not None and (keyless.id, keyless.field) == ("RECORDNO 3", "CUSTOMERID")
    finally:
        await sync.aclose()
