"""What the connector packages offer, on purpose: each package's `__all__` and each client's
public methods are the lists below (a method added or dropped changes this test with it),
one InvalidValue, one Retry-After parser, Creatio's auth as an httpx.Auth (the configs as
settings classes: tests/connectors/test_connector_settings.py)."""

from __future__ import annotations

import email.utils
import importlib
import inspect
import time
import uuid
from decimal import Decimal

import httpx
import pytest

from shared.connectors import retry
from shared.connectors.creatio import CreatioClient, CreatioConfig
from shared.connectors.creatio import errors as creatio_errors
from shared.connectors.creatio.odata import literal as creatio_literal
from shared.connectors.dataverse import DataverseClient, DataverseConfig
from shared.connectors.dataverse import errors as dataverse_errors
from shared.connectors.dataverse.exact_json import dumps_exact
from shared.connectors.errors import InvalidValue
from shared.connectors.http import ConnectorClient
from shared.connectors.intacct import IntacctClient
from shared.connectors.intacct import errors as intacct_errors
from shared.connectors.intacct.wire import format_value

PACKAGES = {
    "creatio": {
        "CLOSED_WON",
        "OBJECTS",
        "BatchOperation",
        "BatchOutcome",
        "CreatioChangeCursor",
        "CreatioChangePage",
        "CreatioClient",
        "CreatioConfig",
        "CreatioObject",
        "Record",
        "WriteResult",
        "changed_columns",
        "deterministic_id",
        "normalise",
    },
    "intacct": {
        "OBJECTS",
        "Call",
        "IntacctClient",
        "IntacctConfig",
        "IntacctObject",
        "IntacctSync",
        "QueryPage",
        "derived_id",
        "functions",
    },
    "dataverse": {
        "SYSTEM",
        "BatchOperation",
        "BatchResult",
        "ChangeSet",
        "DataverseChangesPage",
        "DataverseClient",
        "DataverseConfig",
        "Page",
        "WriteResult",
    },
}
SHARED = {"retrying", "aclose"}
CLIENTS: dict[type[ConnectorClient], set[str]] = {
    CreatioClient: {
        "check",
        "get",
        "query",
        "find",
        "count",
        "lookup_id",
        "open_changes",
        "read_page",
        "pages",
        "read_changes",
        "create",
        "update",
        "delete",
        "create_many",
        "batch",
        "from_settings",
        "auth",
        "limiter",
    },
    IntacctClient: {
        "check",
        "execute",
        "call",
        "raise_for",
        "create",
        "update",
        "delete",
        "read",
        "read_by_name",
        "read_by_query",
        "read_more",
        "query",
        "from_settings",
        "logins",
    },
    DataverseClient: {
        "check",
        "who_am_i",
        "get",
        "query",
        "next_page",
        "iter_records",
        "track_changes",
        "next_changes",
        "create",
        "upsert",
        "update",
        "delete",
        "batch",
        "url",
        "from_settings",
    },
}


@pytest.mark.parametrize("system", sorted(PACKAGES))
def test_each_package_exports_what_it_means_to(system: str) -> None:
    package = importlib.import_module(f"shared.connectors.{system}")
    assert set(package.__all__) == PACKAGES[system]
    assert all(hasattr(package, name) for name in package.__all__)


@pytest.mark.parametrize("client", list(CLIENTS), ids=lambda c: c.__name__)
def test_each_client_has_the_public_methods_it_documents(client: type[ConnectorClient]) -> None:
    public = {
        name
        for name, _ in inspect.getmembers(client)
        if not name.startswith("_") and name != "system"
    }
    assert public == CLIENTS[client] | SHARED
    assert issubclass(client, ConnectorClient)


def test_every_connector_refuses_a_value_with_the_one_invalid_value() -> None:
    refusals = [
        ("creatio", lambda: creatio_literal(float("nan"))),
        ("dataverse", lambda: dumps_exact({"amount": Decimal("NaN")})),
        ("intacct", lambda: format_value(object(), "AMOUNT")),
    ]
    for system, refuse in refusals:
        with pytest.raises(InvalidValue) as raised:
            refuse()
        assert raised.value.system == system
        assert raised.value.category.value == "validation"


def test_one_retry_after_parser_reads_seconds_and_http_dates() -> None:
    for module in (creatio_errors, intacct_errors, dataverse_errors):
        assert module.retry_after_seconds is retry.retry_after_seconds
    assert retry.retry_after_seconds("7") == 7.0
    assert retry.retry_after_seconds("1.5") == 1.5
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry.retry_after_seconds(when)
    assert seconds is not None and 25 <= seconds <= 31
    assert retry.retry_after_seconds("soon") is None and retry.retry_after_seconds("") is None
    answer = httpx.Response(429, headers={"Retry-After": when})
    assert dataverse_errors.retry_after(answer) is not None  # an HTTP date, not just digits


@pytest.mark.parametrize("auth", ["forms", "oauth"])
async def test_creatio_auth_is_an_httpx_auth(auth: str) -> None:
    config = CreatioConfig(
        url="https://x.creatio.com",
        auth=auth,
        username="u",
        password="p",  # type: ignore[arg-type]
        identity_url="https://id.x",
        client_id="c",
        client_secret="s",  # type: ignore[arg-type]
    )
    async with CreatioClient(config) as client:
        assert isinstance(client.auth, httpx.Auth)


def test_the_dataverse_certificate_wins_over_a_secret_in_the_config_itself() -> None:
    config = DataverseConfig(
        url="https://org.crm.dynamics.com",
        tenant_id="t",
        client_id=str(uuid.uuid4()),
        client_secret="s",
        client_cert="/keys/app.pem",  # type: ignore[arg-type]
    )
    assert config.client_secret is None and config.client_cert is not None
