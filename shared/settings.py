"""App settings (environment variables, named exactly as in Azure and local.settings.json)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SOLUTIONS = "creatio-intacct,creatio-dynamics"
# What Azure leaves in a setting whose Key Vault reference it could not resolve, and the
# placeholder the infrastructure puts in a secret nobody has set yet: neither is a value.
UNRESOLVED = ("@Microsoft.KeyVault(",)
PLACEHOLDERS = frozenset({"SET-IN-KEY-VAULT"})


def unresolved(value: object) -> bool:
    return isinstance(value, str) and (
        value.strip().startswith(UNRESOLVED) or value.strip() in PLACEHOLDERS
    )


class Settings(BaseSettings):
    """Every setting Shuttle reads. Secrets are SecretStr so they never print."""

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

    creatio_url: str | None = Field(default=None, alias="CREATIO_URL")
    creatio_auth: str = Field(default="forms", alias="CREATIO_AUTH", pattern="^(forms|oauth)$")
    creatio_username: str | None = Field(default=None, alias="CREATIO_USERNAME")
    creatio_password: SecretStr | None = Field(default=None, alias="CREATIO_PASSWORD")
    creatio_identity_url: str | None = Field(default=None, alias="CREATIO_IDENTITY_URL")
    creatio_client_id: str | None = Field(default=None, alias="CREATIO_CLIENT_ID")
    creatio_client_secret: SecretStr | None = Field(default=None, alias="CREATIO_CLIENT_SECRET")
    # How long a call may wait for an answer; then it is given up (its slot freed), retried.
    creatio_timeout_s: float = Field(default=30.0, alias="CREATIO_TIMEOUT_SECONDS", gt=0, le=900)

    intacct_endpoint: str = Field(
        default="https://api.intacct.com/ia/xml/xmlgw.phtml", alias="INTACCT_ENDPOINT"
    )
    intacct_sender_id: str | None = Field(default=None, alias="INTACCT_SENDER_ID")
    intacct_sender_password: SecretStr | None = Field(default=None, alias="INTACCT_SENDER_PASSWORD")
    intacct_company_id: str | None = Field(default=None, alias="INTACCT_COMPANY_ID")
    intacct_entity_id: str | None = Field(default=None, alias="INTACCT_ENTITY_ID")
    intacct_user_id: str | None = Field(default=None, alias="INTACCT_USER_ID")
    intacct_user_password: SecretStr | None = Field(default=None, alias="INTACCT_USER_PASSWORD")
    # WHENMODIFIED is in the company's time zone (Company > Setup > Company information).
    intacct_timezone: str = Field(default="America/Los_Angeles", alias="INTACCT_TIMEZONE")
    # Requests in flight per worker; Intacct's default per-company limit is 2.
    intacct_max_in_flight: int = Field(default=2, alias="INTACCT_MAX_IN_FLIGHT", ge=1, le=50)
    # A hung call holds one of those few slots until it is given up: keep this short.
    intacct_timeout_s: float = Field(default=30.0, alias="INTACCT_TIMEOUT_SECONDS", gt=0, le=900)

    dataverse_url: str | None = Field(default=None, alias="DATAVERSE_URL")
    dataverse_tenant_id: str | None = Field(default=None, alias="DATAVERSE_TENANT_ID")
    dataverse_client_id: str | None = Field(default=None, alias="DATAVERSE_CLIENT_ID")
    dataverse_client_secret: SecretStr | None = Field(default=None, alias="DATAVERSE_CLIENT_SECRET")
    # The PEM itself (private key + certificate; a Key Vault reference in Azure) or its path.
    dataverse_client_cert: SecretStr | None = Field(default=None, alias="DATAVERSE_CLIENT_CERT")
    dataverse_authority_host: str = Field(
        default="https://login.microsoftonline.com", alias="DATAVERSE_AUTHORITY_HOST"
    )
    dataverse_timeout_s: float = Field(
        default=60.0, alias="DATAVERSE_TIMEOUT_SECONDS", gt=0, le=900
    )
    # Service protection allows 52 concurrent requests per user; stay under it.
    dataverse_max_concurrency: int = Field(
        default=52, alias="DATAVERSE_MAX_CONCURRENCY", ge=1, le=52
    )

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

    def connection_configured(self, system: str) -> bool:
        """Whether these settings make a valid config for `system` (its class in
        shared/connectors/*/config.py says what it needs); not whether the system answers."""
        # Imported here: the connector configs import this module.
        from shared.connectors.configs import connection_configured

        return connection_configured(self, system)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
