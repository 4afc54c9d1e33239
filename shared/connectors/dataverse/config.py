"""Connection settings of the Dataverse connector, validated once at start-up."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from shared.connectors.errors import ConnectorError
from shared.connectors.retry import RetryPolicy
from shared.errors import ErrorCategory
from shared.settings import Settings

SYSTEM = "dataverse"
API_PATH = "api/data/v9.2"
MAX_PAGE = 5000  # Dataverse's maximum odata.maxpagesize (api-facts §3.7)
MAX_BATCH = 1000  # operations per $batch (api-facts §3.8)
MAX_CONCURRENCY = 52  # service protection's concurrent-request limit (api-facts §3.9)


class DataverseConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    tenant_id: str
    client_id: str
    client_secret: SecretStr | None = None
    # A PEM (private key + certificate) as a file path or as the PEM text itself (a Key
    # Vault reference in Azure gives the content, not a path).
    client_cert: SecretStr | None = None
    authority_host: str = "https://login.microsoftonline.com"
    # CA bundle for both the Web API and the identity provider; None: the environment's
    # (SSL_CERT_FILE / REQUESTS_CA_BUNDLE) or the system's.
    ca_file: str | None = None
    max_concurrency: int = Field(default=MAX_CONCURRENCY, ge=1, le=MAX_CONCURRENCY)
    timeout_s: float = Field(default=60.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    page_size: int = Field(default=500, ge=1, le=MAX_PAGE)
    batch_size: int = Field(default=MAX_BATCH, ge=1, le=MAX_BATCH)
    # How long one call may wait out 429s (Retry-After) before it gives up with a
    # rate_limit error (transient: the queue tries the record again later).
    throttle_max_wait_s: float = Field(default=600.0, gt=0)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @field_validator("url", "authority_host")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("must be an https URL (MSAL and Dataverse only speak HTTPS)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _credential(self) -> DataverseConfig:
        if self.client_secret is None and self.client_cert is None:
            raise ValueError("needs DATAVERSE_CLIENT_SECRET or DATAVERSE_CLIENT_CERT")
        return self

    @property
    def api_base(self) -> str:
        return f"{self.url}/{API_PATH}/"

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def scope(self) -> str:
        return f"{self.url}/.default"

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> DataverseConfig:
        """From the app settings; a missing setting is an auth error that names it."""
        missing = [
            name
            for name, value in (
                ("DATAVERSE_URL", settings.dataverse_url),
                ("DATAVERSE_TENANT_ID", settings.dataverse_tenant_id),
                ("DATAVERSE_CLIENT_ID", settings.dataverse_client_id),
            )
            if not value
        ]
        secret = settings.dataverse_client_secret
        cert = settings.dataverse_client_cert
        if cert is not None and not cert.get_secret_value():
            cert = None
        if not (secret and secret.get_secret_value()) and not cert:
            missing.append("DATAVERSE_CLIENT_SECRET or DATAVERSE_CLIENT_CERT")
        if missing:
            raise ConnectorError(
                f"Dataverse is not configured: set {', '.join(missing)} in the app settings",
                category=ErrorCategory.AUTH,
                system=SYSTEM,
                code="not_configured",
            )
        values: dict[str, object] = {
            "url": settings.dataverse_url,
            "tenant_id": settings.dataverse_tenant_id,
            "client_id": settings.dataverse_client_id,
            # Certificate auth is preferred when both are set (the production recommendation).
            "client_secret": None if cert else secret,
            "client_cert": cert or None,
            "authority_host": settings.dataverse_authority_host,
            "max_concurrency": settings.dataverse_max_concurrency,
            "timeout_s": settings.dataverse_timeout_s,
            **overrides,
        }
        return cls.model_validate(values)
