"""The hostile-record corpus of the fault suite, defined once for the tests and the bench
(bench/faults_bench.py imports it).

Each `Hostile` is one source record that a messy source system or a hostile user could
produce: XML and OData metacharacters, `]]>`, quotes, control characters, lone surrogates
(what a UTF-16 service emits after cutting an emoji pair in half), emoji and right-to-left
text, 10 kB strings, empty required fields, impossible dates, match keys shared by two
records, and the characters Azure Table keys refuse (`/ \\ # ?`). What must happen to it on
each target follows from that flow's mapping in shared/solutions/*.yaml: it arrives with
exactly its mapped values, or it fails alone as a classified error naming its field.

Two source shapes exist: Creatio Accounts (JSON: they can carry anything) for the flows to
Intacct and Dataverse, and Intacct CUSTOMERs for the flow to Creatio. Intacct speaks XML
1.0, which cannot carry control characters or lone surrogates, and its own field rules
refuse empty and over-long names, so its corpus holds what an Intacct company can hold:
XML/OData metacharacters, quotes, emoji and RTL text, line breaks, shared names, and
CUSTOMERIDs with the Table-key-illegal characters (they become the source record ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LONG = "x" * 10_240  # a 10 kB string
# Characters NAME refuses on the way to Intacct (XML 1.0 cannot carry them):
# shared/solutions/creatio-intacct.yaml accounts-to-intacct.
XML_ILLEGAL = {chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32))}
INTACCT_ID_REFUSED = set("#?/\\:<>&\"'%")

# Values that must arrive exactly as they were sent (after the mapping's trim).
SAFE_HOSTILE_NAMES: list[tuple[str, str]] = [
    ("xml-tags", "<Account> & </Account>"),
    ("xml-entities", "Tom &amp; Jerry &lt;b&gt; &#x41; &unknown;"),
    ("cdata-end", "Close ]]> the CDATA"),
    ("cdata-open", "<![CDATA[ inner ]]> tail"),
    ("xml-pi", "<?xml version='1.0'?> processing"),
    ("double-quotes", 'The "Quoted" Company'),
    ("single-quotes", "O'Brien's Pub"),
    ("odata-quote-or", "x' or 1 eq 1 or Name eq 'x"),
    ("odata-keywords", "Name eq 'A' and Code ne null"),
    ("odata-percent", "100% Cotton + 50%20 Off"),
    ("odata-parens", "Fn(contains(Name,'a'))"),
    ("odata-dollar", "$filter=$top=1&$skip=2"),
    ("url-chars", "a/b?c=d&e=f#frag"),
    ("backslashes", "C:\\Windows\\System32 \\\\server"),
    ("emoji", "Café 😀🚀 Niño"),
    ("emoji-zwj", "Family 👨‍👩‍👧‍👦 Ltd"),
    ("rtl-hebrew", "שלום עולם Ltd"),
    ("rtl-arabic", "شركة الأمل"),
    ("rtl-override", "Admin\u202egnp.exe"),
    ("combining", "Zalgo Z̵͉a̶l̷g̸o"),
    ("cjk", "株式会社テスト"),
    ("newline", "Line one\nLine two"),
    ("tab", "Tab\there"),
    ("crlf", "Carriage\r\nreturn"),
    ("nbsp", "Non\u00a0breaking\u2003space"),
    ("zero-width", "Zero\u200bwidth\ufeffjoiner"),
    ("json-ish", '{"Name": "nested", "x": [1, 2]}'),
    ("sql-ish", "Robert'); DROP TABLE Accounts;--"),
    ("html-script", "<script>alert('x')</script>"),
    ("semicolons", "a;b,c|d"),
    ("impossible-date-text", "2023-02-30T25:61:00Z"),
    ("leading-spaces", "   Padded Name   "),
]


@dataclass(frozen=True)
class Hostile:
    """One hostile source record: `values` are the source fields; `fails` names the field a
    target refuses it on (by target system), absent when it must arrive."""

    label: str
    values: dict[str, Any]
    fails: dict[str, str] = field(default_factory=dict)  # target system -> field
    shared_key: str | None = None  # records sharing a match key (never merged)


def creatio_accounts() -> list[Hostile]:
    """At least 50 hostile Creatio Accounts (to Intacct and to Dataverse). Each has a Code
    of its own unless its hostility is in the Code, so a target row can be told apart."""
    out: list[Hostile] = []
    for n, (label, name) in enumerate(SAFE_HOSTILE_NAMES):
        out.append(Hostile(label, {"Name": name, "Code": f"HS{n:03d}"}))
    out += [
        # Control characters: XML cannot carry them (Intacct refuses NAME); JSON can.
        Hostile("bell", {"Name": "Bell\x07 Ltd", "Code": "HC001"}, {"intacct": "NAME"}),
        Hostile("nul", {"Name": "Nul\x00Byte", "Code": "HC002"}, {"intacct": "NAME"}),
        Hostile("escape", {"Name": "Esc\x1b[31m red", "Code": "HC003"}, {"intacct": "NAME"}),
        Hostile("form-feed", {"Name": "Form\x0cfeed", "Code": "HC004"}, {"intacct": "NAME"}),
        # Lone surrogates cannot be encoded at all: the record fails alone, wherever it goes.
        Hostile(
            "lone-high-surrogate",
            {"Name": "Cut \ud83d emoji", "Code": "HU001"},
            {"intacct": "Name", "dataverse": "Name"},
        ),
        Hostile(
            "lone-low-surrogate",
            {"Name": "Cut \ude00 tail", "Code": "HU002"},
            {"intacct": "Name", "dataverse": "Name"},
        ),
        Hostile(
            "surrogate-in-code",
            {"Name": "Surrogate code", "Code": "S\ud800"},
            {"intacct": "Code", "dataverse": "Code"},
        ),
        # 10 kB strings: longer than any target field allows.
        Hostile(
            "10kB-name", {"Name": LONG, "Code": "HL001"}, {"intacct": "NAME", "dataverse": "name"}
        ),
        Hostile(
            "10kB-code",
            {"Name": "Long code", "Code": LONG},
            {"intacct": "CUSTOMERID", "dataverse": "accountnumber"},
        ),
        # Empty required fields.
        Hostile(
            "empty-name", {"Name": "", "Code": "HE001"}, {"intacct": "NAME", "dataverse": "name"}
        ),
        Hostile(
            "blank-name",
            {"Name": "   \t ", "Code": "HE002"},
            {"intacct": "NAME", "dataverse": "name"},
        ),
        # Characters Azure Table keys and Intacct ids refuse, in the match key.
        Hostile("key-slash", {"Name": "Slash code", "Code": "K/1"}, {"intacct": "CUSTOMERID"}),
        Hostile(
            "key-backslash", {"Name": "Backslash code", "Code": "K\\2"}, {"intacct": "CUSTOMERID"}
        ),
        Hostile("key-hash", {"Name": "Hash code", "Code": "K#3"}, {"intacct": "CUSTOMERID"}),
        Hostile(
            "key-question", {"Name": "Question code", "Code": "K?4"}, {"intacct": "CUSTOMERID"}
        ),
        Hostile("key-quote", {"Name": "Quote code", "Code": "K'5"}, {"intacct": "CUSTOMERID"}),
        # Two records sharing a match key: by code, and by name without a code.
        Hostile(
            "shared-code-a", {"Name": "Shared Code Alpha", "Code": "SHARED1"}, shared_key="SHARED1"
        ),
        Hostile(
            "shared-code-b", {"Name": "Shared Code Beta", "Code": "SHARED1"}, shared_key="SHARED1"
        ),
        Hostile("shared-name-a", {"Name": "Twin Name Holdings"}, shared_key="Twin Name Holdings"),
        Hostile("shared-name-b", {"Name": "Twin Name Holdings"}, shared_key="Twin Name Holdings"),
    ]
    return out


def intacct_customers() -> list[Hostile]:
    """At least 50 hostile Intacct CUSTOMERs (to Creatio): what an Intacct company can hold
    (see the module's docstring). The CUSTOMERID is the source record's id."""
    out: list[Hostile] = []
    for n, (label, name) in enumerate(SAFE_HOSTILE_NAMES):
        if any(ch in XML_ILLEGAL for ch in name):
            continue
        out.append(Hostile(label, {"CUSTOMERID": f"HS{n:03d}", "NAME": name[:100]}))
    ids = [
        "K/1",
        "K\\2",
        "K#3",
        "K?4",
        "K/\\#?5",
        "K'6",
        "K%7",
        "K&8",
        "K<9>",
        "K 10",
        "K\t11",
        "Ķ12",
        "😀13",
        "K..14",
        "K%2F15",
        "K__16",
    ]
    for n, customer_id in enumerate(ids):
        out.append(Hostile(f"id-{n}", {"CUSTOMERID": customer_id, "NAME": f"Odd id {n}"}))
    out += [
        Hostile("max-name", {"CUSTOMERID": "HM001", "NAME": "N" * 100}),
        # Two customers with the same name and no Code match on the Creatio side... they
        # carry their own CUSTOMERIDs (Code), so they must never merge either.
        Hostile(
            "shared-name-a",
            {"CUSTOMERID": "TWIN-A", "NAME": "Twin Name Holdings"},
            shared_key="Twin Name Holdings",
        ),
        Hostile(
            "shared-name-b",
            {"CUSTOMERID": "TWIN-B", "NAME": "Twin Name Holdings"},
            shared_key="Twin Name Holdings",
        ),
    ]
    return out


def unique_labels(corpus: list[Hostile]) -> bool:
    return len({h.label for h in corpus}) == len(corpus)
