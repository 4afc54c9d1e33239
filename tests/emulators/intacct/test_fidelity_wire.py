"""Wire facts third-party Intacct clients depend on (docs/wire-notes.md): `<data>` of
readByQuery and readMore always carries `resultId` (empty once nothing remains); readByQuery
literals take `\\'` and `\\\\` as well as the doubled quote, and a value with quotes, `&`,
`<`, a backslash and non-ASCII letters matches exactly; and our connector agrees. Also
`lookup` and `inspect`, with a removed field left out."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from shared.connectors.intacct.client import IntacctClient
from shared.connectors.intacct.functions import rbq_condition
from shared.connectors.intacct.metadata import read_objects
from tests.support.intacct import RunningIntacct, config, envelope, post, results

TRICKY = "O'Brien & Söhne <Zürich> \\ 'quoted'"


def read_by_query(query: str, page_size: int = 100) -> ET.Element:
    node = ET.Element("readByQuery")
    for tag, text in (
        ("object", "CUSTOMER"),
        ("fields", "CUSTOMERID,NAME"),
        ("query", query),
        ("pagesize", str(page_size)),
    ):
        ET.SubElement(node, tag).text = text
    return node


def data_of(answer: ET.Element) -> ET.Element:
    data = results(answer)[0].find("data")
    assert data is not None, ET.tostring(answer, encoding="unicode")
    return data


def test_result_id_is_always_there_and_empty_at_the_end(intacct: RunningIntacct) -> None:
    intacct.admin.seed({"CUSTOMER": [{"CUSTOMERID": f"C{i}", "NAME": "N"} for i in range(3)]})
    _, answer = post(intacct.url, envelope(read_by_query("", page_size=2)))
    first = data_of(answer)
    assert first.get("resultId") and first.get("numremaining") == "1"
    more = ET.Element("readMore")
    ET.SubElement(more, "resultId").text = first.get("resultId")
    _, answer = post(intacct.url, envelope(more))
    last = data_of(answer)
    assert last.get("numremaining") == "0"
    assert "resultId" in last.attrib and last.get("resultId") == ""
    _, answer = post(intacct.url, envelope(read_by_query("", page_size=10)))
    single = data_of(answer)  # one page only: the attribute is there, empty
    assert single.get("resultId") == "" and single.get("count") == "3"


@pytest.mark.parametrize(
    "literal",
    [
        # backslash escapes
        "'O\\'Brien & Söhne <Zürich> \\\\ \\'quoted\\''",
        # doubled quotes (the backslash escaped once, as every escaping client must)
        "'O''Brien & Söhne <Zürich> \\\\ ''quoted'''",
    ],
)
def test_quoted_values_match_exactly_with_either_escape(
    intacct: RunningIntacct, literal: str
) -> None:
    intacct.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": "HIT", "NAME": TRICKY},
                {"CUSTOMERID": "NEAR", "NAME": TRICKY.replace("\\ ", "")},
                {"CUSTOMERID": "CASE", "NAME": TRICKY.upper()},
            ]
        }
    )
    _, answer = post(intacct.url, envelope(read_by_query(f"NAME = {literal}")))
    data = data_of(answer)
    assert [c.findtext("CUSTOMERID") for c in data.findall("customer")] == ["HIT"]
    assert data.find("customer/NAME").text == TRICKY  # type: ignore[union-attr]


async def test_our_connector_escapes_as_the_gateway_reads(intacct: RunningIntacct) -> None:
    intacct.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": "HIT", "NAME": TRICKY},
                {"CUSTOMERID": "END", "NAME": "ends with \\"},
            ]
        }
    )
    async with IntacctClient(config(intacct.endpoint)) as client:
        for name, expected in ((TRICKY, "HIT"), ("ends with \\", "END")):
            page = await client.read_by_query(
                "CUSTOMER", rbq_condition("NAME", "=", name), fields=["CUSTOMERID"]
            )
            assert [r["CUSTOMERID"] for r in page.records] == [expected]
            assert page.result_id is None and page.remaining == 0


def test_lookup_lists_fields_with_types(intacct: RunningIntacct) -> None:
    _, answer = post(intacct.url, envelope("<lookup><object>CUSTOMER</object></lookup>"))
    data = data_of(answer)
    assert (data.get("listtype"), data.get("count")) == ("All", "1")
    kind = data.find("Type")
    assert kind is not None and kind.get("Name") == "CUSTOMER"
    fields = {f.findtext("ID"): f for f in kind.findall("Fields/Field")}
    assert fields["CUSTOMERID"].findtext("REQUIRED") == "true"
    assert fields["WHENMODIFIED"].findtext("DATATYPE") == "TIMESTAMP"
    assert fields["STATUS"].findtext("DATATYPE") == "ENUM"
    assert [v.text for v in fields["STATUS"].findall("VALIDVALUES/VALIDVALUE")] == [
        "active",
        "inactive",
    ]
    assert fields["NAME"].findtext("ISCUSTOM") == "false"


def test_inspect_lists_objects_and_fields(intacct: RunningIntacct) -> None:
    _, answer = post(intacct.url, envelope("<inspect><object>*</object></inspect>"))
    names = {t.get("typename"): t.text for t in data_of(answer).findall("type")}
    assert names["ARINVOICE"] == "AR Invoice" and "SODOCUMENTENTRY" in names
    _, answer = post(intacct.url, envelope("<inspect><object>ITEM</object></inspect>"))
    fields = [f.text for f in data_of(answer).findall("Type/Fields/Field")]
    assert "BASEPRICE" in fields and "ITEMID" in fields


async def test_a_removed_field_or_object_is_gone_from_the_definitions(
    intacct: RunningIntacct,
) -> None:
    intacct.admin.http.delete("/metadata/ITEM/BASEPRICE").raise_for_status()
    intacct.admin.http.delete("/metadata/ARPAYMENT").raise_for_status()
    async with IntacctClient(config(intacct.endpoint)) as client:
        found = await read_objects(client, ["ITEM", "ARPAYMENT"])
    item, payment = found["ITEM"], found["ARPAYMENT"]
    assert item is not None and "BASEPRICE" not in item.fields and "ITEMID" in item.fields
    assert payment is None  # lookup answers DL02000001
    intacct.admin.http.post("/metadata/restore").raise_for_status()
    _, answer = post(intacct.url, envelope("<lookup><object>ARPAYMENT</object></lookup>"))
    assert results(answer)[0].findtext("status") == "success"
