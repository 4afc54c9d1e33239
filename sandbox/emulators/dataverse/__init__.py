"""Dataverse (Dynamics 365) Web API emulator, for local runs (`shuttle dev`, HTTPS on
127.0.0.1:8203 with the sandbox CA), tests and benchmarks.

`/api/data/v9.2/` hosts accounts, contacts, products, opportunities, salesorders,
salesorderdetails, invoices, invoicedetails, incidents, transactioncurrencies and pricelevels,
each with the alternate key `shuttle_creatio<table>id` (docs/deploy.md, binding columns).
Calls need a bearer token from the identity emulator (`sandbox/emulators/identity`, JWKS
fetched over HTTPS) whose `aud` is this server's URL.
Wire behaviour follows docs/wire-notes.md (D1-D6); where the vendor leaves something
open, this emulator chose (change it here if a real environment shows otherwise):

- **401** (missing, invalid, foreign-audience or expired token): empty body and
  `WWW-Authenticate: Bearer authorization_uri=..., resource_id=...`. Admin
  `POST /_emulator/tokens/expire` makes every token seen so far count as expired.
- **Create** `POST /<set>`: 204 + `OData-EntityId` (and `Location`); with
  `Prefer: return=representation` 201 + the row (`$select` applies). A client-chosen
  primary key is honoured; an existing one, or a taken alternate key, answers 412
  `0x80040237`.
- **PATCH** is an upsert (201/200 with `return=representation`, else 204); `If-Match: *`
  on a missing row 404 `0x80040217`; `If-None-Match: *` on an existing row 412
  `0x80040237` "A record with matching key values already exists."; `If-Match: W/"<v>"`
  mismatch 412 `0x80060882`. A missing alternate-key row answers "A record with the
  specified key values does not exist in <table> entity". Only the
  `shuttle_creatio<table>id` alternate key is defined; other key columns answer 400.
- **Writes**: a `_<lookup>_value` property answers 400 `0x80060888` "CRM do not support
  direct update of Entity Reference properties, Use Navigation properties instead."; an
  unknown property or a lookup written as a plain value: 400 `0x80060888` (OData's
  messages); a bind to a missing row 404 `0x80040217` "<table> With Id = <id> Does Not
  Exist"; a bind to the wrong table 400. Option sets outside their values: 400 `0x8004431A`
  with the documented message; text over its length 400 `0x80044331` (the documented text,
  two spaces after "occurred."); a bad Date or DateTimeOffset literal 400 `0x80060888`
  "Cannot convert the literal '...' to the expected type 'Edm.Date'." (the property is not
  named, as OData's reader does not; the literal is the JSON text sent), which includes a
  time part sent to a Date Only column (unconfirmed: send plain dates); dates before
  1753-01-01 and numbers out of range 400 `0x80040278`. Read-only columns (createdon,
  modifiedon, versionnumber, contact.fullname) sent by a client are ignored.
- **Documents and money** (our choices where the vendor docs are silent): `transactioncurrencies`
  holds USD and EUR from the start (an org always has its base currency); price lists
  (`pricelevels`) are seeded by tests. A salesorderdetail/invoicedetail naming a catalogue
  product (`productid`) on a document without `pricelevelid` answers 400 `0x80040265` (the
  real text is unconfirmed). A line's `baseamount` = priceperunit x quantity (half-up to the
  cent), `extendedamount` = that less `manualdiscountamount` plus `tax` (both read-only); each
  line write rolls the document's `totallineitemamount`, `totaltax` and `totalamount` (= their
  sum; no document discount or freight) up and stamps its modifiedon. Price list items are not
  emulated: lines carry their own price.
- **modifiedon** is stamped to the second on every write (so many rows share one);
  versionnumber grows on every write and is the `@odata.etag` `W/"<n>"`.
- **Reads**: string comparisons are case-insensitive; NULLs sort first; GUIDs order as
  lower-case text (SQL Server's uniqueidentifier order differs: clients must not rely on
  either). `$skip`, `$expand`, `$apply`, `$search` answer 400. Rows always order by the
  primary key last, so pages are stable.
- **Paging**: `Prefer: odata.maxpagesize=N` (default and maximum 5000), echoed in
  `Preference-Applied`; `@odata.nextLink` carries `$skiptoken=<cookie pagenumber=...
  pagingcookie=... istracking="False" />` whose inner cookie (doubly encoded in the URL) holds the
  last row's value of every sort column; the next page starts strictly after that row
  (keyset), so rows are neither skipped nor repeated when many share a sort value.
  `$top` caps the whole result. `$count=true` gives `@odata.count` (at most 5000).
- **Conditional GET**: `If-None-Match: W/"<v>"` on a row still at version v answers 304
  (no body); `If-None-Match: null` never matches.
- **Change tracking** (every table has it on): `Prefer: odata.track-changes` on a collection
  read answers every row (pages by `odata.maxpagesize`; `@odata.nextLink` with a `$skiptoken`
  cookie marked `istracking="True"`) and, on the last page, `@odata.deltaLink` with
  `$deltatoken=<version>!<MM/dd/yyyy HH:mm:ss>` (UTC); `@odata.context` ends in
  `<set>(<select>)/$delta`; `Preference-Applied: odata.track-changes`. A delta link answers
  the rows written since (current values, in write order) and deleted rows as
  `{"@odata.context": ".../$metadata#<set>/$deletedEntity", "id": ..., "reason": "deleted"}`.
  `$filter`, `$orderby`, `$expand`, `$top` and `$count` answer 400; a token older than 7 days
  (ExpireChangeTrackingInDays' default) or unreadable answers 400 `0x80060888` (the real
  code is not documented).
- **$batch**: multipart/mixed, at most 1000 operations (400 `0x8005F103` beyond);
  change sets are atomic (a failing operation rolls back the change set, whose answer is
  then only that failing operation's response, with its Content-ID); every change-set part
  needs a `Content-ID` (OData 4.0; 400 without); `$n` references to earlier change-set
  results, and a `$n` naming no earlier part answers the documented 400 "Content-ID
  Reference: '$n' does not exist in the batch context."; GET inside a change set answers
  400. Without `Prefer: odata.continue-on-error` processing stops at the first failure and
  the batch answers 400 (body still multipart); otherwise 200.
- **Service protection** (`/_emulator/limits`: window, requests, execution ms, concurrency;
  the real 300 s / 6000 / 1,200,000 ms / 52 by default) per token `oid`: answers 429 with
  `Retry-After` (whole seconds: until the window has room again; 1 s for concurrency) and
  codes `0x80072322` / `0x80072321` / `0x80072326`; a throttled call is not run and not
  counted in the window. A `$batch` counts as one request; its duration counts as
  execution time (D5). A call is refused when the window's count or execution time had
  already reached the limit when it arrived; calls still running are not counted, so the
  one let in may take the window past the limit (the vendor says limits are exceeded
  before they take effect). Successful answers carry
  `x-ms-ratelimit-burst-remaining-xrm-requests` (requests left in the window, this one
  counted) and `x-ms-ratelimit-time-remaining-xrm-requests` (execution milliseconds left
  when the call arrived; the real unit is unconfirmed). `/_emulator/calls` reports
  `protection.usage`: the busiest user's share of each limit in the steady state (from one
  window after its first call to its last answer) and the binding limit.
- Injected faults: 429 / 5xx in Dataverse's JSON error shape.
- Not emulated: deep insert, `$expand`, `$metadata` and the `EntityDefinitions` metadata
  reads, single-property PUT/DELETE, `$ref`, duplicate detection, statecode/statuscode
  pairing rules, currencies, error annotations (`Prefer: odata.include-annotations` on
  errors), the `totalrecordcount` annotations of `$count`, 413 payload limits.

Benchmarking, as on the Intacct emulator: the `latency_ms` knob (`PUT /_emulator/knobs`,
plus `latency_jitter_ms`) is each request's latency, `operation_ms` (`PUT
/_emulator/options`) the server time of each operation (a `$batch` takes it once per
operation inside, like Intacct's `function_time_ms`), and `/_emulator/calls` reports
`max_in_flight`, the most requests it saw at once.

Admin API (never counted, throttled or failed): the fault layer's `/_emulator/{knobs,
faults,calls,requests,reset,seed}` plus `/_emulator/limits`, `/_emulator/options`,
`/_emulator/tokens/expire` and
`/_emulator/rows/{table}`.
"""

from sandbox.emulators.dataverse.app import DataverseEmulator, Options, create_app
from sandbox.emulators.dataverse.protection import Limits

DEFAULT_PORT = 8203

__all__ = ["DEFAULT_PORT", "DataverseEmulator", "Limits", "Options", "create_app"]
