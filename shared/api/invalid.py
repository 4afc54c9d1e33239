"""A request that pydantic refused, as the 422 the control API answers: the first problem,
named by its field."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import RequestValidationError

M = TypeVar("M", bound=BaseModel)


def request_error(exc: ValidationError) -> RequestValidationError:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or None
    where = f"{field}: " if field else ""
    return RequestValidationError(f"{where}{err['msg']}", field=field)


def parse_query(model: type[M], params: dict[str, str]) -> M:
    """Query parameters into `model`; an empty value counts as not given."""
    try:
        return model.model_validate({k: v for k, v in params.items() if v != ""})
    except ValidationError as exc:
        raise request_error(exc) from None
