"""The objects the Creatio emulator hosts, with column types (api-facts §1.8, DESIGN §1).

Kept apart from the connector's own object list on purpose: a column misspelt on one side
shows up as a failing test instead of agreeing with itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["guid", "lookup", "text", "datetime", "decimal", "integer", "boolean"]

ODATA_NAMESPACE = "Terrasoft.Configuration.OData"
EDM_TYPES: dict[Kind, str] = {
    "guid": "Edm.Guid",
    "lookup": "Edm.Guid",
    "text": "Edm.String",
    "datetime": "Edm.DateTimeOffset",
    "decimal": "Edm.Decimal",
    "integer": "Edm.Int32",
    "boolean": "Edm.Boolean",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    max_length: int | None = None  # text columns; None = unlimited ("Notes"-type)
    scale: int = 2  # decimal columns
    target: str | None = None  # lookup columns: the referenced object, if emulated
    required: bool = False

    @property
    def edm_type(self) -> str:
        return EDM_TYPES[self.kind]

    @property
    def navigation(self) -> str | None:
        """`StageId` -> `Stage`: the navigation property OData paths use."""
        if self.kind == "lookup" and self.name.endswith("Id"):
            return self.name[:-2]
        return None


@dataclass(frozen=True)
class EntitySchema:
    name: str
    columns: tuple[Column, ...]
    # Auto-numbered text column and its mask (Creatio's code masks), e.g. Order.Number.
    autonumber: tuple[str, str] | None = None
    # Child objects deleted together with a row of this object.
    cascade: tuple[tuple[str, str], ...] = ()
    by_name: dict[str, Column] = field(init=False, repr=False, compare=False)
    by_navigation: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {c.name: c for c in self.columns})
        object.__setattr__(
            self, "by_navigation", {c.navigation: c for c in self.columns if c.navigation}
        )

    @property
    def type_name(self) -> str:
        return f"{ODATA_NAMESPACE}.{self.name}"


SYSTEM = (
    Column("Id", "guid"),
    Column("CreatedOn", "datetime"),
    Column("CreatedById", "lookup", target="Contact"),
    Column("ModifiedOn", "datetime"),
    Column("ModifiedById", "lookup", target="Contact"),
    Column("ProcessListeners", "integer"),
)
SERVER_MAINTAINED = frozenset(
    {"Id", "CreatedOn", "CreatedById", "ModifiedOn", "ModifiedById", "ProcessListeners"}
)


def _text(name: str, length: int | None = 250, *, required: bool = False) -> Column:
    return Column(name, "text", max_length=length, required=required)


def _lookup(name: str, target: str | None = None) -> Column:
    return Column(name, "lookup", target=target)


def _money(name: str) -> Column:
    return Column(name, "decimal", scale=2)


def _entity(
    name: str,
    *columns: Column,
    autonumber: tuple[str, str] | None = None,
    cascade: tuple[tuple[str, str], ...] = (),
) -> EntitySchema:
    return EntitySchema(name, SYSTEM + columns, autonumber=autonumber, cascade=cascade)


def _lookup_table(name: str) -> EntitySchema:
    return _entity(name, _text("Name", required=True), _text("Description"))


ACCOUNT = _entity(
    "Account",
    _text("Name", required=True),
    _lookup("OwnerId", "Contact"),
    _lookup("OwnershipId"),
    _lookup("PrimaryContactId", "Contact"),
    _lookup("ParentId", "Account"),
    _lookup("IndustryId"),
    _text("Code", 50),
    _lookup("TypeId"),
    _text("Phone"),
    _text("AdditionalPhone"),
    _text("Fax"),
    _text("Web"),
    _lookup("AddressTypeId"),
    _text("Address", 500),
    _lookup("CityId"),
    _lookup("RegionId"),
    _text("Zip", 50),
    _lookup("CountryId"),
    _lookup("AccountCategoryId"),
    _lookup("EmployeesNumberId"),
    _lookup("AnnualRevenueId"),
    _text("Notes", None),
    _text("AlternativeName"),
    _text("GPSN"),
    _text("GPSE"),
    Column("Completeness", "integer"),
    _lookup("PriceListId"),
    _lookup("AccountLogoId"),
    _text("UsrErpFullName", 210),
    Column("UsrErpLastModified", "datetime"),
    Column("UsrActive", "boolean"),
    _money("UsrCurrBalPymts"),
    _money("UsrArOver30"),
    _money("UsrArOver60"),
    _money("UsrArOver90"),
)

CONTACT = _entity(
    "Contact",
    _text("Name", required=True),
    _lookup("OwnerId", "Contact"),
    _text("Dear"),
    _lookup("SalutationTypeId"),
    _lookup("GenderId"),
    _lookup("AccountId", "Account"),
    _lookup("DecisionRoleId"),
    _lookup("TypeId"),
    _lookup("JobId"),
    _text("JobTitle"),
    _lookup("DepartmentId"),
    Column("BirthDate", "datetime"),
    _text("Phone"),
    _text("MobilePhone"),
    _text("HomePhone"),
    _text("Skype"),
    _text("Email"),
    _lookup("AddressTypeId"),
    _text("Address", 500),
    _lookup("CityId"),
    _lookup("RegionId"),
    _text("Zip", 50),
    _lookup("CountryId"),
    Column("DoNotUseEmail", "boolean"),
    Column("DoNotUseCall", "boolean"),
    Column("DoNotUseSms", "boolean"),
    Column("DoNotUseFax", "boolean"),
    Column("DoNotUseMail", "boolean"),
    _text("Notes", None),
    _text("Facebook"),
    _text("LinkedIn"),
    _text("Twitter"),
    _lookup("PhotoId"),
    _text("Surname"),
    _text("GivenName"),
    _text("MiddleName"),
    Column("Confirmed", "boolean"),
    Column("IsNonActualEmail", "boolean"),
    Column("Completeness", "integer"),
    _lookup("LanguageId"),
    Column("Age", "integer"),
)

OPPORTUNITY = _entity(
    "Opportunity",
    _text("Title", required=True),
    _lookup("TypeId"),
    _lookup("StageId", "OpportunityStage"),
    Column("DueDate", "datetime"),
    _lookup("CloseReasonId"),
    _lookup("OwnerId", "Contact"),
    _text("Notes", None),
    _lookup("AccountId", "Account"),
    _lookup("ContactId", "Contact"),
    _lookup("CategoryId"),
    _lookup("MoodId"),
    Column("IsPrimary", "boolean"),
    _lookup("PartnerId", "Account"),
    _money("Budget"),
    Column("Probability", "integer"),
    _money("Amount"),
    _lookup("SourceId"),
    _lookup("ResponsibleDepartmentId"),
    _text("Weaknesses", None),
    _text("Strength", None),
    _text("Tactic", None),
    Column("CheckDate", "datetime"),
    _lookup("ProcessId"),
    _lookup("WinnerId", "Account"),
    Column("Completeness", "integer"),
    _text("Description", None),
    Column("UsrErpLastModified", "datetime"),
    _text("UsrSalesOrderNumber", 50),
    _text("UsrInvoiceNumber", 50),
    # Custom (docs/deploy.md): a standard Opportunity has no currency.
    _lookup("UsrCurrencyId", "Currency"),
    cascade=(("OpportunityProductInterest", "OpportunityId"),),
)

OPPORTUNITY_PRODUCT = _entity(
    "OpportunityProductInterest",
    _lookup("OpportunityId", "Opportunity"),
    _lookup("ProductId", "Product"),
    Column("Quantity", "decimal", scale=4),
    _lookup("UnitId"),
    _money("Price"),
    _money("Amount"),
    _text("Comment", None),
    # Custom (docs/deploy.md): standard opportunity products carry no discount.
    Column("UsrDiscountPercent", "decimal", scale=2),
)

ORDER = _entity(
    "Order",
    _text("Number", 50),
    _lookup("AccountId", "Account"),
    _lookup("ContactId", "Contact"),
    Column("Date", "datetime"),
    _lookup("OwnerId", "Contact"),
    _lookup("StatusId", "OrderStatus"),
    _lookup("PaymentStatusId"),
    _lookup("DeliveryStatusId"),
    Column("DueDate", "datetime"),
    Column("ActualDate", "datetime"),
    _lookup("CurrencyId", "Currency"),
    Column("CurrencyRate", "decimal", scale=4),
    _money("Amount"),
    _money("PaymentAmount"),
    _money("PrimaryAmount"),
    _money("PrimaryPaymentAmount"),
    _lookup("SourceOrderId", "Order"),
    _lookup("OpportunityId", "Opportunity"),
    _text("Notes", None),
    _text("DeliveryAddress", 500),
    _lookup("DeliveryTypeId"),
    _lookup("PaymentTypeId"),
    _text("ReceiverName"),
    _text("Comment", None),
    _text("ContactNumber"),
    autonumber=("Number", "ORD-{}"),
    cascade=(("OrderProduct", "OrderId"),),
)

ORDER_PRODUCT = _entity(
    "OrderProduct",
    _lookup("OrderId", "Order"),
    _lookup("ProductId", "Product"),
    _text("Name"),
    Column("Quantity", "decimal", scale=4),
    _lookup("UnitId"),
    _money("Price"),
    _money("Amount"),
    Column("DiscountPercent", "decimal", scale=2),
    _money("DiscountAmount"),
    _lookup("TaxId"),
    _money("TaxAmount"),
    _money("TotalAmount"),
    _text("Notes", None),
)

PRODUCT = _entity(
    "Product",
    _text("Name", required=True),
    _text("Code", 50),
    _lookup("UnitId"),
    _lookup("CurrencyId", "Currency"),
    _money("Price"),
    _lookup("TaxId"),
    _text("URL"),
    _lookup("TypeId"),
    Column("Active", "boolean"),
    _lookup("OwnerId", "Contact"),
    _text("Description", None),
    _text("ShortDescription", 500),
    _lookup("ProductSourceId"),
    _text("Notes", None),
    _lookup("CategoryId"),
    _lookup("TradeMarkId"),
    _text("GeneralConditions", None),
    _lookup("PictureId"),
    Column("IsArchive", "boolean"),
    _text("Benefits", None),
    Column("UsrErpLastModified", "datetime"),
)

INVOICE = _entity(
    "Invoice",
    _text("Number", 50),
    Column("StartDate", "datetime"),
    Column("DueDate", "datetime"),
    _lookup("AccountId", "Account"),
    _lookup("ContactId", "Contact"),
    _lookup("OrderId", "Order"),
    _lookup("OpportunityId", "Opportunity"),
    _lookup("ContractId"),
    _lookup("ProjectId"),
    _lookup("SupplierId", "Account"),
    _lookup("OwnerId", "Contact"),
    _lookup("PaymentStatusId", "InvoicePaymentStatus"),
    _lookup("CurrencyId", "Currency"),
    Column("CurrencyRate", "decimal", scale=4),
    _money("Amount"),
    _money("AmountWithoutTax"),
    _money("PaymentAmount"),
    _money("PrimaryAmount"),
    _money("PrimaryPaymentAmount"),
    _money("PrimaryAmountWithoutTax"),
    _lookup("SupplierBillingInfoId"),
    _lookup("CustomerBillingInfoId"),
    Column("RemindToOwner", "boolean"),
    Column("RemindToOwnerDate", "datetime"),
    _text("Notes", None),
    Column("UsrErpLastModified", "datetime"),
    autonumber=("Number", "INV-{}"),
    cascade=(("InvoiceProduct", "InvoiceId"),),
)

INVOICE_PRODUCT = _entity(
    "InvoiceProduct",
    _lookup("InvoiceId", "Invoice"),
    _lookup("ProductId", "Product"),
    _text("Name"),
    Column("Quantity", "decimal", scale=4),
    _lookup("UnitId"),
    _money("Price"),
    _money("Amount"),
    Column("DiscountPercent", "decimal", scale=2),
    _money("DiscountAmount"),
    _lookup("TaxId"),
    _money("TaxAmount"),
    _money("TotalAmount"),
)

USR_PAYMENT = _entity(
    "UsrPayment",
    _text("UsrName"),
    _text("UsrNumber", 50),
    _text("UsrRefNumber", 50),
    _lookup("UsrOpportunityId", "Opportunity"),
    _lookup("UsrInvoiceId", "Invoice"),
    _lookup("UsrAccountId", "Account"),
    _money("UsrAmount"),
    Column("UsrDate", "datetime"),
    _lookup("UsrCurrencyId", "Currency"),
)

USR_CREDIT_MEMO = _entity(
    "UsrCreditMemo",
    _text("UsrName"),
    _text("UsrRefNumber", 50),
    _money("UsrRemaining"),
    _lookup("UsrOpportunityId", "Opportunity"),
    _lookup("UsrInvoiceId", "Invoice"),
    _lookup("UsrAccountId", "Account"),
    _money("UsrAmount"),
    Column("UsrDate", "datetime"),
    _lookup("UsrCurrencyId", "Currency"),
)

CASE = _entity(
    "Case",
    _text("Number", 50),
    _text("Subject", 500, required=True),
    _text("Symptoms", None),
    _lookup("AccountId", "Account"),
    _lookup("ContactId", "Contact"),
    _lookup("StatusId", "CaseStatus"),
    _lookup("PriorityId"),
    Column("RegisteredOn", "datetime"),
    autonumber=("Number", "SR{:05d}"),
)

CURRENCY = _entity(
    "Currency",
    _text("Name", required=True),
    _text("Code", 50),
    _text("ShortName", 50),
    _text("Description"),
)

ENTITIES: dict[str, EntitySchema] = {
    e.name: e
    for e in (
        ACCOUNT,
        CONTACT,
        OPPORTUNITY,
        OPPORTUNITY_PRODUCT,
        ORDER,
        ORDER_PRODUCT,
        PRODUCT,
        INVOICE,
        INVOICE_PRODUCT,
        USR_PAYMENT,
        USR_CREDIT_MEMO,
        CASE,
        CURRENCY,
        _lookup_table("OpportunityStage"),
        _lookup_table("OrderStatus"),
        _lookup_table("InvoicePaymentStatus"),
        _lookup_table("CaseStatus"),
    )
}

# Rows every install has (names as in a standard Creatio; GUIDs are random per emulator
# instance, as they differ per install: clients must resolve them by Name).
LOOKUP_ROWS: dict[str, tuple[str, ...]] = {
    "OpportunityStage": (
        "Qualification",
        "Presentation",
        "Proposal",
        "Negotiation",
        "Closed won",
        "Closed lost",
    ),
    "OrderStatus": ("1. Draft", "2. Confirmation", "3. In progress", "4. Completed", "5. Canceled"),
    "InvoicePaymentStatus": ("Planned", "Partially paid", "Paid", "Canceled"),
    "CaseStatus": ("New", "In progress", "Resolved", "Closed"),
}
CURRENCIES: tuple[tuple[str, str], ...] = (("US Dollar", "USD"), ("Euro", "EUR"))
