"""The Creatio objects Shuttle reads and writes, with their columns (api-facts §1.8 and the
custom columns of DESIGN §1).

Creatio silently ignores columns it does not know in a write (api-facts §1.4, clio PR #1227),
so a misspelt mapping would lose data without an error. The client checks writes to these
objects against the lists below and refuses unknown columns with a validation error.
Objects not listed here are passed through unchecked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SYSTEM_COLUMNS = (
    "Id",
    "CreatedOn",
    "CreatedById",
    "ModifiedOn",
    "ModifiedById",
    "ProcessListeners",
)

CLOSED_WON = "Closed won"


@dataclass(frozen=True)
class CreatioObject:
    name: str
    columns: frozenset[str]
    # lookup column -> the object it references (for resolving names and dependencies)
    lookups: Mapping[str, str] = field(default_factory=dict)
    # natural keys a binding flow may match on, most specific first
    match_fields: tuple[str, ...] = ()

    def unknown(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if n not in self.columns]


def _object(
    name: str,
    columns: str,
    lookups: Mapping[str, str] | None = None,
    match: tuple[str, ...] = (),
) -> CreatioObject:
    names = frozenset(SYSTEM_COLUMNS) | frozenset(columns.split())
    return CreatioObject(name, names, dict(lookups or {}), match)


_LOOKUP_TABLE = "Name Description"

OBJECTS: dict[str, CreatioObject] = {
    o.name: o
    for o in (
        _object(
            "Account",
            "Name OwnerId OwnershipId PrimaryContactId ParentId IndustryId Code TypeId Phone "
            "AdditionalPhone Fax Web AddressTypeId Address CityId RegionId Zip CountryId "
            "AccountCategoryId EmployeesNumberId AnnualRevenueId Notes AlternativeName GPSN GPSE "
            "Completeness PriceListId AccountLogoId UsrErpFullName UsrErpLastModified UsrActive "
            "UsrCurrBalPymts UsrArOver30 UsrArOver60 UsrArOver90",
            {"PrimaryContactId": "Contact", "ParentId": "Account", "OwnerId": "Contact"},
            ("Code", "Name"),
        ),
        _object(
            "Contact",
            "Name OwnerId Dear SalutationTypeId GenderId AccountId DecisionRoleId TypeId JobId "
            "JobTitle DepartmentId BirthDate Phone MobilePhone HomePhone Skype Email "
            "AddressTypeId Address CityId RegionId Zip CountryId DoNotUseEmail DoNotUseCall "
            "DoNotUseSms DoNotUseFax DoNotUseMail Notes Facebook LinkedIn Twitter PhotoId "
            "Surname GivenName MiddleName Confirmed IsNonActualEmail Completeness LanguageId Age",
            {"AccountId": "Account", "OwnerId": "Contact"},
            ("Email", "Name"),
        ),
        _object(
            "Opportunity",
            "Title TypeId StageId DueDate CloseReasonId OwnerId Notes AccountId ContactId "
            "CategoryId MoodId IsPrimary PartnerId Budget Probability Amount SourceId "
            "ResponsibleDepartmentId Weaknesses Strength Tactic CheckDate ProcessId WinnerId "
            "Completeness Description UsrErpLastModified UsrSalesOrderNumber UsrInvoiceNumber "
            "UsrCurrencyId",
            {
                "StageId": "OpportunityStage",
                "AccountId": "Account",
                "ContactId": "Contact",
                "UsrCurrencyId": "Currency",
            },
            ("Title",),
        ),
        _object(
            "OpportunityProductInterest",
            "OpportunityId ProductId Quantity UnitId Price Amount Comment UsrDiscountPercent",
            {"OpportunityId": "Opportunity", "ProductId": "Product"},
        ),
        _object(
            "Order",
            "Number AccountId ContactId Date OwnerId StatusId PaymentStatusId DeliveryStatusId "
            "DueDate ActualDate CurrencyId CurrencyRate Amount PaymentAmount PrimaryAmount "
            "PrimaryPaymentAmount SourceOrderId OpportunityId Notes DeliveryAddress "
            "DeliveryTypeId PaymentTypeId ReceiverName Comment ContactNumber",
            {
                "AccountId": "Account",
                "ContactId": "Contact",
                "StatusId": "OrderStatus",
                "CurrencyId": "Currency",
                "OpportunityId": "Opportunity",
            },
            ("Number",),
        ),
        _object(
            "OrderProduct",
            "OrderId ProductId Name Quantity UnitId Price Amount DiscountPercent DiscountAmount "
            "TaxId TaxAmount TotalAmount Notes",
            {"OrderId": "Order", "ProductId": "Product"},
        ),
        _object(
            "Product",
            "Name Code UnitId CurrencyId Price TaxId URL TypeId Active OwnerId Description "
            "ShortDescription ProductSourceId Notes CategoryId TradeMarkId GeneralConditions "
            "PictureId IsArchive Benefits UsrErpLastModified",
            {"CurrencyId": "Currency"},
            ("Code", "Name"),
        ),
        _object(
            "Invoice",
            "Number StartDate DueDate AccountId ContactId OrderId OpportunityId ContractId "
            "ProjectId SupplierId OwnerId PaymentStatusId CurrencyId CurrencyRate Amount "
            "AmountWithoutTax PaymentAmount PrimaryAmount PrimaryPaymentAmount "
            "PrimaryAmountWithoutTax SupplierBillingInfoId CustomerBillingInfoId RemindToOwner "
            "RemindToOwnerDate Notes UsrErpLastModified",
            {
                "AccountId": "Account",
                "ContactId": "Contact",
                "OrderId": "Order",
                "OpportunityId": "Opportunity",
                "PaymentStatusId": "InvoicePaymentStatus",
                "CurrencyId": "Currency",
            },
            ("Number",),
        ),
        _object(
            "InvoiceProduct",
            "InvoiceId ProductId Name Quantity UnitId Price Amount DiscountPercent "
            "DiscountAmount TaxId TaxAmount TotalAmount",
            {"InvoiceId": "Invoice", "ProductId": "Product"},
        ),
        _object(
            "UsrPayment",
            "UsrName UsrNumber UsrRefNumber UsrOpportunityId UsrInvoiceId UsrAccountId "
            "UsrAmount UsrDate UsrCurrencyId",
            {
                "UsrOpportunityId": "Opportunity",
                "UsrInvoiceId": "Invoice",
                "UsrAccountId": "Account",
                "UsrCurrencyId": "Currency",
            },
            ("UsrNumber",),
        ),
        _object(
            "UsrCreditMemo",
            "UsrName UsrRefNumber UsrRemaining UsrOpportunityId UsrInvoiceId UsrAccountId "
            "UsrAmount UsrDate UsrCurrencyId",
            {
                "UsrOpportunityId": "Opportunity",
                "UsrInvoiceId": "Invoice",
                "UsrAccountId": "Account",
                "UsrCurrencyId": "Currency",
            },
            ("UsrRefNumber",),
        ),
        _object(
            "Case",
            "Number Subject Symptoms AccountId ContactId StatusId PriorityId RegisteredOn",
            {"AccountId": "Account", "ContactId": "Contact", "StatusId": "CaseStatus"},
            ("Number",),
        ),
        _object("OpportunityStage", _LOOKUP_TABLE, match=("Name",)),
        _object("OrderStatus", _LOOKUP_TABLE, match=("Name",)),
        _object("InvoicePaymentStatus", _LOOKUP_TABLE, match=("Name",)),
        _object("CaseStatus", _LOOKUP_TABLE, match=("Name",)),
        _object("Currency", "Name Code ShortName Description", match=("Code", "Name")),
    )
}
