"""`$filter` as the emulator evaluates it: operators, functions, literals, lookup paths, and
the 400 answers for mistakes."""

from __future__ import annotations

import httpx
import pytest

from tests.support.creatio import RunningCreatio

ACCOUNTS = [
    {
        "Id": "11111111-1111-4111-8111-111111111111",
        "Name": "Acme",
        "Code": "A1",
        "UsrActive": True,
        "UsrArOver30": "10.50",
        "ModifiedOn": "2024-05-01T10:00:00Z",
    },
    {
        "Id": "22222222-2222-4222-8222-222222222222",
        "Name": "O'Brien & Sons",
        "Code": "B2",
        "UsrActive": False,
        "UsrArOver30": "0",
        "ModifiedOn": "2024-05-02T10:00:00.1234567Z",
    },
    {
        "Id": "33333333-3333-4333-8333-333333333333",
        "Name": "Zeta 100%",
        "Code": "",
        "UsrActive": True,
        "UsrArOver30": "99.99",
        "ModifiedOn": "2024-05-03T10:00:00Z",
        "UsrErpLastModified": "2024-01-01T00:00:00Z",
    },
]


@pytest.fixture
def seeded(creatio: RunningCreatio) -> RunningCreatio:
    creatio.admin.seed({"Account": ACCOUNTS})
    return creatio


def names(session: httpx.Client, text: str, entity: str = "Account") -> list[str]:
    response = session.get(
        f"/0/odata/{entity}", params={"$filter": text, "$orderby": "Name", "$select": "Name"}
    )
    assert response.status_code == 200, response.text
    return [row["Name"] for row in response.json()["value"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Name eq 'Acme'", ["Acme"]),
        ("Name ne 'Acme'", ["O'Brien & Sons", "Zeta 100%"]),
        ("Name eq 'o''brien & sons'", ["O'Brien & Sons"]),  # doubled quote; case-insensitive
        ("UsrArOver30 gt 10.5", ["Zeta 100%"]),
        ("UsrArOver30 ge 10.5", ["Acme", "Zeta 100%"]),
        ("UsrArOver30 lt 10", ["O'Brien & Sons"]),
        ("UsrArOver30 le 0", ["O'Brien & Sons"]),
        ("UsrActive eq true and Code ne ''", ["Acme"]),
        ("UsrActive", ["Acme", "Zeta 100%"]),
        ("not UsrActive", ["O'Brien & Sons"]),
        ("Code eq 'A1' or Code eq 'B2' and UsrActive eq true", ["Acme"]),  # and binds tighter
        ("(Code eq 'A1' or Code eq 'B2') and UsrActive eq false", ["O'Brien & Sons"]),
        ("not (Code eq 'A1' or Code eq 'B2')", ["Zeta 100%"]),
        ("contains(Name, '&')", ["O'Brien & Sons"]),
        ("contains(Name,'100%')", ["Zeta 100%"]),
        ("startswith(Name, 'ac')", ["Acme"]),
        ("endswith(Name, 'SONS')", ["O'Brien & Sons"]),
        ("tolower(Name) eq 'zeta 100%'", ["Zeta 100%"]),
        ("length(Code) eq 0", ["Zeta 100%"]),
        ("Id eq 22222222-2222-4222-8222-222222222222", ["O'Brien & Sons"]),
        ("ModifiedOn gt 2024-05-02T10:00:00Z", ["O'Brien & Sons", "Zeta 100%"]),
        ("ModifiedOn eq 2024-05-02T10:00:00.1234567Z", ["O'Brien & Sons"]),  # all 7 digits
        ("ModifiedOn gt 2024-05-02T10:00:00.123456Z", ["O'Brien & Sons", "Zeta 100%"]),
        ("ModifiedOn lt 2024-05-02T12:00:01+02:00", ["Acme", "O'Brien & Sons"]),  # offsets
        ("UsrErpLastModified eq null", ["Acme", "O'Brien & Sons"]),  # the empty date is NULL
        ("UsrErpLastModified ne null", ["Zeta 100%"]),
        ("PrimaryContactId eq null", ["Acme", "O'Brien & Sons", "Zeta 100%"]),
        ("Name eq 'Acme' or Name eq 'nope' or 1 eq 2", ["Acme"]),
    ],
)
def test_filter_expressions(
    seeded: RunningCreatio, session: httpx.Client, text: str, expected: list[str]
) -> None:
    assert names(session, text) == expected


def test_lookup_paths(creatio: RunningCreatio, session: httpx.Client) -> None:
    stages = creatio.admin.lookups()["OpportunityStage"]
    account = session.post("/0/odata/Account", json={"Name": "Acme"}).json()
    for title, stage in [("Won deal", "Closed won"), ("Open deal", "Proposal")]:
        response = session.post(
            "/0/odata/Opportunity",
            json={"Title": title, "StageId": stages[stage], "AccountId": account["Id"]},
        )
        assert response.status_code == 201
    session.post("/0/odata/Opportunity", json={"Title": "No stage"})
    won = session.get("/0/odata/Opportunity", params={"$filter": "Stage/Name eq 'Closed won'"})
    assert [r["Title"] for r in won.json()["value"]] == ["Won deal"]
    by_id = session.get(
        "/0/odata/Opportunity", params={"$filter": f"Stage/Id eq {stages['Proposal']}"}
    )
    assert [r["Title"] for r in by_id.json()["value"]] == ["Open deal"]
    by_account = session.get(
        "/0/odata/Opportunity",
        params={"$filter": "Account/Name eq 'Acme'", "$orderby": "Stage/Name desc"},
    )
    assert [r["Title"] for r in by_account.json()["value"]] == ["Open deal", "Won deal"]
    no_stage = session.get("/0/odata/Opportunity", params={"$filter": "Stage eq null"})
    assert [r["Title"] for r in no_stage.json()["value"]] == ["No stage"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Id eq '11111111-1111-4111-8111-111111111111'", "incompatible types"),
        ("ModifiedOn gt '2024-05-01T00:00:00Z'", "incompatible types"),
        ("ModifiedOn gt 2024-05-01", "incompatible types"),
        ("Name eq 5", "incompatible types"),
        ("Nope eq 1", "Could not find a property named 'Nope'"),
        ("Stage/Name eq 'x'", "Could not find a property named 'Stage'"),
        ("Name eq 'unterminated", "unterminated string literal"),
        ("Name eq", "Syntax error"),
        ("Name eq 'a' and", "Syntax error"),
        ("(Name eq 'a'", "Syntax error"),
        ("Name EQ 'a'", "Syntax error"),
        ("Name", "must evaluate to a single boolean"),
        ("Name eq 'a' and 'b'", "incompatible types"),
        ("frobnicate(Name)", "unknown function"),
        ("contains(Name)", "No function signature"),
        ("ModifiedOn gt datetime'2024-05-01T00:00:00'", "'datetime'"),  # OData 3 syntax
        ("ModifiedOn gt 2024-05-01T00:00:00.12345678Z", "DateTimeOffset text"),
    ],
)
def test_filter_mistakes_are_400_odata_errors(
    seeded: RunningCreatio, session: httpx.Client, text: str, message: str
) -> None:
    response = session.get("/0/odata/Account", params={"$filter": text})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert message in error["message"] and error["code"] == ""


def test_a_value_cannot_escape_its_literal(seeded: RunningCreatio, session: httpx.Client) -> None:
    # What a naive client would send for the value  x' or Name ne 'x  without doubling.
    injected = session.get("/0/odata/Account", params={"$filter": "Name eq 'x' or Name ne 'x'"})
    assert len(injected.json()["value"]) == 3  # the emulator really evaluates `or`
    quoted = names(session, "Name eq 'x'' or Name ne ''x'")
    assert quoted == []


def test_duplicate_and_unsupported_query_options(
    seeded: RunningCreatio, session: httpx.Client
) -> None:
    twice = session.get("/0/odata/Account?$top=1&$top=2")
    assert twice.status_code == 400 and "more than once" in twice.json()["error"]["message"]
    expand = session.get("/0/odata/Account", params={"$expand": "PrimaryContact"})
    assert expand.status_code == 400
    custom = session.get("/0/odata/Account", params={"foo": "bar"})
    assert custom.status_code == 200  # custom (non-$) options are ignored


def test_many_values_of_one_column_by_or_of_eq(
    creatio: RunningCreatio, session: httpx.Client
) -> None:
    # A chunk's match (docs/wire-notes.md C9): sixty codes, one request.
    creatio.admin.seed(
        {"Account": [{"Name": f"Many {n:02d}", "Code": f"M{n:02d}"} for n in range(80)]}
    )
    wanted = [f"m{n:02d}" for n in range(0, 80, 2)] + ["nobody"]  # case-insensitive, as SQL Server
    text = " or ".join(f"Code eq '{code}'" for code in wanted)
    assert names(session, text) == [f"Many {n:02d}" for n in range(0, 80, 2)]


def test_the_in_operator_is_refused_as_a_syntax_error(
    seeded: RunningCreatio, session: httpx.Client
) -> None:
    # Not in Creatio's filter documentation (docs/wire-notes.md C9): the emulator does not
    # take it, so a connector relying on it fails here first.
    response = session.get("/0/odata/Account", params={"$filter": "Code in ('A1','B2')"})
    assert response.status_code == 400
    assert "Syntax error" in response.json()["error"]["message"]


def test_a_query_string_over_2048_bytes_is_refused_by_iis_before_creatio(
    seeded: RunningCreatio, session: httpx.Client
) -> None:
    def query(clauses: int) -> str:
        return "$filter=" + "%20or%20".join(["Name%20eq%20'Acme'"] * clauses)

    at_limit = query(60) + "&x=" + "y" * (2048 - len(query(60)) - 3)  # exactly 2048 bytes
    assert len(at_limit) == 2048
    fits = session.get(f"/0/odata/Account?{at_limit}")
    assert fits.status_code == 200 and [r["Name"] for r in fits.json()["value"]] == ["Acme"]
    longer = session.get(f"/0/odata/Account?{at_limit}y")
    assert longer.status_code == 404 and "404.15" in longer.text
    assert longer.headers["content-type"].startswith("text/html")
    seeded.admin.options(max_query_string=None)  # a site whose web.config raises the limit
    assert session.get(f"/0/odata/Account?{at_limit}y").status_code == 200
