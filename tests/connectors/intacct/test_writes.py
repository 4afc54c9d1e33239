"""Writes over real HTTP: special characters, several functions per request, transactions,
a create retried after a lost answer, and the in-flight limit under 50 concurrent upserts."""

from __future__ import annotations

import asyncio

import httpx

from shared.connectors.intacct import Call, IntacctClient, IntacctSync
from shared.connectors.intacct import functions as fn
from shared.connectors.protocol import SourceRef
from tests.support.intacct import RunningIntacct, config

SPECIAL = "Smith & Sons <Ltd> \"q\" 'apos' \u2019curly\u2019 é ñ ü ™ © € # % ; \\ / ]]> &amp;"
# Line breaks (CR LF survives only as a character reference), tabs, trailing blanks, and the
# punctuation the mappings refuse in IDs.
MORE = "? : @ = + $ ! * ( ) [ ] { } | ^ ~ ` line\r\nbreak\rold-mac\ttab  "


async def test_special_characters_round_trip(
    client: IntacctClient, intacct: RunningIntacct
) -> None:
    await client.create(
        "CUSTOMER",
        {
            "CUSTOMERID": "C&<1>",
            "NAME": SPECIAL,
            "DISPLAYCONTACT": {"PRINTAS": SPECIAL, "EMAIL1": "a&b@x.test"},
            "COMMENTS": MORE,
        },
    )
    (row,) = await client.read("CUSTOMER", ["1"])
    assert row["NAME"] == SPECIAL and row["COMMENTS"] == MORE
    assert row["CUSTOMERID"] == "C&<1>"
    assert row["DISPLAYCONTACT"] == {"PRINTAS": SPECIAL, "EMAIL1": "a&b@x.test"}
    for name, value in (("NAME", SPECIAL), ("COMMENTS", MORE)):
        found = await client.query("CUSTOMER", ["CUSTOMERID"], filter=fn.eq(name, value))
        assert [r["CUSTOMERID"] for r in found.records] == ["C&<1>"]


async def test_several_functions_per_request_have_their_own_results(
    client: IntacctClient, intacct: RunningIntacct
) -> None:
    calls = [
        Call(fn.create("CUSTOMER", {"CUSTOMERID": f"M{i}", "NAME": "n"}), "create")
        for i in range(3)
    ]
    calls.append(Call(fn.create("CUSTOMER", {"CUSTOMERID": "M0", "NAME": "twin"}), "create"))
    results = await client.execute(calls)
    assert [r.status for r in results] == ["success", "success", "success", "failure"]
    assert results[3].errors[0].errorno == "BL34000061"
    assert len(intacct.admin.rows("CUSTOMER")) == 3
    assert sum(intacct.admin.stats()["calls"].values()) == 2  # the login, then one request


async def test_transaction_group_succeeds_or_fails_together(
    client: IntacctClient, intacct: RunningIntacct
) -> None:
    calls = [
        Call(fn.create("CUSTOMER", {"CUSTOMERID": "T1", "NAME": "n"}), "create"),
        Call(fn.create("CUSTOMER", {"CUSTOMERID": "T2"}), "create"),
    ]  # no NAME
    results = await client.execute(calls, transaction=True)
    assert [r.status for r in results] == ["aborted", "failure"]
    assert intacct.admin.rows("CUSTOMER") == []


async def test_create_retried_after_dropped_answer_leaves_one_record(
    sync: IntacctSync, intacct: RunningIntacct
) -> None:
    await sync.check()  # log in first, so the fault hits the create
    intacct.admin.faults({"fault": "drop_after", "times": 1})
    source = SourceRef(system="creatio", object="Account", id="a-1")
    outcome = await sync.create("CUSTOMER", {"NAME": "Acme"}, source=source)
    assert len(intacct.admin.rows("CUSTOMER")) == 1
    assert outcome.created is False  # the retry found the record the lost call made
    assert outcome.id == intacct.admin.rows("CUSTOMER")[0]["CUSTOMERID"]


class LoseFirstCreateAnswer(httpx.AsyncHTTPTransport):
    """Real HTTP, but the answer to the first request holding a create is lost after the
    emulator committed it (the scripted faults cannot tell a create from the find before)."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if self.lost == 0 and b"<create_invoice>" in request.content:
            self.lost += 1
            await response.aread()
            raise httpx.RemoteProtocolError("connection lost", request=request)
        return response


async def test_document_create_retried_after_lost_answer_leaves_one(
    intacct: RunningIntacct,
) -> None:
    # Where a company allows repeated document numbers, no duplicate answer would save us.
    intacct.admin.options(unique_document_numbers=False)
    intacct.admin.seed({"CUSTOMER": [{"CUSTOMERID": "C1", "NAME": "A"}]})
    transport = LoseFirstCreateAnswer()
    sync = IntacctSync(IntacctClient(config(intacct.endpoint), transport=transport))
    try:
        source = SourceRef(system="creatio", object="Order", id="o-1")
        values = {"CUSTOMERID": "C1", "lines": [{"TRX_AMOUNT": "10", "ACCOUNTNO": "4000"}]}
        first = await sync.create("ARINVOICE", values, source=source)
        assert transport.lost == 1
        assert first.created is False  # the retry looked first and found the committed one
        again = await sync.create("ARINVOICE", values, source=source)
        assert len(intacct.admin.rows("ARINVOICE")) == 1
        assert first.id == again.id and again.created is False
        other = SourceRef(system="creatio", object="Order", id="o-2")
        fresh = await sync.create("ARINVOICE", values, source=other)
        assert fresh.created is True and len(intacct.admin.rows("ARINVOICE")) == 2
    finally:
        await sync.aclose()


async def test_in_flight_limit_holds_for_50_concurrent_upserts(intacct: RunningIntacct) -> None:
    intacct.admin.knobs(latency_ms=5)
    async with IntacctClient(config(intacct.endpoint)) as client:  # default limit 2
        sync = IntacctSync(client)
        await asyncio.gather(
            *(
                sync.create(
                    "CUSTOMER",
                    {"NAME": f"N{i}"},
                    source=SourceRef(system="creatio", object="Account", id=str(i)),
                )
                for i in range(50)
            )
        )
    stats = intacct.admin.stats()
    assert len(intacct.admin.rows("CUSTOMER")) == 50
    assert stats["gateway_in_flight_max"] <= 2
    assert stats["gateway_rejected"] == 0
    assert stats["logins"] == 1


async def test_a_client_over_the_limit_is_throttled_and_recovers(intacct: RunningIntacct) -> None:
    intacct.admin.knobs(latency_ms=5)
    async with IntacctClient(config(intacct.endpoint, max_in_flight=8)) as client:
        await client.check()
        await asyncio.gather(
            *(client.create("CUSTOMER", {"CUSTOMERID": f"X{i}", "NAME": "n"}) for i in range(30))
        )
    stats = intacct.admin.stats()
    assert stats["gateway_rejected"] > 0  # the emulator enforces the limit...
    assert len(intacct.admin.rows("CUSTOMER")) == 30  # ...and GW-0010 is retried
