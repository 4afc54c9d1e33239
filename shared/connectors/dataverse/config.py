"""Connection settings of the Dataverse connector (app settings DATAVERSE_*), validated once
at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.connectors.retry import RetryPolicy
from shared.connectors.settings import AppSetting, ConnectorConfig

SYSTEM = "dataverse"
API_PATH = "api/data/v9.2"
MAX_PAGE = 5000  # Dataverse's maximum odata.maxpagesize (docs/wire-notes.md D4)
MAX_BATCH = 1000  # operations per $batch (docs/wire-notes.md D5)
MAX_CONCURRENCY = 52  # service protection's concurrent-request limit (docs/wire-notes.md D6)


class DataverseConfig(ConnectorConfig):
    model_config = SettingsConfigDict(env_prefix="DATAVERSE_")
    TITLE: ClassVar[str] = "Dataverse"

    url: Annotated[str, AppSetting()]
    tenant_id: Annotated[str, AppSetting()]
    client_id: Annotated[str, AppSetting()]
    client_secret: Annotated[SecretStr | None, AppSetting()] = None
    # A PEM (private key + certificate) as a file path or as the PEM text itself (a Key
    # Vault reference in Azure gives the content, not a path).
    client_cert: Annotated[SecretStr | None, AppSetting()] = None
    authority_host: Annotated[str, AppSetting()] = "https://login.microsoftonline.com"
    # CA bundle for both the Web API and the identity provider; None: the environment's
    # (SSL_CERT_FILE / REQUESTS_CA_BUNDLE) or the system's.
    ca_file: str | None = None
    # Service protection allows 52 concurrent requests per user; stay under it.
    max_concurrency: Annotated[int, AppSetting()] = Field(
        default=MAX_CONCURRENCY, ge=1, le=MAX_CONCURRENCY
    )
    timeout_s: Annotated[float, AppSetting("TIMEOUT_SECONDS")] = Field(default=60.0, gt=0, le=900)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    page_size: int = Field(default=500, ge=1, le=MAX_PAGE)
    batch_size: int = Field(default=MAX_BATCH, ge=1, le=MAX_BATCH)
    # How long one call may wait out 429s (Retry-After) before it gives up with a
    # rate_limit error (transient: the queue tries the record again later).
    throttle_max_wait_s: float = Field(default=600.0, gt=0)
    # Service protection's sliding window (docs/wire-notes.md D6: five minutes); other
    # values only to match an emulator whose limits are scaled down.
    limit_window_s: float = Field(default=300.0, gt=0)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @field_validator("url", "authority_host")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("must be an https URL (MSAL and Dataverse only speak HTTPS)")
        return value.rstrip("/")

    @model_validator(mode="before")
    @classmethod
    def _prefer_certificate(cls, data: Any) -> Any:
        # Certificate auth is preferred when both are set (the production recommendation);
        # an empty certificate setting is no certificate.
        if isinstance(data, dict) and "client_cert" in data:
            if not _text(data["client_cert"]):
                data = {**data, "client_cert": None}
            else:
                data = {**data, "client_secret": None}
        return data

    @classmethod
    def conditional_missing(cls, values: Mapping[str, Any]) -> list[str]:
        if _text(values.get("client_secret")) or _text(values.get("client_cert")):
            return []
        secret, cert = cls.env_name("client_secret"), cls.env_name("client_cert")
        return [f"{secret} or {cert}"]

    @property
    def api_base(self) -> str:
        return f"{self.url}/{API_PATH}/"

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def scope(self) -> str:
        return f"{self.url}/.default"


def _text(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value or ""
