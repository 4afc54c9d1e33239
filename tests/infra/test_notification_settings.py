"""Issue 13: the notification app settings (SMTP relay, sender, mode, admin address, connection
monitor schedule) as parameters with sensible defaults, the SMTP password a Key Vault secret
read by Key Vault reference. Issue 12 item 8: DATAVERSE_CLIENT_CERT (a PEM private key) the same
way, never a plain parameter. Both dialects."""

from __future__ import annotations

import pytest

from tests.infra.conftest import app_secret_settings
from tests.infra.iac import KEY_VAULT_SETTINGS, NOTIFICATION_SETTINGS, Bicep, Terraform, ref

MODES = [
    "none",
    "connection_failures",
    "every_error",
    "connection_failures_and_full_daily",
    "connection_failures_and_error_daily",
    "error_daily",
    "full_daily",
]
# setting -> (Bicep parameter, Terraform variable, default)
PLAIN = {
    "SHUTTLE_SMTP_HOST": ("smtpHost", "smtp_host", ""),
    "SHUTTLE_SMTP_PORT": ("smtpPort", "smtp_port", 587),
    "SHUTTLE_SMTP_SECURITY": ("smtpSecurity", "smtp_security", "starttls"),
    "SHUTTLE_SMTP_USERNAME": ("smtpUsername", "smtp_username", ""),
    "SHUTTLE_MAIL_FROM": ("mailFrom", "mail_from", ""),
    "SHUTTLE_NOTIFY_MODE": ("notifyMode", "notify_mode", "connection_failures"),
    "SHUTTLE_ADMIN_EMAIL": ("adminEmail", "admin_email", ""),
    "SHUTTLE_CONNECTION_MONITOR_SCHEDULE": (
        "connectionMonitorSchedule",
        "connection_monitor_schedule",
        "0 */5 * * * *",
    ),
}
# A Key Vault secret each, written from a secure parameter / sensitive variable.
SECRETS = {
    "SHUTTLE_SMTP_PASSWORD": ("smtpPassword", "smtp_password", "smtp-password"),
    "DATAVERSE_CLIENT_CERT": (
        "dataverseClientCert",
        "dataverse_client_cert",
        "dataverse-client-cert",
    ),
}


def test_the_contract_names_every_notification_setting() -> None:
    assert set(PLAIN) | {"SHUTTLE_SMTP_PASSWORD"} == NOTIFICATION_SETTINGS
    assert set(SECRETS) <= KEY_VAULT_SETTINGS


def test_every_secret_the_app_reads_is_a_key_vault_reference() -> None:
    # shared/settings.py marks secrets SecretStr; each must come from Key Vault in Azure.
    assert app_secret_settings() <= KEY_VAULT_SETTINGS


@pytest.mark.parametrize("setting", sorted(PLAIN))
def test_bicep_notification_setting_is_a_parameter(bicep: Bicep, setting: str) -> None:
    param, _, default = PLAIN[setting]
    assert bicep.parameter(param)["default"] == default
    assert "description" in bicep.decorator_types(param)
    value = bicep.app_settings[setting]
    if isinstance(default, int):
        assert value == {"function": {"type": "string", "parameters": {"value_to_convert": param}}}
    else:
        assert value == param


@pytest.mark.parametrize("setting", sorted(PLAIN))
def test_terraform_notification_setting_is_a_variable(tf: Terraform, setting: str) -> None:
    _, variable, default = PLAIN[setting]
    assert tf.variables[variable]["default"] == default
    assert tf.variables[variable]["description"]
    value = ref(tf.app_settings[setting])
    assert value == (f"tostring(var.{variable})" if isinstance(default, int) else f"var.{variable}")


def test_bicep_constrains_security_mode_and_port(bicep: Bicep) -> None:
    def allowed(param: str) -> list[str]:
        (decorator,) = [d for d in bicep.parameter(param)["decorators"] if d["type"] == "allowed"]
        return decorator["argument"]

    assert allowed("smtpSecurity") == ["starttls", "tls", "none"]
    assert allowed("notifyMode") == MODES
    bounds = {d["type"]: d["argument"] for d in bicep.parameter("smtpPort")["decorators"]}
    assert (bounds["min_value"], bounds["max_value"]) == (1, 65535)


def test_terraform_constrains_security_mode_and_port(tf: Terraform) -> None:
    def condition(variable: str) -> str:
        (validation,) = tf.variables[variable]["validation"]
        return ref(validation["condition"])

    assert condition("smtp_security") == (
        'contains(["starttls", "tls", "none"], var.smtp_security)'
    )
    mode = condition("notify_mode")
    assert all(f'"{m}"' in mode for m in MODES) and mode.count('"') == 2 * len(MODES)
    assert condition("smtp_port") == "var.smtp_port >= 1 && var.smtp_port <= 65535"


@pytest.mark.parametrize("setting", sorted(SECRETS))
def test_bicep_secret_is_secure_and_read_from_key_vault(bicep: Bicep, setting: str) -> None:
    param, _, secret_name = SECRETS[setting]
    assert "secure" in bicep.decorator_types(param)
    assert bicep.parameter(param)["default"] == ""
    value = bicep.app_settings[setting]
    assert value.startswith("@Microsoft.KeyVault(SecretUri=${vaultSecretsUri}/")
    (secret,) = [
        r
        for r in bicep.of_type("Microsoft.KeyVault/vaults/secrets").values()
        if bicep.literal(r.body["name"]) == secret_name
    ]
    assert secret.properties["value"] == param
    assert secret.condition == f"!empty({param})"
    assert f"${{{secret.body['name']}}}" in value
    # The value reaches the app only by reference, never as the parameter itself.
    assert all(v != param for v in bicep.app_settings.values())


@pytest.mark.parametrize("setting", sorted(SECRETS))
def test_terraform_secret_is_sensitive_and_read_from_key_vault(tf: Terraform, setting: str) -> None:
    _, variable, secret_name = SECRETS[setting]
    assert tf.variables[variable]["sensitive"] is True
    assert tf.locals["secret_names"][setting] == secret_name
    assert ref(tf.locals["secret_values"][setting]) == f"var.{variable}"
    assert tf.app_settings[setting] == (
        f"@Microsoft.KeyVault(SecretUri=${{local.vault_secrets_uri}}/"
        f"${{local.secret_names.{setting}}}/)"
    )
    assert f"var.{variable}" not in str(tf.app_settings)


def test_azd_maps_the_new_parameters() -> None:
    from tests.infra.iac import BICEP_DIR

    params = (BICEP_DIR / "main.parameters.json").read_text()
    for env in [
        "SHUTTLE_SMTP_HOST",
        "SHUTTLE_SMTP_PASSWORD",
        "SHUTTLE_NOTIFY_MODE",
        "SHUTTLE_CONNECTION_MONITOR_SCHEDULE",
        "SHUTTLE_AUTH_CLIENT_ID",
        "DATAVERSE_CLIENT_CERT",
    ]:
        assert "${" + env in params, f"main.parameters.json does not map {env}"
