"""Connection settings of the Intacct connector (app settings INTACCT_*), validated once at
start-up."""

from __future__ import annotations

from typing import Annotated, ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from shared.connectors.retry import RetryPolicy
from shared.connectors.settings import AppSetting, ConnectorConfig
from shared.zones import IanaZone

SYSTEM = "intacct"
QUERY_MAX_PAGE = 2000  # the `query` function's page limit (docs/wire-notes.md I4)
READ_BY_QUERY_MAX_PAGE = 1000
READ_MAX_KEYS = 100


class IntacctConfig(ConnectorConfig):
    model_config = SettingsConfigDict(env_prefix="INTACCT_")
    TITLE: ClassVar[str] = "Intacct"

    endpoint: Annotated[str, AppSetting()] = "https://api.intacct.com/ia/xml/xmlgw.phtml"
    sender_id: Annotated[str, AppSetting()]
    sender_password: Annotated[SecretStr, AppSetting()]
    company_id: Annotated[str, AppSetting()]
    entity_id: Annotated[str | None, AppSetting()] = None
    user_id: Annotated[str, AppSetting()]
    user_password: Annotated[SecretStr, AppSetting()]
    # WHENMODIFIED is written in the API user's / company's zone (docs/wire-notes.md I7;
    # Company > Setup > Company information).
    timezone: Annotated[IanaZone, AppSetting()] = "America/Los_Angeles"
    # Requests in flight per worker; Intacct's default per-company limit is 2.
    max_in_flight: Annotated[int, AppSetting()] = Field(default=2, ge=1, le=50)
    # Short: a hung request holds one of the company's few slots until it is given up.
    timeout_s: Annotated[float, AppSetting("TIMEOUT_SECONDS")] = Field(default=30.0, gt=0, le=900)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    page_size: int = Field(default=1000, ge=1, le=QUERY_MAX_PAGE)
    # A session is renewed this long before the sessiontimeout the gateway announced.
    session_margin_s: float = Field(default=60.0, ge=0)
    # Use the <endpoint> getAPISession returns for later calls (the SDKs do).
    follow_session_endpoint: bool = True
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @field_validator("endpoint")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                "must be an http(s) URL, e.g. https://api.intacct.com/ia/xml/xmlgw.phtml"
            )
        return value

    @field_validator("entity_id")
    @classmethod
    def _entity(cls, value: str | None) -> str | None:
        return value or None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def secrets(self) -> list[str]:
        return [self.sender_password.get_secret_value(), self.user_password.get_secret_value()]
