"""App settings (environment variables, named exactly as in Azure and local.settings.json)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_SOLUTIONS = "creatio-intacct,creatio-dynamics"
# What Azure leaves in a setting whose Key Vault reference it could not resolve, and the
# placeholder the infrastructure puts in a secret nobody has set yet: neither is a value.
UNRESOLVED = ("@Microsoft.KeyVault(",)
PLACEHOLDERS = frozenset({"SET-IN-KEY-VAULT"})
# The env prefixes of the connectors' own settings, declared and checked by each connector's
# config class (shared/connectors/*/config.py), not here.
CONNECTOR_PREFIXES = ("CREATIO_", "INTACCT_", "DATAVERSE_")


def unresolved(value: object) -> bool:
    return isinstance(value, str) and (
        value.strip().startswith(UNRESOLVED) or value.strip() in PLACEHOLDERS
    )


def _connector_values(data: dict[Any, Any]) -> dict[str, str]:
    values = {}
    for key, value in data.items():
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        name = key.upper() if isinstance(key, str) else ""
        # As the environment would hold them: text (a caller may pass numbers).
        if name.startswith(CONNECTOR_PREFIXES) and text is not None and str(text) != "":
            values[name] = str(text)
    return values


class _ConnectorEnviron(PydanticBaseSettingsSource):
    """The connectors' settings in the environment, for Settings to carry (see below)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return _connector_values(dict(os.environ))


class Settings(BaseSettings):
    """Shuttle's own settings, and the connectors' settings as given (the env names and
    checks are each connector config's: shared/connectors/settings.py). Secrets are
    SecretStr so they never print; the connectors' values are private, never printed."""

    # Empty values count as unset: local.settings.example.json lists every setting, some blank.
    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, frozen=True, env_ignore_empty=True
    )

    storage_connection: SecretStr | None = Field(default=None, alias="AzureWebJobsStorage")
    # Identity-based storage (Azure, no keys): the runtime's own setting names.
    storage_account_name: str | None = Field(default=None, alias="AzureWebJobsStorage__accountName")
    storage_table_uri: str | None = Field(
        default=None, alias="AzureWebJobsStorage__tableServiceUri"
    )
    storage_queue_uri: str | None = Field(
        default=None, alias="AzureWebJobsStorage__queueServiceUri"
    )
    storage_client_id: str | None = Field(default=None, alias="AzureWebJobsStorage__clientId")
    solutions: str = Field(default=DEFAULT_SOLUTIONS, alias="SHUTTLE_SOLUTIONS")
    scheduler_schedule: str = Field(default="*/15 * * * * *", alias="SHUTTLE_SCHEDULER_SCHEDULE")
    # Prefix of table and queue names (shared/queue_names.py): lowercase, as queue names must be.
    table_prefix: str = Field(
        default="shuttle", alias="SHUTTLE_TABLE_PREFIX", pattern=r"^[a-z][a-z0-9]{0,29}$"
    )
    run_lease_seconds: int = Field(default=600, alias="SHUTTLE_RUN_LEASE_SECONDS", ge=30)
    egress_ip: str | None = Field(default=None, alias="SHUTTLE_EGRESS_IP")
    # Access (shared/access/caller.py): `appservice` trusts X-MS-CLIENT-PRINCIPAL (App Service
    # Authentication in front); `keys` trusts the function key the host checked.
    auth_mode: str = Field(default="keys", alias="SHUTTLE_AUTH_MODE", pattern="^(keys|appservice)$")
    key_names: str | None = Field(default=None, alias="SHUTTLE_KEY_NAMES")
    # Engine: how far back each incremental read starts before "query starts" (clock skew
    # and commit lag on the source), and how many records one flow-runs message reads.
    read_overlap_seconds: int = Field(
        default=120, alias="SHUTTLE_READ_OVERLAP_SECONDS", ge=0, le=86_400
    )
    page_size: int = Field(default=500, alias="SHUTTLE_PAGE_SIZE", ge=1, le=5_000)
    # Records per record-upserts message (issue 15); a chunk too big for 64 KB is halved.
    chunk_size: int = Field(default=100, alias="SHUTTLE_CHUNK_SIZE", ge=1, le=500)

    # Notifications (shared/notifications): the SMTP relay alerts go through, and the
    # defaults of the notification settings an operator changes with the API.
    smtp_host: str | None = Field(default=None, alias="SHUTTLE_SMTP_HOST")
    smtp_port: int = Field(default=587, alias="SHUTTLE_SMTP_PORT", ge=1, le=65535)
    smtp_security: str = Field(
        default="starttls", alias="SHUTTLE_SMTP_SECURITY", pattern="^(starttls|tls|none)$"
    )
    smtp_username: str | None = Field(default=None, alias="SHUTTLE_SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(default=None, alias="SHUTTLE_SMTP_PASSWORD")
    mail_from: str | None = Field(default=None, alias="SHUTTLE_MAIL_FROM")
    notify_mode: str = Field(
        default="connection_failures",
        alias="SHUTTLE_NOTIFY_MODE",
        pattern="^(none|connection_failures|every_error|connection_failures_and_full_daily"
        "|connection_failures_and_error_daily|error_daily|full_daily)$",
    )
    admin_email: str | None = Field(default=None, alias="SHUTTLE_ADMIN_EMAIL")
    connection_monitor_schedule: str = Field(
        default="0 */5 * * * *", alias="SHUTTLE_CONNECTION_MONITOR_SCHEDULE"
    )

    _connectors: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        connectors = _ConnectorEnviron(settings_cls)
        return init_settings, env_settings, connectors, dotenv_settings, file_secret_settings

    @model_validator(mode="wrap")
    @classmethod
    def _keep_connector_settings(
        cls, data: Any, handler: ModelWrapValidatorHandler[Settings]
    ) -> Settings:
        # The environment's CREATIO_*, INTACCT_*, DATAVERSE_* values (or those a caller
        # passes), kept for the connector configs to validate (`connector_environ`).
        given = _connector_values(data) if isinstance(data, dict) else {}
        settings = handler(data)
        settings._connectors = {k: v for k, v in given.items() if not unresolved(v)}
        return settings

    @model_validator(mode="before")
    @classmethod
    def _drop_unresolved(cls, data: Any) -> Any:
        # A secret still reading "@Microsoft.KeyVault(...)" must count as missing (status
        # shows the connection as not configured), never be sent as a password.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not unresolved(v)}
        return data

    @field_validator("solutions")
    @classmethod
    def _solutions_listed(cls, value: str) -> str:
        if not [s for s in value.split(",") if s.strip()]:
            raise ValueError("name at least one solution, e.g. creatio-intacct")
        return value

    @property
    def solution_ids(self) -> list[str]:
        return [s.strip() for s in self.solutions.split(",") if s.strip()]

    def connector_environ(self) -> dict[str, str]:
        """The connectors' settings by env name, as given; their configs check them."""
        return dict(self._connectors)

    def secret_values(self) -> list[str]:
        """The values of every secret setting: Shuttle's SecretStr fields and the connectors'
        secret settings (for shared/notifications/compose.py to mask)."""
        from shared.connectors.configs import secret_settings

        own = [getattr(self, name) for name in type(self).model_fields]
        values = [v.get_secret_value() for v in own if isinstance(v, SecretStr)]
        secret = secret_settings()
        return values + [v for k, v in self._connectors.items() if k in secret]

    def connection_configured(self, system: str) -> bool:
        """Whether these settings make a valid config for `system` (its class in
        shared/connectors/*/config.py says what it needs); not whether the system answers."""
        # Imported here: the connector configs import this module.
        from shared.connectors.configs import connection_configured

        return connection_configured(self, system)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
