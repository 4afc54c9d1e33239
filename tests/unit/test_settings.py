"""Settings read the app's environment; unresolved Key Vault references and the
infrastructure's secret placeholder count as unset."""

from __future__ import annotations

import pytest

from shared.connectors.dataverse import DataverseConfig
from shared.settings import Settings
from tests.support.app_settings import is_secret, settings_types

INTACCT = {
    "INTACCT_SENDER_ID": "sender",
    "INTACCT_COMPANY_ID": "company",
    "INTACCT_USER_ID": "user",
    "INTACCT_USER_PASSWORD": "user-password",
}


def test_a_complete_connection_is_configured() -> None:
    settings = Settings.model_validate({**INTACCT, "INTACCT_SENDER_PASSWORD": "pw-4f9a1c"})
    assert settings.connection_configured("intacct")
    assert "pw-4f9a1c" not in repr(settings)


@pytest.mark.parametrize(
    "value",
    [
        "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/intacct-sender/)",
        "@Microsoft.KeyVault(VaultName=kv;SecretName=intacct-sender)",
        "SET-IN-KEY-VAULT",
    ],
)
def test_unresolved_secrets_count_as_unset(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTACCT_SENDER_PASSWORD", value)
    for key, item in INTACCT.items():
        monkeypatch.setenv(key, item)
    settings = Settings()
    assert "INTACCT_SENDER_PASSWORD" not in settings.connector_environ()
    assert not settings.connection_configured("intacct")


PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-secret-key\n"
    "-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"
)
SECRETS = {
    "AzureWebJobsStorage": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=acct-key-77",
    "CREATIO_PASSWORD": "creatio-pw-55",
    "CREATIO_CLIENT_SECRET": "creatio-secret-44",
    "INTACCT_SENDER_PASSWORD": "sender-pw-33",
    "INTACCT_USER_PASSWORD": "user-pw-22",
    "DATAVERSE_CLIENT_SECRET": "dv-secret-11",
    "DATAVERSE_CLIENT_CERT": PEM,
}


def test_no_secret_shows_in_repr_str_or_dumps() -> None:
    settings = Settings.model_validate(SECRETS)
    shown = "\n".join(
        (
            repr(settings),
            str(settings),
            str(settings.model_dump()),
            settings.model_dump_json(),
            str(settings.model_dump(mode="json")),
        )
    )
    for value in SECRETS.values():
        assert value not in shown
    assert "secret-key" not in shown and "BEGIN PRIVATE KEY" not in shown
    assert settings.connector_environ()["DATAVERSE_CLIENT_CERT"] == PEM
    assert settings.connection_configured("dataverse") is False  # URL etc. missing
    full = Settings.model_validate(
        {
            "DATAVERSE_URL": "https://org.crm.dynamics.com",
            "DATAVERSE_TENANT_ID": "t",
            "DATAVERSE_CLIENT_ID": "c",
            "DATAVERSE_CLIENT_CERT": PEM,
        }
    )
    assert full.connection_configured("dataverse")
    cert = DataverseConfig.from_settings(full).client_cert
    assert cert is not None and cert.get_secret_value() == PEM
    assert PEM not in repr(DataverseConfig.from_settings(full))


def test_every_secret_like_setting_is_a_secret_str() -> None:
    """Audit: a setting whose name says it holds a credential must be a SecretStr."""
    words = ("PASSWORD", "SECRET", "CERT", "KEY", "TOKEN", "AzureWebJobsStorage")
    # Names of function keys with a fingerprint of each (12 hex digits of its SHA-256,
    # shared/access/caller.py): no key can be recovered from it.
    not_secret = {"SHUTTLE_KEY_NAMES"}
    names = settings_types()
    assert "CREATIO_PASSWORD" in names and "SHUTTLE_SMTP_PASSWORD" in names
    for alias, annotation in names.items():
        secret_like = any(w.lower() in alias.lower() for w in words) and "__" not in alias
        if secret_like and alias not in not_secret:
            assert is_secret(annotation), alias
