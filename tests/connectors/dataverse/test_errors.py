"""Each Dataverse error shape maps to its category (and names the field when it can)."""

from __future__ import annotations

import httpx
import pytest

from shared.connectors.dataverse import DataverseClient
from shared.connectors.dataverse.errors import error_from_response
from shared.connectors.errors import ConnectorError
from shared.errors import ErrorCategory
from tests.support.dataverse import RunningDataverse, config

MISSING = "3b9c2e0a-0000-4000-8000-000000000001"


async def _error(call: object) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        await call  # type: ignore[misc]
    return caught.value


@pytest.mark.parametrize(
    ("values", "field", "code"),
    [
        ({"name": "A", "accountcategorycode": 99}, "accountcategorycode", "0x8004431A"),
        ({"name": "A", "accountnumber": "x" * 21}, "accountnumber", "0x80044331"),
        ({"name": "A", "nosuchcolumn": 1}, "nosuchcolumn", "0x80060888"),
        ({"name": "A", "_parentaccountid_value": MISSING}, "_parentaccountid_value", "0x80060888"),
        ({"name": "A", "creditlimit": "lots"}, "creditlimit", "0x80060888"),
    ],
)
async def test_validation_errors_name_the_field(
    client: DataverseClient, values: dict[str, object], field: str, code: str
) -> None:
    error = await _error(client.create("accounts", values))
    assert (error.category, error.field, error.code, error.status) == (
        ErrorCategory.VALIDATION,
        field,
        code,
        400,
    )


async def test_a_bad_date_is_a_validation_error_on_that_field(client: DataverseClient) -> None:
    error = await _error(client.create("invoices", {"name": "I", "duedate": "2024-13-45"}))
    assert error.category is ErrorCategory.VALIDATION
    assert error.field == "duedate"
    assert "Edm.Date" in error.message


async def test_a_value_of_the_wrong_type_names_its_field(client: DataverseClient) -> None:
    error = await _error(client.create("contacts", {"lastname": "L", "birthdate": 20240501}))
    assert (error.category, error.field) == (ErrorCategory.VALIDATION, "birthdate")


async def test_not_found_and_dependency(client: DataverseClient) -> None:
    missing = await _error(client.update("accounts", MISSING, {"name": "X"}))
    assert missing.category is ErrorCategory.NOT_FOUND
    dangling = await _error(
        client.create(
            "contacts",
            {"lastname": "L", "parentcustomerid_account@odata.bind": f"/accounts({MISSING})"},
        )
    )
    assert dangling.category is ErrorCategory.DEPENDENCY


async def test_duplicate_on_create_only(client: DataverseClient) -> None:
    key = {"shuttle_creatioaccountid": "dup"}
    await client.upsert("accounts", key, {"name": "A"}, mode="create")
    error = await _error(client.upsert("accounts", key, {"name": "A"}, mode="create"))
    assert (error.category, error.status) == (ErrorCategory.DUPLICATE, 412)


async def test_forbidden_and_server_errors(
    dataverse: RunningDataverse, client: DataverseClient
) -> None:
    dataverse.admin.faults({"fault": "5xx", "path": "*/WhoAmI", "status": 403})
    assert (await _error(client.who_am_i())).category is ErrorCategory.AUTH
    dataverse.admin.faults({"fault": "5xx", "path": "*/WhoAmI", "status": 503, "times": 10})
    error = await _error(client.who_am_i())
    assert error.category is ErrorCategory.CONNECTION and error.retryable


async def test_no_server_is_a_connection_error(dataverse: RunningDataverse) -> None:
    cfg = config(dataverse, url="https://127.0.0.1:9", retry=config(dataverse).retry)
    async with DataverseClient(cfg, auth=_StaticAuth()) as client:
        error = await _error(client.who_am_i())
    assert error.category is ErrorCategory.CONNECTION


class _StaticAuth(httpx.Auth):
    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        request.headers["Authorization"] = "Bearer static"
        yield request


def _response(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "code", "message", "category"),
    [
        (401, "", "", ErrorCategory.AUTH),
        (
            403,
            "0x80040220",
            "Principal user is missing prvReadAccount privilege",
            ErrorCategory.AUTH,
        ),
        (404, "0x80040217", "account With Id = x Does Not Exist", ErrorCategory.NOT_FOUND),
        (
            412,
            "0x80060882",
            "The version of the existing record doesn't match the RowVersion property provided.",
            ErrorCategory.CONFLICT,
        ),
        (412, "", "A record with matching key values already exists.", ErrorCategory.DUPLICATE),
        (413, "", "Payload too large", ErrorCategory.VALIDATION),
        (500, "0x80040265", "Plug-in said no", ErrorCategory.VALIDATION),
        (500, "0x80040216", "An unexpected error occurred.", ErrorCategory.CONNECTION),
        (502, "", "", ErrorCategory.CONNECTION),
        (429, "0x80072322", "Number of requests exceeded the limit", ErrorCategory.RATE_LIMIT),
    ],
)
def test_error_bodies_map_to_categories(
    status: int, code: str, message: str, category: ErrorCategory
) -> None:
    response = _response(
        status, {"error": {"code": code, "message": message}}, **{"Retry-After": "7"}
    )
    error = error_from_response(response, action="write account")
    assert error.category is category
    if category is ErrorCategory.RATE_LIMIT:
        assert error.retry_after == 7


def test_an_html_error_page_is_not_copied_into_the_message() -> None:
    response = httpx.Response(502, text="<html><body>Bad gateway</body></html>")
    error = error_from_response(response, action="read accounts")
    assert error.category is ErrorCategory.CONNECTION
    assert "<html" not in error.message
