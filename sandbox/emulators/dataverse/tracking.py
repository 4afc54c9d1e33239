"""Change tracking (docs/wire-notes.md D4): `Prefer: odata.track-changes` on a collection read, and
the `@odata.deltaLink` it ends with.

Every write stamps a row with the store's next version and every delete leaves a tombstone
with one, so "what changed since token V" is the rows and tombstones above V in version
order. Pages (`odata.maxpagesize`) continue from the last version served, so a row written
while the client pages moves to a later page and is never lost; the delta link of the last
page carries the store's version at that moment.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from defusedxml import ElementTree

from sandbox.emulators.dataverse.query import parse_select
from sandbox.emulators.dataverse.schema import Table
from sandbox.emulators.dataverse.wire import bad_request

if TYPE_CHECKING:
    from sandbox.emulators.dataverse.webapi import Call, Result, WebApi

TRACK_CHANGES = "odata.track-changes"
# Not allowed with change tracking ($select is).
UNSUPPORTED = ("$filter", "$orderby", "$expand", "$top", "$count")
# The org setting ExpireChangeTrackingInDays (default 7): older tokens need a full sync.
TOKEN_DAYS = 7
_STAMP = "%m/%d/%Y %H:%M:%S"
_QUERY_SAFE = ",()=$'"


def wanted(params: dict[str, str], prefs: dict[str, str]) -> bool:
    """A change-tracking read: the preference, a delta link, or one of their next links."""
    return (
        TRACK_CHANGES in prefs
        or "$deltatoken" in params
        or 'istracking="True"' in params.get("$skiptoken", "")
    )


def delta_token(version: int, now: dt.datetime) -> str:
    """`<version>!<MM/dd/yyyy HH:mm:ss>` (UTC), as Dataverse writes them."""
    return f"{version}!{now.astimezone(dt.UTC).strftime(_STAMP)}"


def _read_token(text: str, now: dt.datetime) -> int:
    version, sep, stamp = text.partition("!")
    try:
        if not sep:
            raise ValueError(text)
        issued = dt.datetime.strptime(stamp, _STAMP).replace(tzinfo=dt.UTC)
        number = int(version)
    except ValueError:
        raise bad_request(f"The delta token '{text}' is not valid.") from None
    if now - issued > dt.timedelta(days=TOKEN_DAYS):
        raise bad_request(
            f"The delta token has expired (older than {TOKEN_DAYS} days): read the table again "
            "with Prefer: odata.track-changes for a full sync."
        )
    return number


def _write_cookie(page_number: int, last_version: int) -> str:
    inner = quote(
        f'<cookie page="{page_number - 1}"><versionnumber last="{last_version}" /></cookie>',
        safe="",
    )
    return f'<cookie pagenumber="{page_number}" pagingcookie="{inner}" istracking="True" />'


def _read_cookie(token: str) -> tuple[int, int]:
    try:
        outer = ElementTree.fromstring(token)
        inner = ElementTree.fromstring(unquote(outer.get("pagingcookie", "")))
        element = inner.find("versionnumber")
        if element is None:
            raise ValueError(token)
        return int(outer.get("pagenumber", "1")), int(element.get("last", ""))
    except (ElementTree.ParseError, ValueError, TypeError):
        raise bad_request("The $skiptoken is not valid for this query.") from None


def read(api: WebApi, table: Table, call: Call, page_size: int) -> Result:
    from sandbox.emulators.dataverse.webapi import Result

    params = dict(call.query)
    for name in UNSUPPORTED:
        if name in params:
            raise bad_request(f"The query option {name} is not supported with change tracking.")
    select = parse_select(table, params.get("$select"))
    now = api.store.clock()
    since = _read_token(params["$deltatoken"], now) if "$deltatoken" in params else None
    page_number, after = 1, since or 0
    if "$skiptoken" in params:
        page_number, after = _read_cookie(params["$skiptoken"])
    # The first read lists the rows there are; a delta also lists what was deleted.
    items = api.store.changes(table, after, deletes=since is not None)
    page, rest = items[:page_size], items[page_size:]
    value: list[dict[str, Any]] = []
    for _, item in page:
        if isinstance(item, str):
            value.append(
                {
                    "@odata.context": f"{call.base}$metadata#{table.entity_set}/$deletedEntity",
                    "id": item,
                    "reason": "deleted",
                }
            )
        else:
            value.append(api.render(table, item, select, call.headers))
    columns = f"({','.join(select)})" if select else ""
    body: dict[str, Any] = {
        "@odata.context": f"{call.base}$metadata#{table.entity_set}{columns}/$delta",
        "value": value,
    }
    kept = [(k, v) for k, v in call.query if k == "$select"]
    if rest:
        if since is not None:
            kept.append(("$deltatoken", params["$deltatoken"]))
        kept.append(("$skiptoken", _write_cookie(page_number + 1, page[-1][0])))
        body["@odata.nextLink"] = _link(call, table, kept)
    else:
        kept.append(("$deltatoken", delta_token(api.store.version, now)))
        body["@odata.deltaLink"] = _link(call, table, kept)
    return Result(200, body)


def _link(call: Call, table: Table, query: list[tuple[str, str]]) -> str:
    def encode(name: str, value: str) -> str:
        safe = _QUERY_SAFE if name == "$select" else ""
        return f"{name}={quote(value, safe=safe)}"

    return f"{call.base}{table.entity_set}?" + "&".join(encode(k, v) for k, v in query)
