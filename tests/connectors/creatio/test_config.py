"""Settings -> connector configuration, and the helpers the engine calls."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.connectors.creatio import (
    OBJECTS,
    CreatioClient,
    CreatioConfig,
    changed_columns,
    deterministic_id,
)
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory
from shared.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[3] / "local.settings.example.json"


def _settings(**values: str) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


def test_the_sandbox_defaults_configure_both_modes() -> None:
    values = json.loads(EXAMPLE.read_text())["Values"]
    forms = CreatioConfig.from_settings(_settings(**values))
    assert (forms.url, forms.auth, forms.username) == (
        "http://127.0.0.1:8201",
        "forms",
        "Supervisor",
    )
    assert forms.odata_base == "http://127.0.0.1:8201/0/odata/"
    oauth = CreatioConfig.from_settings(_settings(**{**values, "CREATIO_AUTH": "oauth"}))
    assert oauth.token_url == "http://127.0.0.1:8201/connect/token"
    assert oauth.client_secret is not None
    assert "sandbox-client-secret" not in repr(oauth)  # secrets never print


async def test_from_settings_builds_a_client_with_an_injected_transport() -> None:
    values = json.loads(EXAMPLE.read_text())["Values"]
    import httpx

    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    client = CreatioClient.from_settings(_settings(**values), transport=transport)
    async with client:
        assert client.config.max_in_flight == client.limiter.max_in_flight


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({}, "CREATIO_URL"),
        ({"CREATIO_URL": "https://x.creatio.com"}, "CREATIO_USERNAME, CREATIO_PASSWORD"),
        (
            {
                "CREATIO_URL": "https://x.creatio.com",
                "CREATIO_AUTH": "oauth",
                "CREATIO_CLIENT_ID": "id",
            },
            "CREATIO_IDENTITY_URL, CREATIO_CLIENT_SECRET",
        ),
    ],
)
def test_missing_settings_are_named(values: dict[str, str], missing: str) -> None:
    with pytest.raises(ConnectorError) as raised:
        CreatioConfig.from_settings(_settings(**values))
    assert (raised.value.category, raised.value.code) == (ErrorCategory.AUTH, "not_configured")
    assert missing in raised.value.message


def test_config_values_are_checked() -> None:
    with pytest.raises(ValidationError):
        CreatioConfig(url="ftp://x", username="u", password="p")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        CreatioConfig(url="https://x", username="u", password="p", batch_size=101)  # type: ignore[arg-type]
    config = CreatioConfig(url="https://x/", username="u", password="p", odata_path="/odata/")  # type: ignore[arg-type]
    assert config.odata_base == "https://x/odata/"


def test_deterministic_ids_are_stable_and_distinct() -> None:
    a = deterministic_id("intacct", "CUSTOMER", "C-1")
    assert a == deterministic_id("intacct", "CUSTOMER", "C-1")
    assert a.version == 5
    assert a != deterministic_id("intacct", "CUSTOMER", "C-2")
    assert deterministic_id("a", "bc") != deterministic_id("ab", "c")


def test_changed_columns_compares_as_creatio_does() -> None:
    lookup = uuid.uuid4()
    current = {
        "Name": "Acme",
        "Amount": Decimal("10.50"),
        "AccountId": str(lookup).upper(),
        "OwnerId": None,
        "Notes": "",
        "UsrErpLastModified": "2024-05-02T10:00:00.1234567Z",
        "UsrActive": False,
    }
    desired = {
        "Name": "Acme",
        "Amount": 10.5,
        "AccountId": lookup,
        "OwnerId": "00000000-0000-0000-0000-000000000000",
        "Notes": None,
        "UsrErpLastModified": "2024-05-02T10:00:00.123456Z",
        "UsrActive": 0,
    }
    assert changed_columns(current, desired) == {"UsrActive": 0}
    assert changed_columns(current, {"Name": "ACME"}) == {"Name": "ACME"}


def test_the_objects_of_the_issue_and_design_are_declared() -> None:
    for name in (
        "Account",
        "Contact",
        "Opportunity",
        "OpportunityProductInterest",
        "Order",
        "OrderProduct",
        "Product",
        "Invoice",
        "UsrPayment",
        "UsrCreditMemo",
    ):
        assert name in OBJECTS
    assert {
        "UsrErpFullName",
        "UsrErpLastModified",
        "UsrActive",
        "UsrCurrBalPymts",
        "UsrArOver30",
        "UsrArOver60",
        "UsrArOver90",
    } <= OBJECTS["Account"].columns
    assert {"UsrErpLastModified", "UsrSalesOrderNumber", "UsrInvoiceNumber"} <= (
        OBJECTS["Opportunity"].columns
    )
    assert OBJECTS["Opportunity"].lookups["StageId"] == "OpportunityStage"
