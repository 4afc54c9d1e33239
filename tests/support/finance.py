"""The finance scenarios' deal, shared by the engine tests (tests/integration/test_finance_*.py)
and the same scenarios through the local host (tests/e2e/test_finance_*_host.py): its lines in
Creatio and how money is compared."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def money(value: Any) -> Decimal:
    """An amount as a vendor API returned it (number or text), exact."""
    return Decimal(str(value))


def one(rows: list[dict[str, Any]], **where: Any) -> dict[str, Any]:
    """The only row whose fields equal `where` (compared as text)."""
    (row,) = [r for r in rows if all(str(r.get(k)) == str(v) for k, v in where.items())]
    return row


# The finance flows of creatio-intacct, in the order a full cycle runs them.
INTACCT_FINANCE_FLOWS = (
    "opportunities-to-sales-orders",
    "sales-orders-to-opportunities",
    "orders-to-invoices",
    "invoices-to-creatio",
    "invoices-to-opportunities",
    "payments-to-creatio",
    "credit-memos-to-creatio",
)


def euro_deal(account: str, stage: str, eur: str, **more: Any) -> dict[str, Any]:
    """The deal (a Creatio Opportunity) of account `account` in EUR, at `stage`."""
    return {
        "Title": "Euro deal",
        "AccountId": account,
        "StageId": stage,
        "UsrCurrencyId": eur,
        **more,
    }


def euro_order(account: str, opportunity: str, eur: str) -> dict[str, Any]:
    """The deal's Creatio Order, ORD-EUR-1, in EUR."""
    return {
        "Number": "ORD-EUR-1",
        "AccountId": account,
        "OpportunityId": opportunity,
        "CurrencyId": eur,
    }


def opportunity_lines(opportunity: str, product: dict[str, str]) -> list[dict[str, Any]]:
    """The deal's three product lines (Creatio OpportunityProductInterest), by product code:
    two licences at 100.00, three services at 33.33 with 10 % off, one piece of hardware."""
    return [
        {
            "OpportunityId": opportunity,
            "ProductId": product["LIC"],
            "Quantity": 2,
            "Price": "100.00",
            "Amount": "200.00",
        },
        {
            "OpportunityId": opportunity,
            "ProductId": product["SVC"],
            "Quantity": 3,
            "Price": "33.33",
            "Amount": "99.99",
            "UsrDiscountPercent": "10",
        },
        {
            "OpportunityId": opportunity,
            "ProductId": product["HW"],
            "Quantity": 1,
            "Price": "19.99",
            "Amount": "19.99",
        },
    ]


def order_lines(order: str, product: dict[str, str]) -> list[dict[str, Any]]:
    """The Creatio order's three lines of creatio-intacct (Creatio OrderProduct), by product
    code: one 10 % off, one taxed."""
    return [
        {
            "OrderId": order,
            "ProductId": product["LIC"],
            "Name": "Licence",
            "Quantity": 2,
            "Price": "100.00",
            "Amount": "200.00",
            "TotalAmount": "200.00",
        },
        {
            "OrderId": order,
            "ProductId": product["SVC"],
            "Name": "Service",
            "Quantity": 3,
            "Price": "33.33",
            "Amount": "99.99",
            "DiscountPercent": "10",
            "DiscountAmount": "10.00",
            "TotalAmount": "89.99",
        },
        {
            "OrderId": order,
            "ProductId": product["HW"],
            "Name": "Hardware",
            "Quantity": 1,
            "Price": "19.99",
            "Amount": "19.99",
            "TaxAmount": "3.80",
            "TotalAmount": "23.79",
        },
    ]


# The Creatio order's (and invoice's) lines of creatio-dynamics: one discounted, one taxed.
DOCUMENT_LINES = (  # product, quantity, price, amount, discount, tax, total
    ("LIC", 2, "100.00", "200.00", "0", "0", "200.00"),
    ("SVC", 3, "33.33", "99.99", "10.00", "0", "89.99"),
    ("HW", 1, "19.99", "19.99", "0", "3.80", "23.79"),
)


def document_lines(parent: str, parent_id: str, product: dict[str, str]) -> list[dict[str, Any]]:
    """`DOCUMENT_LINES` as Creatio rows of the document `parent_id` (its key field `parent`)."""
    return [
        {
            parent: parent_id,
            "ProductId": product[code],
            "Name": code,
            "Quantity": quantity,
            "Price": price,
            "Amount": amount,
            "DiscountAmount": discount,
            "TaxAmount": tax,
            "TotalAmount": total,
        }
        for code, quantity, price, amount, discount, tax, total in DOCUMENT_LINES
    ]
