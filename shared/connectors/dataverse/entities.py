"""The Dataverse tables Shuttle syncs: entity sets, keys, the navigation property of each
lookup per target table, and the line tables of documents.

Lookups are written through `@odata.bind` on these navigation properties (never the
read-only `_x_value` columns). A Customer lookup (`customerid`, `parentcustomerid`) has one
navigation property per target table: `<lookup>_account` / `<lookup>_contact`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.connectors.dataverse.config import SYSTEM
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory


@dataclass(frozen=True)
class Entity:
    logical: str
    entity_set: str
    # lookup column -> {target table: navigation property}
    lookups: dict[str, dict[str, str]] = field(default_factory=dict)
    # document tables: (line table, the line's navigation property to its document)
    lines: tuple[str, str] | None = None

    # Derived names, alike in shape to DataverseConfig's (dataverse/config.py) only.
    @property
    def primary_key(self) -> str:
        return f"{self.logical}id"

    @property
    def alternate_key(self) -> str:
        """Shuttle's binding column, an alternate key (docs/deploy.md): holds the Creatio Id."""
        return f"shuttle_creatio{self.logical}id"


def _customer(name: str) -> dict[str, str]:
    return {"account": f"{name}_account", "contact": f"{name}_contact"}


# A document's price list and currency: Dataverse prices catalogue products from the price
# list, so orders and invoices with product lines need one.
_PRICING = {
    "pricelevelid": {"pricelevel": "pricelevelid"},
    "transactioncurrencyid": {"transactioncurrency": "transactioncurrencyid"},
}


# A table of the tables: rows look alike (header and lines pairs) but each names its own
# entity set, lookups and lines; data, not logic to share.
ENTITIES: dict[str, Entity] = {
    e.logical: e
    for e in (
        Entity(
            "account",
            "accounts",
            {
                "parentaccountid": {"account": "parentaccountid"},
                "primarycontactid": {"contact": "primarycontactid"},
            },
        ),
        Entity("contact", "contacts", {"parentcustomerid": _customer("parentcustomerid")}),
        Entity("product", "products"),
        Entity(
            "opportunity",
            "opportunities",
            {
                "customerid": _customer("customerid"),
                "parentaccountid": {"account": "parentaccountid"},
                "parentcontactid": {"contact": "parentcontactid"},
            },
        ),
        Entity(
            "salesorder",
            "salesorders",
            {
                "customerid": _customer("customerid"),
                "opportunityid": {"opportunity": "opportunityid"},
                **_PRICING,
            },
            lines=("salesorderdetail", "salesorderid"),
        ),
        Entity(
            "salesorderdetail",
            "salesorderdetails",
            {"salesorderid": {"salesorder": "salesorderid"}, "productid": {"product": "productid"}},
        ),
        Entity(
            "invoice",
            "invoices",
            {
                "customerid": _customer("customerid"),
                "salesorderid": {"salesorder": "salesorderid"},
                **_PRICING,
            },
            lines=("invoicedetail", "invoiceid"),
        ),
        Entity(
            "invoicedetail",
            "invoicedetails",
            {"invoiceid": {"invoice": "invoiceid"}, "productid": {"product": "productid"}},
        ),
        Entity("incident", "incidents", {"customerid": _customer("customerid")}),
        Entity("transactioncurrency", "transactioncurrencies"),
        Entity(
            "pricelevel",
            "pricelevels",
            {"transactioncurrencyid": {"transactioncurrency": "transactioncurrencyid"}},
        ),
    )
}
BY_SET: dict[str, Entity] = {e.entity_set: e for e in ENTITIES.values()}


def entity(object: str) -> Entity:
    found = ENTITIES.get(object)
    if found is None:
        raise ConnectorError(
            f"Shuttle does not sync the Dataverse table {object!r} (known: "
            f"{', '.join(ENTITIES)}) — fix the flow definition",
            category=ErrorCategory.VALIDATION,
            system=SYSTEM,
            code="unknown_object",
        )
    return found
