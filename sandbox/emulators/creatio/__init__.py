"""Creatio emulator: forms login, OAuth client credentials and the OData 4 service, for
local runs (`shuttle dev`, port 8201), tests and benchmarks.

Run it: `python -m sandbox.emulators.creatio --port 8201`. It accepts the sandbox defaults
of local.settings.example.json: user Supervisor / Supervisor, OAuth client
shuttle-sandbox / sandbox-client-secret, identity service on the same host.

Wire behaviour follows /work/shared/reference/api-facts.md §1 and §6. Where that marks a
behaviour UNCONFIRMED, this emulator chose the following (change it here if a real site
shows otherwise):

- **Create** (`POST {base}Object`) answers 201 with the entity (Id included) and a
  `Location` header; `Prefer: return=minimal` gives 204. A client-chosen `Id` is honoured.
  PATCH and DELETE answer 204; a missing key answers 404 with an OData error body.
- **Duplicate Id** on create: 500 with the ASP.NET HttpError body whose `ExceptionMessage`
  is SQL Server's "Violation of PRIMARY KEY constraint ... duplicate key ..." (an unhandled
  database exception), not a 4xx. Foreign-key violations ("conflicted with the FOREIGN KEY
  constraint", lookups pointing at a missing emulated row) and text longer than the column
  ("String or binary data would be truncated in table ..., column '...'") take the same
  shape. A DELETE of a row still referenced answers the REFERENCE-constraint variant, except
  product lines, which are deleted with their opportunity / order / invoice.
- **Required columns** (Account.Name, Contact.Name, Opportunity.Title, Product.Name,
  Case.Subject) left empty: 400 OData error `Column "Name" of object "Account" must be
  filled in.`
- **Unknown properties** in POST and PATCH bodies are ignored (the documented PATCH quirk,
  applied to POST as well); an unknown column in `$select`, `$filter` or `$orderby` is a 400
  OData error. System columns (Id on PATCH, CreatedOn, ModifiedOn, CreatedById, ModifiedById)
  sent by a client are ignored.
- **error.code** in OData errors is an empty string; `error.message` carries the message
  Microsoft's OData library uses for the same mistake.
- **CSRF**: a cookie-session call whose `BPMCSRF` header is missing or differs from the
  session's token answers 401 (empty body). An unknown or expired session also answers 401;
  option `expired_session="redirect"` answers 302 to `/Login/NuiLogin.aspx?ReturnUrl=...`
  instead (the behaviour some clients detect). Sessions slide: each call extends them by
  `session_timeout_s` (default 3600 s).
- **OAuth**: `/connect/token` takes client_secret_post or client_secret_basic; errors are 400
  `{"error": "invalid_client" | "unsupported_grant_type"}`; `expires_in` is
  `token_lifetime_s` (default 3600). A missing, unknown or expired bearer token answers 401
  with `WWW-Authenticate: Bearer error="invalid_token"`. Bearer calls need no BPMCSRF.
- **Datetime `$filter` literals** are the OData 4 unquoted form (`ModifiedOn gt
  2024-01-01T00:00:00Z`, up to 7 fractional digits); a quoted string or a bare date compared
  with a DateTimeOffset column is a 400 type error. Timestamps are written in UTC with up to
  7 fractional digits, trailing zeros trimmed (as Microsoft's OData library writes them).
  `ModifiedOn` changes only when a save changes a value.
- **Comparisons** follow SQL Server as Creatio uses it: strings compare case-insensitively;
  GUIDs order and compare as `uniqueidentifier` does (last byte group first); NULLs sort
  first; only `eq null` / `ne null` are true against NULL; an empty lookup and the empty date
  are NULL in filters (they are written as the empty GUID / `0001-01-01T00:00:00Z`). Rows
  that tie on every `$orderby` key come back in a random order on each call (option
  `shuffle_ties`); without `$orderby` rows come in primary-key order.
- **Paging**: at most `max_rows` (20,000) rows per answer, silently cut, unless option
  `server_page_size` is set: then the answer carries `@odata.nextLink`, in the `$skip` form
  (default) or, with `next_link_style="skiptoken"`, an opaque `$skiptoken` holding the last
  row's sort values (the key is appended to `$orderby`).
- **$batch**: JSON format only (`multipart/mixed` answers 400). At most 100 requests. The
  answer is 200 `{"responses": [{"id", "status", "headers", "body"}]}`; without
  `Prefer: continue-on-error` the requests after the first 4xx/5xx are not executed and get
  no entry. Atomicity groups are not emulated.
- **Throttling** (none documented): the fault layer's rate limit answers 429 with
  `Retry-After` (whole seconds) and `{"Message": "Too many requests."}`. Injected 500s carry a
  deadlock-victim HttpError; 502/503/504 are IIS/gateway HTML pages.
- **Unknown object** (entity set): IIS's HTML 404 page. Other unknown routes: Web API's
  routing 404 JSON (`Message`, `MessageDetail`); a method a resource does not allow: 405 with
  `Message`.
- Standard lookup rows (OpportunityStage "Closed won", OrderStatus, InvoicePaymentStatus,
  CaseStatus, Currency) get random GUIDs per emulator instance: clients resolve them by name.
- Not emulated: `$expand` (400), `$search`/`$apply`, multipart batches, NTLM, the .NET Core
  `/odata/` base path, business processes.

Benchmarking, as on the Intacct emulator: the `latency_ms` knob (`PUT /_emulator/knobs`,
plus `latency_jitter_ms`) is each request's latency, and `/_emulator/calls` reports
`max_in_flight`, the most requests it saw at once.

Admin API (never counted or failed): the fault layer's `/_emulator/{knobs,faults,calls,
requests,reset,seed}` plus `/_emulator/options`, `/_emulator/sessions/expire`,
`/_emulator/tokens/expire` and `/_emulator/lookups`.
"""

from sandbox.emulators.creatio.app import CreatioEmulator, create_app
from sandbox.emulators.creatio.store import Options

DEFAULT_PORT = 8201

__all__ = ["DEFAULT_PORT", "CreatioEmulator", "Options", "create_app"]
