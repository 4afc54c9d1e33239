"""host.json, with `AzureFunctionsJobHost__*` overrides from the environment, as in Azure."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from sandbox.host.errors import HostError
from sandbox.host.timespan import parse_timespan

ENV_PREFIX = "AzureFunctionsJobHost"
# Local default of the real host for maxPollingInterval (1 min in Azure, 2 s under Core Tools).
LOCAL_MAX_POLLING_INTERVAL = timedelta(seconds=2)
MIN_POLLING_INTERVAL = timedelta(milliseconds=100)


class HostConfigError(HostError):
    """host.json (or an override) that the real host would reject too."""


def _timespan(value: object) -> object:
    if isinstance(value, str):
        return parse_timespan(value)
    return value


TimeSpan = Annotated[timedelta, BeforeValidator(_timespan)]


def _key(name: str) -> str:
    # .NET configuration keys are case-insensitive; we lower-case every key of host.json
    # and the overrides, and match fields by their lower-cased camelCase name.
    return name.replace("_", "")


class _Section(BaseModel):
    model_config = ConfigDict(alias_generator=_key, populate_by_name=True, extra="ignore")


class QueuesOptions(_Section):
    """extensions.queues; defaults of the Storage extension's QueuesOptions."""

    max_dequeue_count: int = Field(default=5, ge=1)
    visibility_timeout: TimeSpan = timedelta(0)
    batch_size: int = Field(default=16, ge=1, le=32)
    new_batch_threshold: int | None = Field(default=None, ge=0)
    max_polling_interval: TimeSpan | None = None
    message_encoding: Literal["base64", "none"] = "base64"

    @field_validator("message_encoding", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("visibility_timeout")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("visibilityTimeout must not be negative")
        return value

    @field_validator("max_polling_interval")
    @classmethod
    def _at_least_minimum(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < MIN_POLLING_INTERVAL:
            raise ValueError("maxPollingInterval must be at least 00:00:00.1")
        return value

    def effective_new_batch_threshold(self, cpu_count: int | None = None) -> int:
        if self.new_batch_threshold is not None:
            return self.new_batch_threshold
        return (self.batch_size // 2) * (cpu_count or os.cpu_count() or 1)

    def effective_max_polling_interval(self) -> timedelta:
        return self.max_polling_interval or LOCAL_MAX_POLLING_INTERVAL

    @property
    def max_parallel(self) -> int:
        return self.batch_size + self.effective_new_batch_threshold()


class HttpOptions(_Section):
    route_prefix: str = "api"

    @field_validator("route_prefix")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip("/")


class Extensions(_Section):
    queues: QueuesOptions = Field(default_factory=QueuesOptions)
    http: HttpOptions = Field(default_factory=HttpOptions)


class HostConfig(_Section):
    version: str = "2.0"
    function_timeout: TimeSpan | None = None
    extensions: Extensions = Field(default_factory=Extensions)

    @property
    def route_prefix(self) -> str:
        return self.extensions.http.route_prefix

    @property
    def queues(self) -> QueuesOptions:
        return self.extensions.queues


def _lower_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    return value


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """`AzureFunctionsJobHost__extensions__queues__batchSize=4` -> nested dict (lower-cased).

    `__` is the portable separator; `:` works too (Windows-style configuration keys).
    """
    result: dict[str, Any] = {}
    prefix = ENV_PREFIX.lower()
    for name, value in environ.items():
        path = name.replace(":", "__").split("__")
        if len(path) < 2 or path[0].lower() != prefix or not all(path[1:]):
            continue
        node = result
        for part in path[1:-1]:
            child = node.setdefault(part.lower(), {})
            if not isinstance(child, dict):
                child = node[part.lower()] = {}
            node = child
        node[path[-1].lower()] = value
    return result


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_host_config(app_dir: Path, environ: Mapping[str, str] | None = None) -> HostConfig:
    path = app_dir / "host.json"
    raw: dict[str, Any] = {}
    if path.is_file():
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise HostConfigError(f"{path} is not valid JSON: {exc}") from exc
    merged = _merge(_lower_keys(raw), env_overrides(os.environ if environ is None else environ))
    try:
        return HostConfig.model_validate(merged)
    except ValidationError as exc:
        raise HostConfigError(f"{path} (with {ENV_PREFIX}__* overrides) is invalid: {exc}") from exc
