"""Connection settings of the Creatio connector (app settings CREATIO_*), validated once at
start-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from shared.connectors.retry import RetryPolicy
from shared.connectors.settings import AppSetting, ConnectorConfig

SYSTEM = "creatio"
MAX_BATCH = 100  # Creatio's limit per $batch (docs/wire-notes.md C6)
MAX_ROWS = 20000  # Creatio's limit per OData answer (docs/wire-notes.md C7)
MAX_QUERY_STRING = 2048  # IIS's default limit in front of Creatio (docs/wire-notes.md C9)


class CreatioConfig(ConnectorConfig):
    model_config = SettingsConfigDict(env_prefix="CREATIO_")
    TITLE: ClassVar[str] = "Creatio"

    url: Annotated[str, AppSetting()]
    auth: Annotated[Literal["forms", "oauth"], AppSetting()] = "forms"
    username: Annotated[str | None, AppSetting()] = None
    password: Annotated[SecretStr | None, AppSetting()] = None
    identity_url: Annotated[str | None, AppSetting()] = None
    client_id: Annotated[str | None, AppSetting()] = None
    client_secret: Annotated[SecretStr | None, AppSetting()] = None
    # How long a call may wait for an answer; then it is given up (its slot freed), retried.
    timeout_s: Annotated[float, AppSetting("TIMEOUT_SECONDS")] = Field(default=30.0, gt=0, le=900)
    # "0/odata" on .NET Framework hosts, "odata" on .NET Core / .NET 6+ hosts
    # (docs/wire-notes.md C3).
    odata_path: str = "0/odata"
    max_in_flight: int = Field(default=8, ge=1, le=64)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    page_size: int = Field(default=500, ge=1, le=MAX_ROWS)
    batch_size: int = Field(default=MAX_BATCH, ge=1, le=MAX_BATCH)
    # A token is renewed this long before it expires (at most a tenth of its lifetime).
    token_refresh_margin_s: float = Field(default=60.0, ge=0)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    # The settings above look like the other connectors' (dataverse/config.py, intacct/config.py)
    # on purpose: each vendor has its own limits and defaults (connectors/settings.py is the base).
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

    @classmethod
    def conditional_missing(cls, values: Mapping[str, Any]) -> list[str]:
        needed: tuple[str, ...] = ("username", "password")
        if values.get("auth") == "oauth":
            needed = ("identity_url", "client_id", "client_secret")
        return [cls.env_name(name) for name in needed if not values.get(name)]

    @property
    def odata_base(self) -> str:
        return f"{self.url}/{self.odata_path}/"

    @property
    def token_url(self) -> str:
        base = self.identity_url or self.url
        return base if base.endswith("/connect/token") else f"{base}/connect/token"
