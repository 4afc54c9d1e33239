"""Sage Intacct emulator: the XML gateway (API 3.0) at `/ia/xml/xmlgw.phtml`, for local runs
(`shuttle dev`, port 8202), tests and benchmarks.

Run it: `python -m sandbox.emulators.intacct --port 8202`. It accepts the sandbox defaults of
local.settings.example.json: sender SHUTTLE_SANDBOX / sandbox-sender-password, company
SANDBOX, user ws_shuttle / sandbox-user-password.

Wire behaviour follows /work/shared/reference/api-facts.md §2 and §6: the request and
response envelopes, three error levels (control, authentication, function), `<login>` and
`<sessionid>` authentication, `getAPISession` (answers this emulator's own URL as
`<endpoint>`), `create`/`update`/`delete`/`read`/`readByName`/`readByQuery`/`readMore`/
`query` on CUSTOMER, CONTACT, ITEM, SODOCUMENT, ARINVOICE, ARPAYMENT, ARADJUSTMENT with
server-maintained RECORDNO, WHENCREATED (master data) and WHENMODIFIED, the legacy document
functions (legacy.py), `get_araging` (aging.py), `transaction="true"` (all or nothing; the
others answer `aborted` with XL03000009). Where api-facts marks a behaviour UNCONFIRMED,
this emulator chose the following (change it here if a real company shows otherwise):

- **HTTP status** is 200 for every control, authentication and function failure, including
  malformed XML (control failure XL03000003 with `errormessage` directly under `response`).
  Replies are `text/xml; charset=UTF-8`.
- **Sender credentials** wrong: control-level failure XL03000006 ("Incorrect Intacct XML
  Partner ID or password."). **User credentials** wrong: authentication failure XL03000006
  "Sign-in information is incorrect" under `operation/errormessage`; no function runs.
- **Expired or unknown session id**: authentication failure XL03000006 with description2
  "Invalid session". Sessions last `session_timeout_s` (default 3600 s) and every call
  extends them; `sessiontimestamp`/`sessiontimeout` are written in UTC as `+00:00` (§6).
- **Concurrency limit** (GW-0010): more than `max_concurrent` (default 2, the base tier)
  requests in flight get HTTP 429 at once with a body `<response><errormessage><error>
  <errorno>GW-0010</errorno>...` (no control block: the gateway answers before the XML
  processor) and no Retry-After header. The fault layer's request-rate limit answers the
  same shape with a Retry-After.
- **Injected 5xx**: HTML error pages, as a load balancer in front of the gateway would.
- **Duplicate ID** (CUSTOMERID, CONTACTNAME, ITEMID; and DOCNO of SODOCUMENT, RECORDID of
  ARINVOICE/ARADJUSTMENT, DOCNUMBER of ARPAYMENT when a client gives one): BL34000061
  "Another Customer with the given value(s) X already exists" then BL01001973 "Could not
  create customer record!". A real company may allow duplicate document numbers: option
  `unique_document_numbers=false` lets document numbers repeat (default: unique).
- **Other errors**: a required field missing is BL03000018 "Required field NAME is missing."
  (CUSTOMER: CUSTOMERID, NAME; CONTACT: CONTACTNAME, PRINTAS; ITEM: ITEMID, NAME; documents:
  CUSTOMERID, SODOCUMENT also TRANSACTIONTYPE; lines ITEMID+QUANTITY / TRX_AMOUNT); a value
  over the field's length is BL03000021 naming the field; a reference to a missing customer
  or item is BL03000113 "Invalid Customer 'X' specified in field CUSTOMERID."; an update of a
  missing record is BL01001973 "Cannot update non-existing CUSTOMER with CUSTOMERID=X."; an
  unknown object is DL02000001; an unknown function or a bad element is XL03000003 at
  function level; an invalid readByQuery string or query filter is BL01001973 naming the
  problem; an expired or foreign `resultId` is GL04000109.
- **At most 100 functions** per request (`max_functions`; no vendor number exists) —
  more is a control failure XL03000003.
- **Records**: unknown fields are stored and returned as given (no field list per object);
  nested blocks (DISPLAYCONTACT/MAILADDRESS) stay nested. `read`/`readByName`/`readByQuery`/
  `readMore`/`create`/`update` list rows under the lower-case object name, `query` under the
  upper-case one (§6). A dotted field in `select`/`fields` (DISPLAYCONTACT.EMAIL1) is one
  element of that name. `read` of a RECORDNO that does not exist returns no row (success);
  `read` without keys returns the first 100 rows.
- **Documents** (SODOCUMENT, ARINVOICE, ARADJUSTMENT, ARPAYMENT) are written only by the
  legacy functions, as developer.intacct.com and the official SDK do it:
  create_sotransaction/update_sotransaction, create_invoice/update_invoice,
  create_aradjustment, create_arpayment (elements in DTD order, dates `<year><month><day>`;
  a missing, unknown or misplaced element is XL03000003 at function level; the answer is
  `<key>`: a sales order's DOCID "Sales Order-SO1", else the RECORDNO). The generic
  `create`/`update` of a document fails with BL01001973 "The create function does not
  support SODOCUMENT." (the real error text is unknown). Updates change lines by `line_num`
  (1-based) and add lines; they cannot remove one. Reads list lines as SODOCUMENTENTRIES/
  sodocumententry, ARINVOICEITEMS/arinvoiceitem, ARADJUSTMENTITEMS/aradjustmentitem with
  0-based LINE_NO; a seeded line element is matched whatever its case (ARINVOICEITEM too).
  Totals: SODOCUMENT TOTAL (each line PRICE x QUANTITY less its DISCOUNTPERCENT, rounded
  half-up to the cent: our choice), ARINVOICE/ARADJUSTMENT TOTALENTERED from the lines, and
  their TOTALDUE = TOTALENTERED - TOTALPAID. **Payments are applied** (api-facts §2.6):
  create_arpayment takes 0..N `arpaymentitem` (invoicekey = the invoice's RECORDNO, amount)
  right inside it, after its header elements; each raises that invoice's TOTALPAID, lowers
  TOTALDUE, sets STATE `Partially Paid` then `Paid` and stamps the invoice's WHENMODIFIED
  (our choice: unconfirmed that Intacct stamps it). A new invoice's STATE is `Posted` (our
  choice). Refused, all items or none, with BL01001973: an unknown invoice key, another
  customer's invoice, an amount over what is due, items over the payment amount (texts are
  ours). Reads list a payment's items as ARPAYMENTITEMS/arpaymentitem (INVOICEKEY, AMOUNT):
  our choice, as the generic ARPYMT lists ARPYMTDETAILS. Seeded payments with items are
  applied the same way. A sales
  order without a number gets DOCNO "SO00007" (its RECORDNO); DOCPARID is its
  transactiontype. On documents WHENCREATED is the document date the client gives.
  Lenient where the real DTD is not: invoice and adjustment lines need no glaccountno or
  accountlabel. `docparid` is ignored; generic `delete` works on every object (the real
  gateway deletes sales orders with delete_sotransaction only).
- **AR aging** `get_araging` ages ARINVOICE TOTALDUE from WHENCREATED (or WHENDUE with
  `useduedate`) to `asofdate`; an invoice not yet due counts in the first period; invoices
  dated after `asofdate` are left out; each customer lists every requested period; an
  unknown `customerid` gives an empty report. Answer layout: see aging.py.
- **Carriage returns** in values are written as `&#13;` (a raw CR would reach a parser as
  LF), so CR LF round-trips.
- **Timestamps**: WHENMODIFIED/WHENCREATED are `mm/dd/yyyy hh:mm:ss` in the company time
  zone (`timezone`, default America/Los_Angeles), whole seconds; filters on them are read in
  the same zone. `frozen_now` pins the write time (many records, one WHENMODIFIED); seeded
  rows may carry their own WHENMODIFIED.
- **Comparisons**: timestamps as times, numeric text as numbers, other text case-sensitive
  (readByQuery always, query unless `caseinsensitive`). readByQuery strings are quoted with
  `'`, a quote inside doubled (`''`). readByQuery pages are in RECORDNO order; its result set
  is a snapshot tied to the session (or login) that ran it, living `result_id_ttl_s`
  (600 s); `resultId` is present only while rows remain. `query` sorts by its `orderby`, then
  RECORDNO; default page size 100, at most 2000 (`readByQuery` 1000).
- Not emulated: `uniqueid="true"` replays, `lookup`, `readUserFormatting`, other legacy 2.1
  functions, AUDITHISTORY, entity-level (`locationid`) data separation.

Admin API (never counted or failed): the fault layer's `/_emulator/{knobs,faults,calls,
requests,reset,seed}` plus `/_emulator/options`, `/_emulator/sessions/expire`,
`/_emulator/results/expire` and `GET /_emulator/rows/{object}`. `/_emulator/calls` adds
`requests`, `functions` (count per function name), `writes`, `logins`, `sessions`,
`gateway_in_flight_max` (the most requests it saw at once, a refused one included: a client
that keeps to `max_concurrent` leaves it at most that), `gateway_rejected` (GW-0010 answers)
and `rows_examined` (rows query filters were evaluated on).

Benchmarking: the fault layer's `latency_ms` knob (`PUT /_emulator/knobs`, as on the
Dataverse and Creatio emulators) is each request's latency; the `function_time_ms` option
(`PUT /_emulator/options`) adds server time per function of the request, so a request of
100 functions at 300 ms + 5 ms each takes 0.8 s, in flight all along. Lookups by value do
not scan: `query` filters that are (or `and` together) an `equalto`/`in` on a non-timestamp
field, and ID lookups on create, update and readByName, go through hash indexes (index.py).
"""

from sandbox.emulators.intacct.app import GATEWAY_PATH, IntacctEmulator, create_app
from sandbox.emulators.intacct.store import Options

DEFAULT_PORT = 8202

__all__ = ["DEFAULT_PORT", "GATEWAY_PATH", "IntacctEmulator", "Options", "create_app"]
