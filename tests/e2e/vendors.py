"""The emulators as a user of each vendor sees them: Creatio through its OData 4 service (a
cookie session), Sage Intacct through its XML gateway (login per request). The e2e tests
read results and make users' edits here; the emulators' admin API only seeds and counts."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree as ET

import httpx

from tests.support import intacct as intacct_support
from tests.support.creatio import login


class CreatioOData:
    """A signed-in OData client; decimals come back as Decimal, every digit kept."""

    def __init__(self, url: str) -> None:
        self.client, _ = login(url)

    def close(self) -> None:
        self.client.close()

    def _json(self, response: httpx.Response) -> Any:
        assert response.status_code == 200, response.text
        return json.loads(response.text, parse_float=Decimal)

    def get(self, entity: str, record_id: str) -> dict[str, Any]:
        return self._json(self.client.get(f"/0/odata/{entity}({record_id})"))  # type: ignore[no-any-return]

    def where(self, entity: str, **equals: str) -> list[dict[str, Any]]:
        """The rows whose fields equal the given values (all of them): a GUID is an OData
        literal of its own, a text is quoted."""
        clauses = " and ".join(f"{k} eq {_literal(v)}" for k, v in equals.items())
        params = {"$filter": clauses} if clauses else {}
        return self._json(self.client.get(f"/0/odata/{entity}", params=params))["value"]  # type: ignore[no-any-return]

    def one(self, entity: str, **equals: str) -> dict[str, Any]:
        (row,) = self.where(entity, **equals)
        return row

    def patch(self, entity: str, record_id: str, changes: dict[str, Any]) -> None:
        response = self.client.patch(f"/0/odata/{entity}({record_id})", json=changes)
        assert response.status_code in (200, 204), response.text

    def delete(self, entity: str, record_id: str) -> None:
        response = self.client.delete(f"/0/odata/{entity}({record_id})")
        assert response.status_code == 204, response.text


def _literal(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return "'" + value.replace("'", "''") + "'"


def _value(element: ET.Element) -> Any:
    """An element as text, or as a dict of its children (a repeated name: a list)."""
    children = list(element)
    if not children:
        return element.text or ""
    out: dict[str, Any] = {}
    for child in children:
        value = _value(child)
        if child.tag in out:
            held = out[child.tag]
            out[child.tag] = [*held, value] if isinstance(held, list) else [held, value]
        else:
            out[child.tag] = value
    return out


class IntacctXml:
    """Functions sent to the XML gateway, one request each, signed in as the API user."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, body: str) -> list[dict[str, Any]]:
        """One function; the rows of its <data> (empty for a write's bare <key>)."""
        status, answer = intacct_support.post(self.url, intacct_support.envelope(body))
        assert status == 200
        (result,) = intacct_support.results(answer)
        assert result.findtext("status") == "success", ET.tostring(result, encoding="unicode")
        data = result.find("data")
        return [] if data is None else [_value(row) for row in data]

    def query(self, obj: str, query: str = "") -> list[dict[str, Any]]:
        return self.call(
            f"<readByQuery><object>{obj}</object><fields>*</fields><query>{query}</query>"
            "<pagesize>1000</pagesize></readByQuery>"
        )

    def one(self, obj: str, query: str) -> dict[str, Any]:
        (row,) = self.query(obj, query)
        return row

    def update(self, obj: str, fields: dict[str, str]) -> None:
        inner = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
        self.call(f"<update><{obj}>{inner}</{obj}></update>")

    def delete(self, obj: str, recordno: str) -> None:
        self.call(f"<delete><object>{obj}</object><keys>{recordno}</keys></delete>")


def legacy_date(tag: str, month: int, day: int, year: int = 2026) -> str:
    """A legacy function's date element (`<year><month><day>`)."""
    return f"<{tag}><year>{year}</year><month>{month:02d}</month><day>{day:02d}</day></{tag}>"


def lines(entries: Any) -> list[dict[str, Any]]:
    """A document's lines as read: one line comes back as a dict, several as a list."""
    return entries if isinstance(entries, list) else [entries]
