"""Query parameters and refused bodies become a 422 naming the field (shared/api/invalid.py)."""

from __future__ import annotations

import pytest
from pydantic import RootModel, ValidationError

from shared.api.invalid import parse_query, request_error
from shared.api.monitor import PlanQuery, RunFilter, parse_filter, parse_plan_query
from shared.errors import RequestValidationError


def test_a_bad_query_value_names_its_field() -> None:
    with pytest.raises(RequestValidationError) as caught:
        parse_filter({"limit": "0"})
    assert caught.value.field == "limit"
    assert str(caught.value).startswith("limit: ")
    with pytest.raises(RequestValidationError) as caught:
        parse_plan_query({"outcome": "bogus"})
    assert caught.value.field == "outcome"


def test_an_empty_query_value_counts_as_not_given() -> None:
    assert parse_filter({"limit": "", "flow": ""}) == RunFilter()
    assert parse_plan_query({"after": "", "limit": "7"}) == PlanQuery(limit=7)


def test_an_unknown_query_parameter_is_refused_where_the_model_forbids_it() -> None:
    with pytest.raises(RequestValidationError) as caught:
        parse_query(PlanQuery, {"afterr": "x"})
    assert caught.value.field == "afterr"


def test_a_problem_without_a_field_has_no_field_prefix() -> None:
    class Whole(RootModel[int]):
        pass

    with pytest.raises(ValidationError) as caught:
        Whole.model_validate("x")
    error = request_error(caught.value)
    assert error.field is None
    assert not str(error).startswith("None")
