"""Connection settings of the Creatio connector, validated once at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from shared.connectors.errors import ConnectorError
from shared.connectors.retry import RetryPolicy
from shared.errors import ErrorCategory
from shared.settings import Settings

SYSTEM = "creatio"
MAX_BATCH = 100  # Creatio's limit per $batch (api-facts §1.6)
MAX_ROWS = 20000  # Creatio's limit per OData answer (api-facts §1.7)


class CreatioConfig(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    url: str
    auth: Literal["forms", "oauth"] = "forms"
    username: str | None = None
    password: SecretStr | None = None
    identity_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # "0/odata" on .NET Framework hosts, "odata" on .NET Core / .NET 6+ hosts (api-facts §1.3).
    odata_path: str = "0/odata"
    max_in_flight: int = Field(default=8, ge=1, le=64)
    timeout_s: float = Field(default=30.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    page_size: int = Field(default=500, ge=1, le=MAX_ROWS)
    batch_size: int = Field(default=MAX_BATCH, ge=1, le=MAX_BATCH)
    # A token is renewed this long before it expires (at most a tenth of its lifetime).
    token_refresh_margin_s: float = Field(default=60.0, ge=0)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @field_validator("url", "identity_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://mysite.creatio.com")
        return value.rstrip("/")

    @field_validator("odata_path")
    @classmethod
    def _path(cls, value: str) -> str:
        return value.strip("/")

    @model_validator(mode="after")
    def _credentials(self) -> CreatioConfig:
        missing = self.missing_settings()
        if missing:
            raise ValueError(f"{self.auth} authentication needs {', '.join(missing)}")
        return self

    def missing_settings(self) -> list[str]:
        if self.auth == "oauth":
            needed = {
                "CREATIO_IDENTITY_URL": self.identity_url,
                "CREATIO_CLIENT_ID": self.client_id,
                "CREATIO_CLIENT_SECRET": self.client_secret,
            }
        else:
            needed = {"CREATIO_USERNAME": self.username, "CREATIO_PASSWORD": self.password}
        return [name for name, value in needed.items() if not value]

    @property
    def odata_base(self) -> str:
        return f"{self.url}/{self.odata_path}/"

    @property
    def token_url(self) -> str:
        base = self.identity_url or self.url
        return base if base.endswith("/connect/token") else f"{base}/connect/token"

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> CreatioConfig:
        """From the app settings; a missing setting is an auth error that names it."""
        if not settings.creatio_url:
            raise _not_configured(["CREATIO_URL"])
        values: dict[str, object] = {
            "url": settings.creatio_url,
            "auth": settings.creatio_auth,
            "username": settings.creatio_username,
            "password": settings.creatio_password,
            "identity_url": settings.creatio_identity_url,
            "client_id": settings.creatio_client_id,
            "client_secret": settings.creatio_client_secret,
            "timeout_s": settings.creatio_timeout_s,
            **overrides,
        }
        probe = cls.model_construct(**values)  # type: ignore[arg-type]
        missing = probe.missing_settings()
        if missing:
            raise _not_configured(missing)
        return cls.model_validate(values)


def _not_configured(names: list[str]) -> ConnectorError:
    return ConnectorError(
        f"Creatio is not configured: set {', '.join(names)} in the app settings",
        category=ErrorCategory.AUTH,
        system=SYSTEM,
        code="not_configured",
    )
