"""Connection settings of the Intacct connector, validated once at start-up."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from shared.connectors.errors import ConnectorError
from shared.connectors.retry import RetryPolicy
from shared.errors import ErrorCategory
from shared.settings import Settings
from shared.zones import iana_zone

SYSTEM = "intacct"
QUERY_MAX_PAGE = 2000  # the `query` function's page limit (api-facts §2.6)
READ_BY_QUERY_MAX_PAGE = 1000
READ_MAX_KEYS = 100


class IntacctConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    endpoint: str
    sender_id: str
    sender_password: SecretStr
    company_id: str
    entity_id: str | None = None
    user_id: str
    user_password: SecretStr
    # WHENMODIFIED is written in the API user's / company's zone (api-facts §2.8).
    timezone: str = "America/Los_Angeles"
    max_in_flight: int = Field(default=2, ge=1, le=50)
    # Short: a hung request holds one of the company's few slots until it is given up.
    timeout_s: float = Field(default=30.0, gt=0)
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

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return iana_zone(value)

    @field_validator("entity_id")
    @classmethod
    def _entity(cls, value: str | None) -> str | None:
        return value or None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def secrets(self) -> list[str]:
        return [self.sender_password.get_secret_value(), self.user_password.get_secret_value()]

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> IntacctConfig:
        """From the app settings; a missing setting is an auth error that names it."""
        needed = {
            "INTACCT_SENDER_ID": settings.intacct_sender_id,
            "INTACCT_SENDER_PASSWORD": settings.intacct_sender_password,
            "INTACCT_COMPANY_ID": settings.intacct_company_id,
            "INTACCT_USER_ID": settings.intacct_user_id,
            "INTACCT_USER_PASSWORD": settings.intacct_user_password,
        }
        missing = [name for name, value in needed.items() if not value]
        if missing:
            raise ConnectorError(
                f"Intacct is not configured: set {', '.join(missing)} in the app settings",
                category=ErrorCategory.AUTH,
                system=SYSTEM,
                code="not_configured",
            )
        values: dict[str, object] = {
            "endpoint": settings.intacct_endpoint,
            "sender_id": settings.intacct_sender_id,
            "sender_password": settings.intacct_sender_password,
            "company_id": settings.intacct_company_id,
            "entity_id": settings.intacct_entity_id,
            "user_id": settings.intacct_user_id,
            "user_password": settings.intacct_user_password,
            "timezone": settings.intacct_timezone,
            "max_in_flight": settings.intacct_max_in_flight,
            "timeout_s": settings.intacct_timeout_s,
            **overrides,
        }
        return cls.model_validate(values)
