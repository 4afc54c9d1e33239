"""DataverseConfig from the app settings."""

from __future__ import annotations

import pytest

from shared.connectors.dataverse import DataverseConfig
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory
from shared.settings import Settings

SANDBOX = {
    "DATAVERSE_URL": "https://127.0.0.1:8203",
    "DATAVERSE_TENANT_ID": "shuttle-sandbox",
    "DATAVERSE_CLIENT_ID": "00000000-0000-0000-0000-00000000a11c",
    "DATAVERSE_CLIENT_SECRET": "sandbox-client-secret",
    "DATAVERSE_AUTHORITY_HOST": "https://127.0.0.1:8204",
}


def _settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for name in (*SANDBOX, "DATAVERSE_CLIENT_CERT", "DATAVERSE_MAX_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_the_sandbox_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    config = DataverseConfig.from_settings(_settings(monkeypatch, **SANDBOX))
    assert config.api_base == "https://127.0.0.1:8203/api/data/v9.2/"
    assert config.authority == "https://127.0.0.1:8204/shuttle-sandbox"
    assert config.scope == "https://127.0.0.1:8203/.default"
    assert config.max_concurrency == 52
    assert "sandbox-client-secret" not in repr(config)


def test_a_certificate_wins_over_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, **SANDBOX, DATAVERSE_CLIENT_CERT="/keys/app.pem")
    config = DataverseConfig.from_settings(settings)
    assert config.client_secret is None and config.client_cert is not None


def test_missing_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        k: v for k, v in SANDBOX.items() if k not in ("DATAVERSE_URL", "DATAVERSE_CLIENT_SECRET")
    }
    with pytest.raises(ConnectorError) as caught:
        DataverseConfig.from_settings(_settings(monkeypatch, **values))
    assert caught.value.category is ErrorCategory.AUTH
    assert "DATAVERSE_URL" in caught.value.message
    assert "DATAVERSE_CLIENT_SECRET or DATAVERSE_CLIENT_CERT" in caught.value.message


def test_http_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="https"):
        DataverseConfig(url="http://x", tenant_id="t", client_id="c", client_secret="s")
