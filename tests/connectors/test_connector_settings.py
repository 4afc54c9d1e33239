"""Each connector's config is a pydantic-settings class with its env prefix: it reads its
own app settings (and only those) from the environment, the settings a Settings carries are
read by the same names, and "configured" means "the config validates"."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from shared.connectors.configs import CONFIGS
from shared.connectors.creatio import CreatioConfig
from shared.connectors.dataverse import DataverseConfig
from shared.connectors.errors import ConnectorError
from shared.connectors.intacct import IntacctConfig
from shared.connectors.settings import ConnectorConfig
from shared.settings import CONNECTOR_PREFIXES, Settings

# Every app setting of each connector set, none to its default.
EVERY = {
    "creatio": {
        "CREATIO_URL": "https://crm.example.test",
        "CREATIO_AUTH": "oauth",
        "CREATIO_USERNAME": "user-1",
        "CREATIO_PASSWORD": "creatio-pw-91",
        "CREATIO_IDENTITY_URL": "https://id.example.test",
        "CREATIO_CLIENT_ID": "client-1",
        "CREATIO_CLIENT_SECRET": "creatio-secret-92",
        "CREATIO_TIMEOUT_SECONDS": "12.5",
    },
    "intacct": {
        "INTACCT_ENDPOINT": "https://gw.example.test/xml",
        "INTACCT_SENDER_ID": "sender-1",
        "INTACCT_SENDER_PASSWORD": "sender-pw-93",
        "INTACCT_COMPANY_ID": "company-1",
        "INTACCT_ENTITY_ID": "entity-1",
        "INTACCT_USER_ID": "user-2",
        "INTACCT_USER_PASSWORD": "user-pw-94",
        "INTACCT_TIMEZONE": "Europe/Berlin",
        "INTACCT_MAX_IN_FLIGHT": "3",
        "INTACCT_TIMEOUT_SECONDS": "7",
    },
    "dataverse": {
        "DATAVERSE_URL": "https://org.example.test",
        "DATAVERSE_TENANT_ID": "tenant-1",
        "DATAVERSE_CLIENT_ID": "client-2",
        "DATAVERSE_CLIENT_SECRET": "dv-secret-95",
        "DATAVERSE_AUTHORITY_HOST": "https://login.example.test",
        "DATAVERSE_TIMEOUT_SECONDS": "45",
        "DATAVERSE_MAX_CONCURRENCY": "9",
    },
}
FIELDS = {
    "creatio": {
        "url": "https://crm.example.test",
        "auth": "oauth",
        "username": "user-1",
        "identity_url": "https://id.example.test",
        "client_id": "client-1",
        "timeout_s": 12.5,
    },
    "intacct": {
        "endpoint": "https://gw.example.test/xml",
        "sender_id": "sender-1",
        "company_id": "company-1",
        "entity_id": "entity-1",
        "user_id": "user-2",
        "timezone": "Europe/Berlin",
        "max_in_flight": 3,
        "timeout_s": 7.0,
    },
    "dataverse": {
        "url": "https://org.example.test",
        "tenant_id": "tenant-1",
        "client_id": "client-2",
        "authority_host": "https://login.example.test",
        "timeout_s": 45.0,
        "max_concurrency": 9,
    },
}
SECRETS = {
    "creatio": {"password": "creatio-pw-91", "client_secret": "creatio-secret-92"},
    "intacct": {"sender_password": "sender-pw-93", "user_password": "user-pw-94"},
    "dataverse": {"client_secret": "dv-secret-95"},
}
SYSTEMS = list(CONFIGS)


@pytest.fixture(autouse=True)
def _no_connector_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith(CONNECTOR_PREFIXES):
            monkeypatch.delenv(key)


def _check(config: ConnectorConfig, system: str) -> None:
    for field, value in FIELDS[system].items():
        assert getattr(config, field) == value, field
    for field, value in SECRETS[system].items():
        assert getattr(config, field).get_secret_value() == value, field
        assert value not in repr(config)


@pytest.mark.parametrize("system", SYSTEMS)
def test_each_config_reads_its_own_prefixed_env_vars(
    system: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for other in SYSTEMS:  # every system's settings in the one environment
        for key, value in EVERY[other].items():
            monkeypatch.setenv(key, value)
    # Tuning fields are code defaults, never app settings.
    monkeypatch.setenv(f"{system.upper()}_PAGE_SIZE", "7")
    monkeypatch.setenv(f"{system.upper()}_TIMEOUT_S", "99")
    config = CONFIGS[system]()
    _check(config, system)
    assert config.page_size != 7  # type: ignore[attr-defined]
    # The same values through Settings (what the engine builds connectors from).
    _check(CONFIGS[system].from_settings(Settings()), system)
    # Every app setting of the config is above but the certificate (it would win over the
    # secret: tests/connectors/dataverse/test_config.py).
    assert set(CONFIGS[system].env_names()) - set(EVERY[system]) <= {"DATAVERSE_CLIENT_CERT"}


@pytest.mark.parametrize("system", SYSTEMS)
def test_settings_passed_as_values_are_read_by_the_same_names(system: str) -> None:
    settings = Settings.model_validate(EVERY[system])
    _check(CONFIGS[system].from_settings(settings), system)
    assert settings.connection_configured(system)
    for value in SECRETS[system].values():
        assert value not in repr(settings) and value not in settings.model_dump_json()


def test_no_connector_setting_is_declared_in_settings() -> None:
    aliases = {info.alias or name for name, info in Settings.model_fields.items()}
    assert not [a for a in aliases if a.upper().startswith(CONNECTOR_PREFIXES)]
    assert set(CONNECTOR_PREFIXES) == {c.model_config.get("env_prefix") for c in CONFIGS.values()}


CASES = [
    ("creatio", {}, False),
    (
        "creatio",
        {"CREATIO_URL": "https://x.test", "CREATIO_USERNAME": "u", "CREATIO_PASSWORD": "p"},
        True,
    ),
    (
        "creatio",
        {"CREATIO_URL": "ftp://x.test", "CREATIO_USERNAME": "u", "CREATIO_PASSWORD": "p"},
        False,
    ),
    (
        "creatio",
        {
            "CREATIO_URL": "https://x.test",
            "CREATIO_AUTH": "oauth",
            "CREATIO_USERNAME": "u",
            "CREATIO_PASSWORD": "p",
        },
        False,
    ),
    (
        "creatio",
        {
            "CREATIO_URL": "https://x.test",
            "CREATIO_USERNAME": "u",
            "CREATIO_PASSWORD": "p",
            "CREATIO_TIMEOUT_SECONDS": "901",
        },
        False,
    ),
    ("intacct", {k: v for k, v in EVERY["intacct"].items() if k != "INTACCT_ENTITY_ID"}, True),
    ("intacct", {**EVERY["intacct"], "INTACCT_TIMEZONE": "Mars/Olympus"}, False),
    ("intacct", {**EVERY["intacct"], "INTACCT_USER_PASSWORD": "SET-IN-KEY-VAULT"}, False),
    ("dataverse", EVERY["dataverse"], True),
    (
        "dataverse",
        {
            **EVERY["dataverse"],
            "DATAVERSE_CLIENT_SECRET": "",
            "DATAVERSE_CLIENT_CERT": "/keys/app.pem",
        },
        True,
    ),
    ("dataverse", {**EVERY["dataverse"], "DATAVERSE_CLIENT_SECRET": ""}, False),
    ("dataverse", {**EVERY["dataverse"], "DATAVERSE_URL": "http://org.example.test"}, False),
]


@pytest.mark.parametrize(("system", "values", "valid"), CASES)
def test_configured_means_the_config_validates(
    system: str, values: dict[str, str], valid: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = CONFIGS[system]
    assert Settings.model_validate(values).connection_configured(system) is valid
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    try:
        config()  # the class itself, from the environment
    except ValidationError:
        validates = False
    else:
        validates = True
    assert validates is valid
    assert Settings().connection_configured(system) is valid


@pytest.mark.parametrize(
    ("config", "values", "missing"),
    [
        (
            CreatioConfig,
            {"CREATIO_AUTH": "oauth"},
            "CREATIO_URL, CREATIO_IDENTITY_URL, CREATIO_CLIENT_ID, CREATIO_CLIENT_SECRET",
        ),
        (
            IntacctConfig,
            {"INTACCT_COMPANY_ID": "c", "INTACCT_USER_PASSWORD": "@Microsoft.KeyVault(x)"},
            "INTACCT_SENDER_ID, INTACCT_SENDER_PASSWORD, INTACCT_USER_ID, INTACCT_USER_PASSWORD",
        ),
        (
            DataverseConfig,
            {"DATAVERSE_URL": "https://org.example.test"},
            "DATAVERSE_TENANT_ID, DATAVERSE_CLIENT_ID, "
            "DATAVERSE_CLIENT_SECRET or DATAVERSE_CLIENT_CERT",
        ),
    ],
)
def test_not_configured_names_every_missing_env_variable(
    config: type[ConnectorConfig],
    values: dict[str, str],
    missing: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConnectorError) as caught:
        config.from_settings(Settings.model_validate(values))
    assert caught.value.code == "not_configured"
    assert f"set {missing} in the app settings" in str(caught.value)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match=f"set {missing} in"):
        config()


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        # Few values: pydantic would shorten a long input in its message.
        (
            {
                "CREATIO_URL": "https://x.test",
                "CREATIO_AUTH": "oauth",
                "CREATIO_CLIENT_SECRET": "creatio-secret-92",
            },
            "set CREATIO_IDENTITY_URL",
        ),
        (
            {
                "CREATIO_URL": "ftp://x.test",
                "CREATIO_USERNAME": "u",
                "CREATIO_PASSWORD": "creatio-pw-91",
            },
            "must be an http(s) URL",
        ),
    ],
)
def test_validation_errors_never_echo_a_secret(
    values: dict[str, str], reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError) as caught:
        CreatioConfig()
    assert reason in str(caught.value)
    assert "creatio-pw-91" not in str(caught.value) and "creatio-secret-92" not in str(caught.value)


def test_numbers_passed_to_settings_reach_the_config_as_the_environment_would() -> None:
    values = {**EVERY["intacct"], "INTACCT_MAX_IN_FLIGHT": 4, "INTACCT_TIMEOUT_SECONDS": 2.5}
    config = IntacctConfig.from_settings(Settings.model_validate(values))
    assert config.max_in_flight == 4 and config.timeout_s == 2.5
