"""A request the gateway never answers holds one of the company's two slots only until the
client's configured timeout gives it up: then both the client's slot and the gateway's are
free, and the retry is served instead of meeting GW-0010 (issue 12, item 5)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shared.connectors.intacct import IntacctClient
from shared.connectors.intacct.config import IntacctConfig
from shared.settings import Settings
from tests.support.intacct import RunningIntacct, config
from tests.support.polling import eventually


async def test_hung_requests_free_their_slots_at_the_timeout_and_retries_get_through(
    intacct: RunningIntacct, caplog: pytest.LogCaptureFixture
) -> None:
    # The gateway would hold a hung request for a minute; the client gives up at 0.3 s.
    intacct.admin.knobs(timeout_s=60)
    async with IntacctClient(config(intacct.endpoint, timeout_s=0.3, max_in_flight=2)) as client:
        await client.check()  # logged in: the calls below are the two hung ones and retries
        intacct.admin.clear_calls()
        intacct.admin.faults({"fault": "hang", "times": 2})
        with caplog.at_level(logging.WARNING, "shuttle.connectors.intacct"):
            await asyncio.gather(client.check(), client.check())  # both slots hang at once
        assert client.limiter.in_flight == 0
    stats = intacct.admin.stats()
    gateway = "POST /ia/xml/xmlgw.phtml"
    assert stats["statuses"] == {f"{gateway} hung": 2, f"{gateway} 200": 2}
    assert stats["gateway_rejected"] == 0  # no retry met a slot still held by a hung call
    assert stats["released_early"] == 2 and stats["held"] == 0
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2 and all("timed out" in m for m in retries), retries
    await eventually(intacct.admin.stats, until=lambda s: s["in_flight"] == 0, what="release")


async def test_the_timeout_is_a_setting_with_a_short_default() -> None:
    base = {
        "INTACCT_SENDER_ID": "s",
        "INTACCT_SENDER_PASSWORD": "p",
        "INTACCT_COMPANY_ID": "c",
        "INTACCT_USER_ID": "u",
        "INTACCT_USER_PASSWORD": "p",
    }
    default = IntacctConfig.from_settings(Settings.model_validate(base))
    assert default.timeout_s == 30.0
    tuned = IntacctConfig.from_settings(
        Settings.model_validate({**base, "INTACCT_TIMEOUT_SECONDS": "4.5"})
    )
    assert tuned.timeout_s == 4.5
    async with IntacctClient(tuned) as client:
        assert client._http.timeout.read == 4.5
