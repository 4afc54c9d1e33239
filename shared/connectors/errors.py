"""The one error type every connector raises, classified so the engine can decide: retry
(connection, rate_limit) or record and move on (validation, duplicate, not_found, auth)."""

from __future__ import annotations

from shared.errors import ErrorCategory, ShuttleError

TRANSIENT = frozenset({ErrorCategory.CONNECTION, ErrorCategory.RATE_LIMIT})


class ConnectorError(ShuttleError):
    """A call to an external system failed.

    `message` is written for an operator (what failed, on which record and field, what to do)
    and never contains a secret, a token or a session id.

    Raise sites across the connectors look alike (message, category, system, code, record
    as keywords): each states its own classification, so the shape repeats, not the logic.
    """

    def __init__(
        self,
        message: str,
        *,
        category: ErrorCategory,
        system: str,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
        record: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code or category.value, field=field)
        self.category = category
        self.system = system
        self.status = status
        self.record = record
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.category in TRANSIENT

    def __str__(self) -> str:
        where = f" (record {self.record}" + (f", field {self.field})" if self.field else ")")
        return f"{self.system}: {self.message}{where if self.record else ''}"


class InvalidValue(ConnectorError, ValueError):
    """A name or value that cannot be put into a request (a mapping or caller mistake): a
    validation error on the field, raised before anything is sent. A ValueError too, so a
    JSON or XML encoder's own refusals and these are caught together."""

    def __init__(self, message: str, field: str | None = None, *, system: str) -> None:
        super().__init__(
            message,
            category=ErrorCategory.VALIDATION,
            system=system,
            code="invalid_value",
            field=field,
        )

    def naming(self, action: str, record: str | None) -> InvalidValue:
        """The same refusal, told as part of `action` on `record` (raised where both are
        known, e.g. around building a request)."""
        named = InvalidValue(f"{action}: {self.message}", self.field, system=self.system)
        named.record = record
        return named
