"""The tables the Dataverse emulator hosts: columns, types, lookups and alternate keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal[
    "string", "memo", "int", "decimal", "money", "picklist", "bool", "date", "datetime", "guid"
]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    max_length: int | None = None
    options: tuple[int, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    read_only: bool = False

    @property
    def edm(self) -> str:
        return {
            "string": "Edm.String",
            "memo": "Edm.String",
            "int": "Edm.Int32",
            "decimal": "Edm.Decimal",
            "money": "Edm.Decimal",
            "picklist": "Edm.Int32",
            "bool": "Edm.Boolean",
            "date": "Edm.Date",
            "datetime": "Edm.DateTimeOffset",
            "guid": "Edm.Guid",
        }[self.type]


@dataclass(frozen=True)
class Lookup:
    """A lookup column; `targets` maps each navigation property to the table it points at
    (one entry for a simple lookup; `<name>_account` / `<name>_contact` for Customer)."""

    name: str
    targets: dict[str, str]

    @property
    def value_property(self) -> str:
        return f"_{self.name}_value"


@dataclass(frozen=True)
class Table:
    logical: str
    entity_set: str
    primary_name: str
    columns: dict[str, Column] = field(default_factory=dict)
    lookups: dict[str, Lookup] = field(default_factory=dict)

    @property
    def primary_key(self) -> str:
        return f"{self.logical}id"

    @property
    def alternate_key(self) -> str:
        return f"shuttle_creatio{self.logical}id"

    def navigation(self, navprop: str) -> tuple[Lookup, str] | None:
        """The lookup a navigation property sets and the table it points at."""
        for lookup in self.lookups.values():
            if navprop in lookup.targets:
                return lookup, lookup.targets[navprop]
        return None

    def lookup_by_value_property(self, name: str) -> Lookup | None:
        return next((lk for lk in self.lookups.values() if lk.value_property == name), None)


def _s(name: str, max_length: int = 100) -> Column:
    return Column(name, "string", max_length=max_length)


def _money(name: str) -> Column:
    return Column(name, "money", minimum=-922337203685477.0, maximum=922337203685477.0)


def _pick(name: str, *options: int) -> Column:
    return Column(name, "picklist", options=options)


def _customer(name: str) -> Lookup:
    return Lookup(name, {f"{name}_account": "account", f"{name}_contact": "contact"})


def _simple(name: str, target: str) -> Lookup:
    return Lookup(name, {name: target})


# Money on documents (store._line_amounts / _roll_up): a line's baseamount is priceperunit x
# quantity, its extendedamount that less manualdiscountamount plus tax; the document sums
# them (no document discount or freight here).
_LINE_AMOUNTS = (
    Column("baseamount", "money", read_only=True),
    _money("manualdiscountamount"),
    _money("tax"),
    Column("extendedamount", "money", read_only=True),
)
_TOTALS = (
    Column("totallineitemamount", "money", read_only=True),
    Column("totaltax", "money", read_only=True),
)
_PRICING = (
    Lookup("pricelevelid", {"pricelevelid": "pricelevel"}),
    Lookup("transactioncurrencyid", {"transactioncurrencyid": "transactioncurrency"}),
)

# Shuttle's custom invoice columns (`shuttle provision dataverse` creates them; docs/deploy.md):
# the amount paid so far (Dataverse keeps none) and, on a credit note, the number of the
# invoice it credits (Dataverse has no credit memo table).
_INVOICE_CUSTOM = (_money("shuttle_amountpaid"), _s("shuttle_creditedinvoice", 100))
CUSTOM_COLUMNS: dict[str, tuple[str, ...]] = {"invoice": tuple(c.name for c in _INVOICE_CUSTOM)}

SYSTEM_COLUMNS = (
    Column("createdon", "datetime", read_only=True),
    Column("modifiedon", "datetime", read_only=True),
    Column("versionnumber", "int", read_only=True),
)


def _table(
    logical: str,
    entity_set: str,
    primary_name: str,
    columns: list[Column],
    lookups: list[Lookup],
    states: tuple[int, ...] = (0, 1),
    statuses: tuple[int, ...] = (1, 2),
) -> Table:
    every = [
        Column(f"{logical}id", "guid"),
        _s(f"shuttle_creatio{logical}id", 100),
        *columns,
        _pick("statecode", *states),
        _pick("statuscode", *statuses),
        *SYSTEM_COLUMNS,
    ]
    return Table(
        logical,
        entity_set,
        primary_name,
        {c.name: c for c in every},
        {lk.name: lk for lk in lookups},
    )


TABLES: dict[str, Table] = {
    t.logical: t
    for t in (
        _table(
            "account",
            "accounts",
            "name",
            [
                _s("name", 160),
                _s("accountnumber", 20),
                _s("emailaddress1", 100),
                _s("telephone1", 50),
                _s("websiteurl", 200),
                _s("address1_line1", 250),
                _s("address1_city", 80),
                _s("address1_stateorprovince", 50),
                _s("address1_postalcode", 20),
                _s("address1_country", 80),
                Column("description", "memo", max_length=2000),
                _pick("accountcategorycode", 1, 2),
                _pick("customertypecode", *range(1, 13)),
                _pick("industrycode", *range(1, 34)),
                _money("creditlimit"),
                _money("revenue"),
            ],
            [_simple("parentaccountid", "account"), _simple("primarycontactid", "contact")],
        ),
        _table(
            "contact",
            "contacts",
            "fullname",
            [
                _s("firstname", 50),
                _s("lastname", 50),
                Column("fullname", "string", 160, read_only=True),
                _s("emailaddress1", 100),
                _s("telephone1", 50),
                _s("mobilephone", 50),
                _s("jobtitle", 100),
                Column("birthdate", "date"),
                Column("description", "memo", max_length=2000),
            ],
            [_customer("parentcustomerid")],
        ),
        _table(
            "product",
            "products",
            "name",
            [
                _s("name", 100),
                _s("productnumber", 100),
                Column("description", "memo", 2000),
                _money("price"),
                _money("standardcost"),
                _money("currentcost"),
                Column("quantitydecimal", "int", minimum=0, maximum=5),
                _pick("producttypecode", 1, 2, 3, 4),
            ],
            [],
            states=(0, 1, 2, 3),
            statuses=(0, 1, 2, 3),
        ),
        _table(
            "opportunity",
            "opportunities",
            "name",
            [
                _s("name", 300),
                _money("estimatedvalue"),
                Column("estimatedclosedate", "date"),
                _money("actualvalue"),
                Column("actualclosedate", "date"),
                Column("closeprobability", "int", minimum=0, maximum=100),
                _pick("salesstage", 0, 1, 2, 3),
                _s("stepname", 200),
                Column("description", "memo", max_length=2000),
            ],
            [
                _customer("customerid"),
                _simple("parentaccountid", "account"),
                _simple("parentcontactid", "contact"),
            ],
            states=(0, 1, 2),
            statuses=(1, 2, 3, 4, 5),
        ),
        _table(
            "salesorder",
            "salesorders",
            "name",
            [
                _s("name", 300),
                _s("ordernumber", 100),
                _money("totalamount"),
                Column("description", "memo", max_length=2000),
                Column("datedelivered", "date"),
                *_TOTALS,
            ],
            [_customer("customerid"), _simple("opportunityid", "opportunity"), *_PRICING],
            states=(0, 1, 2, 3, 4),
            statuses=(1, 2, 3, 4, 100001, 100002, 100003),
        ),
        _table(
            "salesorderdetail",
            "salesorderdetails",
            "productdescription",
            [
                _s("productdescription", 500),
                Column("quantity", "decimal", minimum=0),
                _money("priceperunit"),
                *_LINE_AMOUNTS,
                Column("isproductoverridden", "bool"),
                Column("ispriceoverridden", "bool"),
            ],
            [_simple("salesorderid", "salesorder"), _simple("productid", "product")],
        ),
        _table(
            "invoice",
            "invoices",
            "name",
            [
                _s("name", 300),
                _s("invoicenumber", 100),
                _money("totalamount"),
                Column("duedate", "date"),
                Column("description", "memo", max_length=2000),
                Column("datedelivered", "date"),
                *_TOTALS,
                *_INVOICE_CUSTOM,
            ],
            [_customer("customerid"), _simple("salesorderid", "salesorder"), *_PRICING],
            states=(0, 1, 2, 3),
            statuses=(1, 2, 3, 4, 5, 6, 7, 100001, 100002, 100003),
        ),
        _table(
            "invoicedetail",
            "invoicedetails",
            "productdescription",
            [
                _s("productdescription", 500),
                Column("quantity", "decimal", minimum=0),
                _money("priceperunit"),
                *_LINE_AMOUNTS,
                Column("isproductoverridden", "bool"),
                Column("ispriceoverridden", "bool"),
            ],
            [_simple("invoiceid", "invoice"), _simple("productid", "product")],
        ),
        _table(
            "transactioncurrency",
            "transactioncurrencies",
            "currencyname",
            [
                _s("isocurrencycode", 5),
                _s("currencyname", 100),
                _s("currencysymbol", 10),
                Column("exchangerate", "decimal", minimum=0),
                Column("currencyprecision", "int"),
            ],
            [],
        ),
        _table(
            "pricelevel",
            "pricelevels",
            "name",
            [_s("name", 100), Column("description", "memo", max_length=2000)],
            [_simple("transactioncurrencyid", "transactioncurrency")],
        ),
        _table(
            "incident",
            "incidents",
            "title",
            [
                _s("title", 200),
                _s("ticketnumber", 100),
                Column("description", "memo", max_length=2000),
                _pick("prioritycode", 1, 2, 3),
                _pick("caseorigincode", 1, 2, 3, 2483, 3986),
            ],
            [_customer("customerid")],
            states=(0, 1, 2),
            statuses=(1, 2, 3, 4, 5, 6, 1000, 2000),
        ),
    )
}

BY_SET: dict[str, Table] = {t.entity_set: t for t in TABLES.values()}
