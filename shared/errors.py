"""Shuttle's error hierarchy: one base, a category on every error, never a secret in a message."""

from __future__ import annotations

from enum import StrEnum


class ErrorCategory(StrEnum):
    """The categories a run log shows — the operator's runbook is keyed on these
    (docs/operations.md §2, "Errors by category")."""

    VALIDATION = "validation"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not_found"
    DEPENDENCY = "dependency"
    CONFLICT = "conflict"
    AUTH = "auth"
    CONNECTION = "connection"
    RATE_LIMIT = "rate_limit"
    INTERNAL = "internal"


class ShuttleError(Exception):
    """Base of every error Shuttle raises on purpose."""

    code: str = "internal"
    category: ErrorCategory = ErrorCategory.INTERNAL

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


# The classes below look alike on purpose: each is a code and a category that callers catch
# by class; the behaviour is ShuttleError's.
class DefinitionError(ShuttleError):
    """A solution definition file is broken; raised at start-up, names file, flow and field."""

    code = "definition"
    category = ErrorCategory.VALIDATION


class NotFoundError(ShuttleError):
    code = "not_found"
    category = ErrorCategory.NOT_FOUND


class ConflictError(ShuttleError):
    """A request that the current state forbids (HTTP 409)."""

    code = "conflict"
    category = ErrorCategory.CONFLICT


class RequestValidationError(ShuttleError):
    """A request body or parameter with a bad value (HTTP 422); `field` names it."""

    code = "validation"
    category = ErrorCategory.VALIDATION


class ConcurrencyError(ShuttleError):
    """An optimistic-concurrency write lost to another writer more often than we retry."""

    code = "concurrent_update"
    category = ErrorCategory.CONFLICT
