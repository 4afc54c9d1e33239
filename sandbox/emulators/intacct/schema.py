"""The objects the emulator hosts: key fields, required fields, references and lines."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Lines:
    container: str  # e.g. SODOCUMENTENTRIES
    element: str  # e.g. sodocumententry
    required: tuple[str, ...] = ()
    references: dict[str, str] = field(default_factory=dict)  # line field -> object


@dataclass(frozen=True)
class ObjectSchema:
    name: str
    # The user key: unique within the object, located by update/readByName. None for
    # documents numbered only by RECORDNO.
    id_field: str | None
    required: tuple[str, ...] = ()
    max_lengths: dict[str, int] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)  # field -> object (by id_field)
    lines: Lines | None = None
    # Header fields summed from the lines (TOTALENTERED of an invoice...).
    totals: dict[str, str] = field(default_factory=dict)

    @property
    def lower(self) -> str:
        return self.name.lower()


OBJECTS: dict[str, ObjectSchema] = {
    schema.name: schema
    for schema in (
        ObjectSchema(
            "CUSTOMER",
            "CUSTOMERID",
            required=("CUSTOMERID", "NAME"),
            max_lengths={"CUSTOMERID": 20, "NAME": 100},
        ),
        ObjectSchema(
            "CONTACT",
            "CONTACTNAME",
            required=("CONTACTNAME", "PRINTAS"),
            max_lengths={"CONTACTNAME": 200, "PRINTAS": 200},
        ),
        ObjectSchema(
            "ITEM",
            "ITEMID",
            required=("ITEMID", "NAME"),
            max_lengths={"ITEMID": 30, "NAME": 100},
        ),
        ObjectSchema(
            "SODOCUMENT",
            "DOCNO",
            required=("TRANSACTIONTYPE", "CUSTOMERID"),
            references={"CUSTOMERID": "CUSTOMER"},
            lines=Lines(
                "SODOCUMENTENTRIES",
                "sodocumententry",
                required=("ITEMID", "QUANTITY"),
                references={"ITEMID": "ITEM"},
            ),
            # Each line PRICE*QUANTITY less its DISCOUNTPERCENT, rounded to the cent
            # (store._line_totals).
            totals={"TOTAL": "PRICE*QUANTITY"},
        ),
        ObjectSchema(
            "ARINVOICE",
            "RECORDID",
            required=("CUSTOMERID",),
            references={"CUSTOMERID": "CUSTOMER"},
            lines=Lines("ARINVOICEITEMS", "arinvoiceitem", required=("TRX_AMOUNT",)),
            # TOTALDUE is TOTALENTERED less TOTALPAID (store._totals).
            totals={"TOTALENTERED": "TRX_AMOUNT"},
        ),
        ObjectSchema(
            "ARPAYMENT",
            "DOCNUMBER",
            required=("CUSTOMERID", "PAYMENTAMOUNT"),
            references={"CUSTOMERID": "CUSTOMER"},
            # The invoices it pays (create_arpayment's arpaymentitem; store._apply_payment).
            lines=Lines("ARPAYMENTITEMS", "arpaymentitem", required=("INVOICEKEY", "AMOUNT")),
        ),
        ObjectSchema(
            "ARADJUSTMENT",
            "RECORDID",
            required=("CUSTOMERID",),
            references={"CUSTOMERID": "CUSTOMER"},
            lines=Lines("ARADJUSTMENTITEMS", "aradjustmentitem", required=("TRX_AMOUNT",)),
            totals={"TOTALENTERED": "TRX_AMOUNT"},
        ),
    )
}

# Fields the server writes; a client's values for them are ignored. On documents
# WHENCREATED is the document's date, which the client gives (legacy datecreated).
SERVER_FIELDS = frozenset({"RECORDNO", "WHENCREATED", "WHENMODIFIED"})
DOCUMENT_SERVER_FIELDS = frozenset({"RECORDNO", "WHENMODIFIED"})
DOCUMENTS = frozenset({"SODOCUMENT", "ARINVOICE", "ARADJUSTMENT", "ARPAYMENT"})


def server_fields(schema: ObjectSchema) -> frozenset[str]:
    return DOCUMENT_SERVER_FIELDS if schema.name in DOCUMENTS else SERVER_FIELDS
