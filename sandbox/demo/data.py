"""The demo's records: a small, believable book of business on each system.

Names carry the characters real data carries (`&`, `<`, quotes, accents). A few records are
deliberately bad, each rejected by exactly one flow's mapping with a classified `validation`
error naming the field (`PLANNED_FAILURES`; `shuttle demo --once` accepts these and no other):

- creatio-intacct: an Account whose name is longer than Intacct's 100-character NAME, and a
  Contact whose e-mail is longer than Intacct's 80-character EMAIL1 (Dataverse takes 100);
- creatio-dynamics: an Account whose web address is longer than Dataverse's 200-character
  websiteurl (Intacct does not map the web address, so only Dynamics rejects it), and a
  Product whose name is longer than Dataverse's 100-character product name.

The volume (hundreds of records) comes from sandbox/demo/volume.py.

Creatio product codes equal Intacct item ids, so `items-to-creatio` matches and binds them
instead of creating twins; the opportunity and order lines need those bindings.
Ids are new on every call: the emulators are in memory, so a restart is a new company.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any, NamedTuple

Rows = list[dict[str, Any]]

# The deliberately bad records (kept here so tests and the orientation can name them).
TOO_LONG_NAME = (
    "Northwind Traders — Consolidated Regional Distribution, Warehousing & Logistics "
    "Services for the Pacific Northwest"
)
TOO_LONG_WEB = (
    "https://www.fabrikam-industries.example/en-us/company/about-us/locations/"
    "north-america/headquarters/contact-information?utm_source=crm&utm_medium=import"
    "&utm_campaign=2019-legacy-migration&utm_content=account-record-web-field-overflow"
)

TOO_LONG_EMAIL = (
    "accounts.payable.department.north-america.headquarters@cafe-mueller-und-soehne-gmbh.example"
)
TOO_LONG_PRODUCT = (
    "Industrial Widget Assembly Kit — Extended Edition with Mounting Brackets, Spare Seals "
    "and Three-Year On-Site Service"
)


class PlannedFailure(NamedTuple):
    """A deliberately bad record: the flow that must reject it, and why."""

    flow_id: str
    name: str  # the record's key field (its id is known only once seeded)
    field: str  # the target field the mapping names in the error
    why: str


PLANNED_FAILURES = (
    PlannedFailure(
        "creatio-intacct.accounts-to-intacct",
        TOO_LONG_NAME,
        "NAME",
        "account name longer than Intacct's 100 characters",
    ),
    PlannedFailure(
        "creatio-intacct.contacts-to-intacct",
        TOO_LONG_EMAIL,
        "EMAIL1",
        "contact e-mail longer than Intacct's 80 characters",
    ),
    PlannedFailure(
        "creatio-dynamics.accounts-to-dataverse",
        TOO_LONG_WEB,
        "websiteurl",
        "web address longer than Dataverse's 200 characters",
    ),
    PlannedFailure(
        "creatio-dynamics.products-to-dataverse",
        TOO_LONG_PRODUCT,
        "name",
        "product name longer than Dataverse's 100 characters",
    ),
)


def planned_ids(payload: dict[str, Rows]) -> dict[str, set[str]]:
    """{flow id: lower-case ids of the seeded rows it must reject} (the rows carry the bad
    value; run errors name records by their source id)."""
    found: dict[str, set[str]] = {}
    for bad in PLANNED_FAILURES:
        for rows in payload.values():
            for row in rows:
                if bad.name in row.values() and "Id" in row:
                    found.setdefault(bad.flow_id, set()).add(str(row["Id"]).lower())
    return found


# The Dataverse price list the creatio-dynamics order and invoice flows name (pricelevelid):
# an admin creates it in a real org; the demo seeds it where the emulator has price lists.
PRICE_LIST = {
    "pricelevel": [
        {"name": "Shuttle price list", "description": "Prices for orders and invoices from Creatio"}
    ]
}


# Item ids shared by Intacct (ITEM.ITEMID) and Creatio (Product.Code).
PRODUCTS = (
    ("WDG-100", "Widget Standard 100", 49.5, "Our best-selling widget."),
    ("WDG-200", 'Widget Pro 200 "Heavy Duty"', 129.0, "Hardened steel, 5-year warranty."),
    ("SVC-INST", "Installation & Setup <on-site>", 350.0, "A technician, one day."),
)


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _us(day: date) -> str:
    return day.strftime("%m/%d/%Y")


def creatio(closed_won: str, today: date) -> dict[str, Rows]:
    """Accounts, contacts, products, a won opportunity with lines and an order with lines.
    `closed_won` is the emulator's OpportunityStage id for "Closed won"."""
    ids = {
        key: str(uuid.uuid4())
        for key in ("acme", "cafe", "obrien", "quote", "long", "web", "bad-email", "bad-product")
    }
    accounts = [
        {
            "Id": ids["acme"],
            "Name": "Acme Corporation",
            "Code": "ACME-001",
            "Phone": "+1 206 555 0100",
            "Web": "https://acme.example",
            "UsrActive": True,
        },
        {
            "Id": ids["cafe"],
            "Name": "Café Müller & Söhne GmbH",
            "Code": "CAFE-MUE",
            "Phone": "+49 30 555 0101",
            "Web": "https://cafe-mueller.example",
        },
        {"Id": ids["obrien"], "Name": "O'Brien & Sons <Ireland>", "Phone": "+353 1 555 0102"},
        {
            "Id": ids["quote"],
            "Name": '"Blue Sky" Aviation Ltd.',
            "Code": "BLUESKY",
            "Web": "https://bluesky.example",
        },
        {"Id": ids["long"], "Name": TOO_LONG_NAME, "Phone": "+1 503 555 0199"},
        {"Id": ids["web"], "Name": "Fabrikam Industries", "Code": "FABRIKAM", "Web": TOO_LONG_WEB},
    ]
    contacts = [
        {
            "Name": "Jane Doe",
            "Email": "jane.doe@acme.example",
            "Phone": "+1 206 555 0110",
            "JobTitle": "Purchasing Manager",
            "AccountId": ids["acme"],
        },
        {
            "Name": "Zoë Müller-Lüdenscheidt",
            "Email": "zoe.mueller@cafe-mueller.example",
            "JobTitle": "Geschäftsführerin",
            "AccountId": ids["cafe"],
        },
        {
            "Name": "Seán O'Brien",
            "Email": "sean@obrien.example",
            "MobilePhone": "+353 87 555 0111",
            "AccountId": ids["obrien"],
        },
        {
            "Id": ids["bad-email"],
            "Name": "Accounts Payable",
            "Email": TOO_LONG_EMAIL,
            "AccountId": ids["cafe"],
        },
    ]
    products = [
        {
            "Id": str(uuid.uuid4()),
            "Code": code,
            "Name": name,
            "Price": price,
            "Description": text,
            "Active": True,
        }
        for code, name, price, text in PRODUCTS
    ] + [
        {
            "Id": ids["bad-product"],
            "Code": "KIT-EXT-3Y",
            "Name": TOO_LONG_PRODUCT,
            "Price": 1890.0,
            "Active": True,
        }
    ]
    widget, pro, install = (p["Id"] for p in products[:3])
    opportunity = str(uuid.uuid4())
    order = str(uuid.uuid4())
    return {
        "Account": accounts,
        "Contact": contacts,
        "Product": products,
        "Opportunity": [
            {
                "Id": opportunity,
                "Title": "Acme — 2 Pro widgets & installation",
                "AccountId": ids["acme"],
                "StageId": closed_won,
                "DueDate": _iso(today),
                "Amount": 608.0,
                "Probability": 100,
                "Description": "Won after the demo <3",
            },
        ],
        "OpportunityProductInterest": [
            {
                "OpportunityId": opportunity,
                "ProductId": pro,
                "Quantity": 2,
                "Price": 129.0,
                "Amount": 258.0,
            },
            {
                "OpportunityId": opportunity,
                "ProductId": install,
                "Quantity": 1,
                "Price": 350.0,
                "Amount": 350.0,
            },
        ],
        "Order": [
            {
                "Id": order,
                "Number": "ORD-DEMO-1001",
                "AccountId": ids["cafe"],
                "Date": _iso(today),
                "DueDate": _iso(today + timedelta(days=30)),
                "Amount": 247.5,
                "Comment": "Lieferung bis Freitag — bitte anrufen",
            },
        ],
        "OrderProduct": [
            {
                "OrderId": order,
                "ProductId": widget,
                "Name": "Widget Standard 100",
                "Quantity": 5,
                "Price": 49.5,
                "Amount": 247.5,
                "TotalAmount": 247.5,
            },
        ],
    }


def intacct(today: date) -> dict[str, Rows]:
    """Customers, a contact, items with prices, an AR invoice with two lines, a payment and a
    credit memo."""
    return {
        "CUSTOMER": [
            {"CUSTOMERID": "C-2001", "NAME": "Contoso Pharmaceuticals", "STATUS": "active"},
            {"CUSTOMERID": "C-2002", "NAME": "Smith & Wesson Logistics <West>", "STATUS": "active"},
            {"CUSTOMERID": "C-2003", "NAME": "Brasserie L'Étoile", "STATUS": "inactive"},
        ],
        "CONTACT": [
            {
                "CONTACTNAME": "Ana Lima",
                "PRINTAS": "Ana Lima",
                "FIRSTNAME": "Ana",
                "LASTNAME": "Lima",
                "EMAIL1": "ana.lima@contoso.example",
                "PHONE1": "+1 425 555 0120",
            },
        ],
        "ITEM": [
            {"ITEMID": code, "NAME": name, "BASEPRICE": price, "STATUS": "active"}
            for code, name, price, _ in PRODUCTS
        ],
        "ARINVOICE": [
            {
                "CUSTOMERID": "C-2001",
                "RECORDID": "INV-DEMO-5001",
                "WHENDUE": _us(today + timedelta(days=30)),
                "DESCRIPTION": "Q3 widgets",
                "ARINVOICEITEMS": {
                    "arinvoiceitem": [
                        {
                            "ITEMID": "WDG-100",
                            "TRX_AMOUNT": 495.0,
                            "MEMO": "10 x Widget Standard 100",
                        },
                        {"ITEMID": "SVC-INST", "TRX_AMOUNT": 350.0, "MEMO": "Installation & setup"},
                    ]
                },
            },
        ],
        "ARPAYMENT": [
            {
                "CUSTOMERID": "C-2001",
                "DOCNUMBER": "CHK-88231",
                "PAYMENTAMOUNT": 500.0,
                "PAYMENTDATE": _us(today),
            },
        ],
        "ARADJUSTMENT": [
            {
                "CUSTOMERID": "C-2002",
                "RECORDID": "CM-DEMO-7001",
                "DESCRIPTION": "Damaged pallet",
                "WHENCREATED": _us(today),
                "ARADJUSTMENTITEMS": {"aradjustmentitem": [{"TRX_AMOUNT": -120.0}]},
            },
        ],
    }


def dataverse() -> dict[str, Rows]:
    """Accounts (one with accents and quotes) and contacts linked to them."""
    tailwind, sgi = str(uuid.uuid4()), str(uuid.uuid4())
    return {
        "account": [
            {
                "accountid": tailwind,
                "name": "Tailwind Toys & Games",
                "accountnumber": "DYN-3001",
                "telephone1": "+1 312 555 0130",
                "websiteurl": "https://tailwind.example",
            },
            {
                "accountid": sgi,
                "name": 'Société Générale d\'Import "SGI"',
                "accountnumber": "DYN-3002",
                "telephone1": "+33 1 55 50 01 31",
            },
        ],
        "contact": [
            {
                "firstname": "Kenji",
                "lastname": "Watanabe",
                "emailaddress1": "kenji@tailwind.example",
                "jobtitle": "CFO",
                "_parentcustomerid_value": tailwind,
                "parentcustomerid@target": "account",
            },
            {
                "firstname": "Amélie",
                "lastname": "Dubois",
                "emailaddress1": "amelie.dubois@sgi.example",
                "telephone1": "+33 1 55 50 01 32",
                "_parentcustomerid_value": sgi,
                "parentcustomerid@target": "account",
            },
        ],
    }
