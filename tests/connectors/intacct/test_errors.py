"""Each of Intacct's error shapes maps to its category, over real HTTP where the emulator
makes it, else through a scripted transport."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from shared.connectors.errors import ConnectorError
from shared.connectors.intacct import OBJECTS, IntacctClient, IntacctSync, derived_id
from shared.connectors.protocol import SourceRef
from shared.connectors.retry import RetryPolicy
from shared.errors import ErrorCategory as C
from tests.support.intacct import RunningIntacct, config
from tests.support.polling import eventually

ONE_TRY = RetryPolicy(attempts=1)


async def _error(action: Callable[[], object]) -> ConnectorError:
    with pytest.raises(ConnectorError) as raised:
        await action()  # type: ignore[misc]
    return raised.value


async def test_duplicate(client: IntacctClient, intacct: RunningIntacct) -> None:
    await client.create("CUSTOMER", {"CUSTOMERID": "C1", "NAME": "a"})
    error = await _error(
        lambda: client.create("CUSTOMER", {"CUSTOMERID": "C1", "NAME": "b"}, record="C1")
    )
    assert error.category is C.DUPLICATE and error.code == "BL34000061"
    assert error.record == "C1" and not error.retryable


async def test_validation_names_the_field(client: IntacctClient, intacct: RunningIntacct) -> None:
    error = await _error(lambda: client.create("CUSTOMER", {"CUSTOMERID": "C1"}))
    assert error.category is C.VALIDATION and error.field == "NAME"
    error = await _error(lambda: client.create("CUSTOMER", {"CUSTOMERID": "C" * 21, "NAME": "x"}))
    assert error.category is C.VALIDATION and error.field == "CUSTOMERID"


async def test_control_characters_are_refused_before_sending(
    client: IntacctClient, intacct: RunningIntacct
) -> None:
    error = await _error(lambda: client.create("CUSTOMER", {"CUSTOMERID": "C1", "NAME": "a\x01"}))
    assert error.category is C.VALIDATION and error.field == "NAME"
    assert intacct.admin.stats()["requests"] == 0


async def test_missing_reference_is_a_dependency(
    sync: IntacctSync, intacct: RunningIntacct
) -> None:
    source = SourceRef(system="creatio", object="Order", id="o-1")
    values = {"CUSTOMERID": "GONE", "lines": [{"TRX_AMOUNT": 1}]}
    error = await _error(lambda: sync.create("ARINVOICE", values, source=source))
    assert error.category is C.DEPENDENCY and error.field == "CUSTOMERID"
    assert error.record == derived_id(OBJECTS["ARINVOICE"], source)


async def test_update_of_missing_record_is_not_found(
    client: IntacctClient, intacct: RunningIntacct
) -> None:
    error = await _error(lambda: client.update("ITEM", {"ITEMID": "NOPE", "NAME": "x"}))
    assert error.category is C.NOT_FOUND and error.field == "ITEMID"


async def test_gw0010_is_rate_limit_and_retried(intacct: RunningIntacct) -> None:
    async with IntacctClient(config(intacct.endpoint)) as client:
        await client.check()
        intacct.admin.faults({"fault": "429", "times": 2, "retry_after": 0})
        await client.check()  # two GW-0010 answers, then success
        assert client.limiter.throttled_count == 2
    async with IntacctClient(config(intacct.endpoint, retry=ONE_TRY)) as client:
        await client.check()
        intacct.admin.faults({"fault": "429", "times": 1, "retry_after": 0})
        error = await _error(client.check)
    assert error.category is C.RATE_LIMIT and error.code == "GW-0010" and error.status == 429


async def test_5xx_and_dropped_connections_are_connection_errors(intacct: RunningIntacct) -> None:
    async with IntacctClient(config(intacct.endpoint, retry=ONE_TRY)) as client:
        await client.check()
        intacct.admin.faults({"fault": "5xx", "status": 502})
        error = await _error(client.check)
        assert error.category is C.CONNECTION and error.status == 502 and error.retryable
        intacct.admin.faults({"fault": "drop"})
        error = await _error(client.check)
        assert error.category is C.CONNECTION and error.code == "connection"
    # The gateway holds the call past the client's read timeout.
    intacct.admin.knobs(timeout_s=1.0)
    async with IntacctClient(config(intacct.endpoint, retry=ONE_TRY, timeout_s=0.2)) as client:
        await client.check()
        intacct.admin.faults({"fault": "timeout"})
        error = await _error(client.check)
    assert error.category is C.CONNECTION and error.code == "timeout" and error.retryable
    # The held call still counts against the company's limit until the gateway lets go:
    # wait for it, so the next test starts with every slot free.
    await eventually(intacct.admin.stats, until=lambda s: s["in_flight"] == 0, what="release")


def _scripted(body: bytes, status: int = 200) -> httpx.MockTransport:
    login = (
        b"<response><control><status>success</status></control><operation><authentication>"
        b"<status>success</status></authentication><result><status>success</status>"
        b"<function>getAPISession</function><controlid>x</controlid><data><api>"
        b"<sessionid>SID-SECRET</sessionid><endpoint>http://ia.test/gw</endpoint></api>"
        b"</data></result></operation></response>"
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if b"<login>" in request.content:
            return httpx.Response(200, content=login)
        return httpx.Response(status, content=body)

    return httpx.MockTransport(handler)


async def _scripted_error(body: bytes, status: int = 200) -> ConnectorError:
    client = IntacctClient(
        config("http://ia.test/gw", retry=ONE_TRY), transport=_scripted(body, status)
    )
    async with client:
        return await _error(client.check)


async def test_control_level_parse_error_is_internal() -> None:
    error = await _scripted_error(
        b"<response><control><status>failure</status></control><errormessage><error>"
        b"<errorno>XL03000003</errorno><description>XML Parse error</description></error>"
        b"</errormessage></response>"
    )
    assert error.category is C.INTERNAL and error.code == "XL03000003"


async def test_expired_demo_company_is_auth() -> None:
    error = await _scripted_error(
        b"<response><control><status>failure</status></control><errormessage><error>"
        b"<errorno>PL04000055</errorno><description>This company is expired.</description>"
        b"</error></errormessage></response>"
    )
    assert error.category is C.AUTH


async def test_html_answer_is_internal_and_200_garbage_is_internal() -> None:
    error = await _scripted_error(b"<html><body>oops</body></html>", 404)
    assert error.category is C.INTERNAL and error.status == 404
    error = await _scripted_error(b"not xml at all")
    assert error.category is C.INTERNAL and error.code == "bad_answer"


async def test_second_session_rejection_is_auth_and_hides_the_session() -> None:
    rejected = (
        b"<response><control><status>success</status></control><operation><authentication>"
        b"<status>failure</status></authentication><errormessage><error><errorno>XL03000006"
        b"</errorno><description2>Invalid session SID-SECRET</description2></error>"
        b"</errormessage></operation></response>"
    )
    client = IntacctClient(
        config("http://ia.test/gw", retry=ONE_TRY), transport=_scripted(rejected)
    )
    async with client:
        error = await _error(client.check)
    assert error.category is C.AUTH
    assert "SID-SECRET" not in str(error)
    assert client.logins == 2  # the first rejection renews the session once, no more


@pytest.mark.parametrize(
    ("errorno", "text"),
    [
        ("PL05000104", "Duplicate entry"),  # a number other integrators treat as duplicate
        ("BL01001973", "A customer with ID C1 already exists"),  # only the text says so
    ],
)
async def test_duplicates_are_known_by_number_or_by_text(errorno: str, text: str) -> None:
    error = await _scripted_error(
        b"<response><control><status>success</status></control><operation><authentication>"
        b"<status>success</status></authentication><result><status>failure</status>"
        b"<function>getAPISession</function><controlid>x</controlid><errormessage><error>"
        b"<errorno>"
        + errorno.encode()
        + b"</errorno><description2>"
        + text.encode()
        + b"</description2></error></errormessage></result></operation></response>"
    )
    assert error.category is C.DUPLICATE and error.code == errorno


async def test_an_answer_declaring_entities_is_refused_unexpanded() -> None:
    # defusedxml refuses entity declarations (billion laughs, external entities) outright.
    error = await _scripted_error(
        b'<?xml version="1.0"?><!DOCTYPE response [<!ENTITY x "EXPANDED">]>'
        b"<response><control><status>success</status></control><operation><authentication>"
        b"<status>success</status></authentication><result><status>success</status>"
        b"<function>getAPISession</function><controlid>x</controlid><data>&x;</data>"
        b"</result></operation></response>"
    )
    assert error.category is C.INTERNAL and error.code == "bad_answer"
    assert "EXPANDED" not in str(error)


async def test_function_failure_with_support_id_is_cleaned() -> None:
    error = await _scripted_error(
        b"<response><control><status>success</status></control><operation><authentication>"
        b"<status>success</status></authentication><result><status>failure</status>"
        b"<function>getAPISession</function><controlid>x</controlid><errormessage><error>"
        b"<errorno>BL01001973</errorno><description2>Field PRICE is invalid [Support ID: "
        b"abc%7E123]</description2></error></errormessage></result></operation></response>"
    )
    assert error.category is C.VALIDATION and error.field == "PRICE"
    assert "Support ID" not in str(error)
