"""Generated demo volume: a believable book of business, the same on every run.

Everything comes from a seeded `random.Random` and the small word lists below (no downloads),
so two demos with the same size hold the same names, amounts and ids. The hand-written
records of sandbox/demo/data.py (special characters, the deliberately bad records) come on
top of these.

Money is written as strings with two decimals: the emulators keep them as decimals. Currency,
discount and tax sit where the solutions' mappings look for them (Order.CurrencyId, the
custom Opportunity.UsrCurrencyId and OpportunityProductInterest.UsrDiscountPercent, order
lines' DiscountAmount and TaxAmount); a Creatio emulator without a custom column ignores it
on seeding, so the same book loads with and without those columns.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

Rows = list[dict[str, Any]]

SEED = 16  # the demo's RNG seed: same data on every run


@dataclass(frozen=True)
class Size:
    """How much the demo seeds on top of the hand-written records."""

    accounts: int  # Creatio accounts, each with 1-3 contacts
    opportunities: int  # spread over the stages; about a third closed won
    orders: int  # Creatio orders with lines (discount, tax, USD or EUR)
    customers: int  # Intacct customers, each with a contact
    invoices: int  # Intacct AR invoices (open, partly paid, paid)
    credit_memos: int  # Intacct AR adjustments
    dv_accounts: int  # Dataverse accounts, each with a contact
    dv_invoices: int  # Dataverse invoices (about half paid)
    cases: int  # support cases on each side (Creatio Case, Dataverse incident)


# `make demo`: hundreds of records. `shuttle demo --once`: every flow still has work, in a
# cycle that ends in well under two minutes on two cores.
SIZES = {
    "full": Size(
        accounts=240,
        opportunities=90,
        orders=40,
        customers=60,
        invoices=80,
        credit_memos=15,
        dv_accounts=60,
        dv_invoices=40,
        cases=20,
    ),
    "small": Size(
        accounts=24,
        opportunities=12,
        orders=6,
        customers=8,
        invoices=10,
        credit_memos=3,
        dv_accounts=8,
        dv_invoices=6,
        cases=3,
    ),
}

PREFIXES = (
    "Northern",
    "Blue Ridge",
    "Summit",
    "Harbor",
    "Pioneer",
    "Silverline",
    "Redwood",
    "Cedar",
    "Atlas",
    "Lakeside",
    "Granite",
    "Evergreen",
    "Riverside",
    "Keystone",
    "Meridian",
    "Coastal",
    "Highland",
    "Prairie",
    "Orion",
    "Sterling",
)
TRADES = (
    "Logistics",
    "Foods",
    "Engineering",
    "Pharma",
    "Textiles",
    "Robotics",
    "Builders",
    "Analytics",
    "Outfitters",
    "Metals",
    "Energy",
    "Dental",
    "Brewing",
    "Media",
    "Furniture",
    "Marine",
)
SUFFIXES = ("Inc.", "LLC", "GmbH", "Ltd.", "S.A.", "& Co.", "B.V.", "AG")
FIRST = (
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Sofia",
    "Lucas",
    "Mia",
    "Mateo",
    "Hannah",
    "Jonas",
    "Aisha",
    "Kenji",
    "Léa",
    "Björn",
    "Priya",
    "Diego",
    "Chloé",
    "Tomás",
    "Ingrid",
    "Omar",
)
LAST = (
    "Smith",
    "García",
    "Müller",
    "Rossi",
    "Nakamura",
    "Kowalski",
    "Johansson",
    "Dubois",
    "O'Neill",
    "Novak",
    "Silva",
    "Fischer",
    "Andersen",
    "Kim",
    "Haddad",
    "Murphy",
)
TITLES = (
    "Purchasing Manager",
    "CFO",
    "Head of Operations",
    "Accounts Payable",
    "CEO",
    "IT Director",
    "Procurement Lead",
    "Controller",
)
STAGES = (
    "Qualification",
    "Presentation",
    "Proposal",
    "Negotiation",
    "Closed won",
    "Closed won",
    "Closed won",
    "Closed lost",
)
# Item id, name, price: Intacct items, the same codes as Creatio products.
CATALOG = (
    ("HW-ROUT-01", "Edge Router X1", "289.00"),
    ("HW-SWCH-24", "24-Port Switch", "449.00"),
    ("HW-AP-200", "Wireless Access Point 200", "179.90"),
    ("LIC-CRM-USR", "CRM User Licence (annual)", "420.00"),
    ("LIC-ERP-USR", "ERP User Licence (annual)", "540.00"),
    ("SVC-TRAIN", "Training Day", "950.00"),
    ("SVC-SUPP", "Premium Support (month)", "199.00"),
    ("CONS-CABLE", "Cat6 Cable Pack", "24.99"),
    ("CONS-RACK", "Rack Mount Kit", "64.50"),
)
ISSUES = (
    "Router drops the VPN every night",
    "Invoice shows the wrong VAT rate",
    "Licence key not accepted",
    "Switch port 12 dead on arrival",
    "Training date needs to move",
    "Access point firmware update failed",
)
CURRENCIES = ("USD", "EUR")
TAX_RATE = Decimal("0.19")  # VAT on taxed lines
CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _us(day: date) -> str:
    return day.strftime("%m/%d/%Y")


class Book:
    """The generated records of one demo: build once, then read each system's rows."""

    def __init__(self, size: Size, today: date, seed: int = SEED) -> None:
        self.size = size
        self.today = today
        self.rng = random.Random(seed)  # noqa: S311  (demo data, not secrets: reproducible)
        self._names: set[str] = set()

    def _id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _company(self) -> str:
        while True:
            name = (
                f"{self.rng.choice(PREFIXES)} {self.rng.choice(TRADES)} {self.rng.choice(SUFFIXES)}"
            )
            if name not in self._names:
                self._names.add(name)
                return name
            # Names run out before the ids do: number the rest, as real books do.
            numbered = f"{name} ({len(self._names)})"
            if numbered not in self._names:
                self._names.add(numbered)
                return numbered

    def _person(self, domain: str, n: int) -> tuple[str, str, str]:
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
        local = local.encode("ascii", "ignore").decode() or "contact"
        return first, last, f"{local}{n}@{domain}"

    @staticmethod
    def _domain(name: str) -> str:
        word = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum())
        return f"{word[:24]}.example"

    # -- Creatio -------------------------------------------------------------------------------
    def creatio(
        self, products: dict[str, str], stages: dict[str, str], currencies: dict[str, str]
    ) -> dict[str, Rows]:
        """`products`: Creatio product id by code; `stages`/`currencies`: lookup ids by name."""
        accounts: Rows = []
        contacts: Rows = []
        for n in range(self.size.accounts):
            name = self._company()
            account_id = self._id()
            accounts.append(
                {
                    "Id": account_id,
                    "Name": name,
                    "Code": f"CR-{n + 1:04d}",
                    "Phone": f"+1 555 01{n:04d}",
                    "Web": f"https://{self._domain(name)}",
                    "UsrActive": True,
                }
            )
            for k in range(self.rng.randint(1, 3)):
                first, last, email = self._person(self._domain(name), n * 10 + k)
                contacts.append(
                    {
                        "Id": self._id(),
                        "Name": f"{first} {last}",
                        "Email": email,
                        "JobTitle": self.rng.choice(TITLES),
                        "AccountId": account_id,
                        "Phone": f"+1 555 02{n:03d}{k}",
                    }
                )
        opportunities: Rows = []
        opp_lines: Rows = []
        for n in range(self.size.opportunities):
            account = accounts[n % len(accounts)]
            stage = STAGES[n % len(STAGES)]
            opp_id = self._id()
            total = Decimal(0)
            for k, (code, _, price) in enumerate(self.rng.sample(CATALOG, self.rng.randint(1, 3))):
                quantity = self.rng.randint(1, 12)
                # Every second line discounted (custom UsrDiscountPercent: an emulator
                # without the column ignores it, and the amount says what was agreed).
                percent = Decimal(5 * (k % 2))
                amount = (Decimal(price) * quantity * (100 - percent) / 100).quantize(CENT)
                total += amount
                opp_lines.append(
                    {
                        "Id": self._id(),
                        "OpportunityId": opp_id,
                        "ProductId": products[code],
                        "Quantity": quantity,
                        "Price": price,
                        "Amount": money(amount),
                        "UsrDiscountPercent": str(percent),
                    }
                )
            due = self.today + timedelta(days=self.rng.randint(-20, 60))
            opportunities.append(
                {
                    "Id": opp_id,
                    "Title": f"{account['Name']} — deal {n + 1}",
                    "AccountId": account["Id"],
                    "StageId": stages[stage],
                    "DueDate": _iso(due),
                    "Amount": money(total),
                    "UsrCurrencyId": currencies[CURRENCIES[n % 2]],
                    "Probability": 100 if stage == "Closed won" else 10 * (n % 9),
                    "Description": f"Stage {stage}",
                }
            )
        orders: Rows = []
        order_lines: Rows = []
        for n in range(self.size.orders):
            account = accounts[(n * 7) % len(accounts)]
            order_id = self._id()
            currency = CURRENCIES[n % 2]
            total = Decimal(0)
            for k, (code, name, price) in enumerate(self.rng.sample(CATALOG, 3)):
                quantity = self.rng.randint(1, 10)
                gross = Decimal(price) * quantity
                # First line: no discount, no tax; second: discounted; third: taxed.
                percent = Decimal(10 if k == 1 else 0)
                discount = (gross * percent / 100).quantize(CENT)
                tax = ((gross - discount) * TAX_RATE).quantize(CENT) if k == 2 else Decimal(0)
                line_total = gross - discount + tax
                total += line_total
                order_lines.append(
                    {
                        "Id": self._id(),
                        "OrderId": order_id,
                        "ProductId": products[code],
                        "Name": name,
                        "Quantity": quantity,
                        "Price": price,
                        "Amount": money(line_total),
                        "DiscountPercent": str(percent),
                        "DiscountAmount": money(discount),
                        "TaxAmount": money(tax),
                        "TotalAmount": money(line_total),
                    }
                )
            day = self.today - timedelta(days=self.rng.randint(0, 20))
            orders.append(
                {
                    "Id": order_id,
                    "Number": f"ORD-{2000 + n}",
                    "AccountId": account["Id"],
                    "Date": _iso(day),
                    "DueDate": _iso(day + timedelta(days=30)),
                    "CurrencyId": currencies[currency],
                    "Amount": money(total),
                    "Comment": f"{currency} order, net 30",
                }
            )
        cases = [
            {
                "Id": self._id(),
                "Number": f"CS-{500 + n}",
                "AccountId": accounts[n * 3]["Id"],
                "Subject": self.rng.choice(ISSUES),
                "Symptoms": "Reported by phone; see notes.",
                "RegisteredOn": _iso(self.today - timedelta(days=n)),
            }
            for n in range(min(self.size.cases, len(accounts) // 3))
        ]
        return {
            "Account": accounts,
            "Contact": contacts,
            "Opportunity": opportunities,
            "OpportunityProductInterest": opp_lines,
            "Order": orders,
            "OrderProduct": order_lines,
            "Case": cases,
        }

    # -- Intacct -------------------------------------------------------------------------------
    def intacct(self) -> dict[str, Rows]:
        customers: Rows = []
        contacts: Rows = []
        for n in range(self.size.customers):
            name = self._company()
            customers.append(
                {
                    "CUSTOMERID": f"C-{3000 + n}",
                    "NAME": name,
                    "STATUS": "inactive" if n % 15 == 14 else "active",
                }
            )
            first, last, email = self._person(self._domain(name), 5000 + n)
            contacts.append(
                {
                    "CONTACTNAME": f"{first} {last} ({3000 + n})",
                    "PRINTAS": f"{first} {last}",
                    "FIRSTNAME": first,
                    "LASTNAME": last,
                    "EMAIL1": email,
                    "PHONE1": f"+1 555 03{n:04d}",
                }
            )
        invoices: Rows = []
        payments: Rows = []
        for n in range(self.size.invoices):
            customer = customers[n % len(customers)]
            lines = []
            total = Decimal(0)
            for code, name, price in self.rng.sample(CATALOG, self.rng.randint(1, 3)):
                amount = Decimal(price) * self.rng.randint(1, 6)
                total += amount
                lines.append(
                    {"ITEMID": code, "TRX_AMOUNT": money(amount), "MEMO": name, "ACCOUNTNO": "4000"}
                )
            day = self.today - timedelta(days=self.rng.choice((3, 12, 40, 75, 100)))
            # Open, partly paid, paid: a third each; every payment is a payment row too.
            state = n % 3
            paid = Decimal(0) if state == 0 else total if state == 2 else (total / 2).quantize(CENT)
            invoice = {
                "CUSTOMERID": customer["CUSTOMERID"],
                "RECORDID": f"INV-{6000 + n}",
                "WHENCREATED": _us(day),
                "WHENDUE": _us(day + timedelta(days=30)),
                "DESCRIPTION": f"Invoice {6000 + n}",
                "ARINVOICEITEMS": {"arinvoiceitem": lines},
            }
            if paid:
                invoice["TOTALPAID"] = money(paid)
                payments.append(
                    {
                        "CUSTOMERID": customer["CUSTOMERID"],
                        "DOCNUMBER": f"CHK-{90000 + n}",
                        "PAYMENTAMOUNT": money(paid),
                        "PAYMENTDATE": _us(day + timedelta(days=10)),
                    }
                )
            invoices.append(invoice)
        memos = [
            {
                "CUSTOMERID": customers[(n * 5) % len(customers)]["CUSTOMERID"],
                "RECORDID": f"CM-{7100 + n}",
                "DESCRIPTION": "Returned goods" if n % 2 else "Price adjustment",
                "WHENCREATED": _us(self.today - timedelta(days=n)),
                "ARADJUSTMENTITEMS": {
                    "aradjustmentitem": [
                        {
                            "TRX_AMOUNT": money(-Decimal(self.rng.randint(20, 400))),
                            "ACCOUNTNO": "4000",
                        }
                    ]
                },
            }
            for n in range(self.size.credit_memos)
        ]
        return {
            "CUSTOMER": customers,
            "CONTACT": contacts,
            "ARINVOICE": invoices,
            "ARPAYMENT": payments,
            "ARADJUSTMENT": memos,
        }

    def items(self) -> Rows:
        return [
            {"ITEMID": code, "NAME": name, "BASEPRICE": price, "STATUS": "active"}
            for code, name, price in CATALOG
        ]

    def products(self) -> Rows:
        """The catalog as Creatio products (codes equal Intacct item ids, so they bind)."""
        return [
            {
                "Id": self._id(),
                "Code": code,
                "Name": name,
                "Price": price,
                "Active": True,
                "Description": f"{name} from the standard catalog",
            }
            for code, name, price in CATALOG
        ]

    # -- Dataverse -----------------------------------------------------------------------------
    def dataverse(self) -> dict[str, Rows]:
        accounts: Rows = []
        contacts: Rows = []
        for n in range(self.size.dv_accounts):
            name = self._company()
            account_id = self._id()
            accounts.append(
                {
                    "accountid": account_id,
                    "name": name,
                    "accountnumber": f"DYN-{4000 + n}",
                    "telephone1": f"+1 555 04{n:04d}",
                }
            )
            first, last, email = self._person(self._domain(name), 7000 + n)
            contacts.append(
                {
                    "contactid": self._id(),
                    "firstname": first,
                    "lastname": last,
                    "emailaddress1": email,
                    "jobtitle": self.rng.choice(TITLES),
                    "_parentcustomerid_value": account_id,
                    "parentcustomerid@target": "account",
                }
            )
        invoices: Rows = []
        for n in range(self.size.dv_invoices):
            account = accounts[n % len(accounts)]
            paid = n % 2 == 1
            # Every fourth is paid in part: its amount paid in shuttle_amountpaid (docs/deploy.md).
            partly = n % 4 == 2
            invoice_id = self._id()  # the same draws, in the same order, as before
            total = Decimal(self.rng.randint(200, 9000))
            invoice = {
                "invoiceid": invoice_id,
                "name": f"Dynamics invoice {8000 + n}",
                "invoicenumber": f"INV-DV-{8000 + n}",
                "totalamount": money(total),
                "duedate": (self.today + timedelta(days=30)).isoformat(),
                "_customerid_value": account["accountid"],
                "customerid@target": "account",
                "statecode": 2 if paid or partly else 0,
                "statuscode": 100001 if paid else 100002 if partly else 1,
            }
            if partly:
                invoice["shuttle_amountpaid"] = money(total / 4)
            invoices.append(invoice)
        # A credit note (an invoice crediting another, docs/wire-notes.md) for the first paid.
        if self.size.dv_invoices > 1:
            credited = invoices[1]
            invoices.append(
                {
                    "invoiceid": self._id(),
                    "name": "Goodwill credit",
                    "invoicenumber": "CN-DV-8001",
                    "totalamount": money(Decimal(50)),
                    "shuttle_creditedinvoice": credited["invoicenumber"],
                    "_customerid_value": credited["_customerid_value"],
                    "customerid@target": "account",
                    "statecode": 0,
                    "statuscode": 1,
                }
            )
        incidents = [
            {
                "incidentid": self._id(),
                "title": self.rng.choice(ISSUES),
                "ticketnumber": f"CAS-{9100 + n}",
                "description": "Opened from the customer portal.",
                "_customerid_value": accounts[n % len(accounts)]["accountid"],
                "customerid@target": "account",
            }
            for n in range(self.size.cases)
        ]
        return {
            "account": accounts,
            "contact": contacts,
            "invoice": invoices,
            "incident": incidents,
        }
