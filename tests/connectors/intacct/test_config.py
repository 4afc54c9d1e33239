"""Configuration from the app settings, and the engine's way of building the connector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.connectors.errors import ConnectorError
from shared.connectors.intacct import IntacctConfig, IntacctSync
from shared.errors import ErrorCategory
from shared.settings import Settings
from tests.support.intacct import RunningIntacct

EXAMPLE = Path(__file__).resolve().parents[3] / "local.settings.example.json"


def _settings(**overrides: str) -> Settings:
    values = json.loads(EXAMPLE.read_text())["Values"]
    values = {k: v for k, v in values.items() if k.startswith("INTACCT_")}
    return Settings.model_validate({**values, **overrides})


def test_sandbox_defaults_make_a_config() -> None:
    config = IntacctConfig.from_settings(_settings())
    assert config.endpoint == "http://127.0.0.1:8202/ia/xml/xmlgw.phtml"
    assert config.max_in_flight == 2 and config.timezone == "America/Los_Angeles"
    assert config.entity_id is None  # "" in the settings means a top-level login
    assert "sandbox-user-password" not in repr(config)


def test_missing_settings_are_named() -> None:
    with pytest.raises(ConnectorError) as raised:
        IntacctConfig.from_settings(_settings(INTACCT_USER_ID="", INTACCT_SENDER_PASSWORD=""))
    assert raised.value.category is ErrorCategory.AUTH
    assert "INTACCT_USER_ID" in str(raised.value) and "INTACCT_SENDER_PASSWORD" in str(raised.value)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        IntacctConfig.from_settings(_settings(INTACCT_TIMEZONE="Mars/Olympus"))


async def test_engine_builds_it_from_settings(intacct: RunningIntacct) -> None:
    from shared.engine.connections import build_connector

    connector = build_connector("intacct", _settings(INTACCT_ENDPOINT=intacct.endpoint))
    assert isinstance(connector, IntacctSync)
    try:
        await connector.check()
    finally:
        await connector.aclose()
    assert intacct.admin.stats()["logins"] == 1
