"""Settings read the app's environment; unresolved Key Vault references and the
infrastructure's secret placeholder count as unset."""

from __future__ import annotations

import pytest

from shared.settings import Settings

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
    assert settings.intacct_sender_password is None
    assert not settings.connection_configured("intacct")
