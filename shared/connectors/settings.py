"""Each connector's config is a pydantic-settings class with its env prefix (CREATIO_,
INTACCT_, DATAVERSE_): a field annotated with `AppSetting` is the app setting
`<prefix><NAME>` (its only declaration), the other fields are tuning with code defaults and
never read from the environment. The checks, the conditional credentials included, are the
class's validators, so "configured" means "the config validates"."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, ClassVar, Self

from pydantic import SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory
from shared.settings import Settings, unresolved

# The environment a config is read from when not the process's (`from_environ`): a context
# variable because pydantic-settings builds its sources inside the constructor.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("connector_environ", default=None)


class AppSetting:
    """Marks a config field as an app setting: `<prefix><name>`, or `<prefix><env>`."""

    def __init__(self, env: str | None = None) -> None:
        self.env = env


class NotConfigured(ValueError):
    """Settings a connector needs are not set; the message names each env variable."""

    def __init__(self, title: str, missing: list[str]) -> None:
        super().__init__(f"{title} is not configured: set {', '.join(missing)} in the app settings")
        self.missing = missing


class _AppSettingsOnly(EnvSettingsSource):
    """The environment (or a given mapping of it), read only for the `AppSetting` fields and
    only under the name `ConnectorConfig.env_name` gives."""

    def __init__(
        self, settings_cls: type[ConnectorConfig], environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(settings_cls)
        self.config_cls = settings_cls
        if environ is not None:
            self.env_vars = {k.lower(): v for k, v in environ.items() if v != ""}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name not in self.config_cls.setting_fields():
            return None, field_name, False
        return self.env_vars.get(self.config_cls.env_name(field_name).lower()), field_name, False


class ConnectorConfig(BaseSettings):
    """Base of each connector's config (shared/connectors/*/config.py)."""

    # Empty values count as unset (local.settings.example.json lists every setting, some
    # blank); validation errors never echo the input (it holds passwords).
    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", env_ignore_empty=True, hide_input_in_errors=True
    )
    TITLE: ClassVar[str]

    # The pydantic-settings hook's signature, as shared/settings.py overrides it too.
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The same environment Settings (shared/settings.py) reads: no .env or secrets files.
        return init_settings, _AppSettingsOnly(cls, _ENVIRON.get())

    @classmethod
    def setting_fields(cls) -> dict[str, AppSetting]:
        return {
            name: marks[0]
            for name, info in cls.model_fields.items()
            if (marks := [m for m in info.metadata if isinstance(m, AppSetting)])
        }

    @classmethod
    def env_name(cls, field: str) -> str:
        mark = cls.setting_fields().get(field)
        return f"{cls.model_config.get('env_prefix', '')}{(mark and mark.env) or field.upper()}"

    @classmethod
    def env_names(cls) -> list[str]:
        return [cls.env_name(name) for name in cls.setting_fields()]

    @classmethod
    def secret_names(cls) -> set[str]:
        """Env names of the settings that hold secrets (SecretStr fields)."""
        return {
            cls.env_name(name)
            for name in cls.setting_fields()
            if _secret(cls.model_fields[name].annotation)
        }

    @classmethod
    def conditional_missing(cls, values: Mapping[str, Any]) -> list[str]:
        """Env names of settings needed only in some cases (an auth mode's credentials)."""
        return []

    @model_validator(mode="before")
    @classmethod
    def _all_given(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # A secret still reading "@Microsoft.KeyVault(...)" counts as missing, never sent.
        data = {k: v for k, v in data.items() if not unresolved(v)}
        missing = [
            cls.env_name(name)
            for name, info in cls.model_fields.items()
            if info.is_required() and _blank(data.get(name))
        ]
        missing += cls.conditional_missing(data)
        if missing:
            raise NotConfigured(cls.TITLE, missing)
        return data

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Self:
        """From the environment (or `environ`, the same names), `overrides` on top; missing
        settings are an auth error `not_configured` naming each env variable."""
        token = _ENVIRON.set(environ)
        try:
            return cls(**overrides)  # type: ignore[arg-type]
        except ValidationError as exc:
            for error in exc.errors():
                reason = (error.get("ctx") or {}).get("error")
                if isinstance(reason, NotConfigured):
                    raise ConnectorError(
                        str(reason),
                        category=ErrorCategory.AUTH,
                        system=cls.TITLE.lower(),
                        code="not_configured",
                    ) from None
            raise
        finally:
            _ENVIRON.reset(token)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> Self:
        """From the connector settings `settings` carries (shared/settings.py)."""
        return cls.from_environ(settings.connector_environ(), **overrides)

    @classmethod
    def configured(cls, settings: Settings) -> bool:
        """Whether the settings make a valid config (not whether the system answers)."""
        try:
            cls.from_settings(settings)
        except (ConnectorError, ValidationError):
            return False
        return True


def _secret(annotation: object) -> bool:
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())


def _blank(value: Any) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is None or value == ""
