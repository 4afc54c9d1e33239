"""The emulator's envelopes, error levels and sessions, pinned to docs/wire-notes.md I1-I4."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import datetime
from xml.etree import ElementTree as ET

import httpx

from sandbox.emulators.intacct import GATEWAY_PATH
from tests.support.intacct import (
    RunningIntacct,
    envelope,
    login_auth,
    post,
    results,
    session_auth,
    session_id,
)


def test_get_api_session_returns_session_and_own_endpoint(intacct: RunningIntacct) -> None:
    status, answer = post(intacct.url, envelope("<getAPISession/>"))
    assert status == 200
    assert answer.findtext("control/status") == "success"
    auth = answer.find("operation/authentication")
    assert auth is not None and auth.findtext("status") == "success"
    # docs/wire-notes.md I2: the session times are UTC, spelled +00:00.
    assert (auth.findtext("sessiontimeout") or "").endswith("+00:00")
    (result,) = results(answer)
    assert result.findtext("status") == "success"
    assert result.findtext("function") == "getAPISession"
    assert result.findtext("controlid") == "f1"
    assert result.findtext("data/api/sessionid")
    assert result.findtext("data/api/endpoint") == intacct.endpoint


def test_wrong_sender_is_a_control_failure_and_nothing_runs(intacct: RunningIntacct) -> None:
    create = "<create><CUSTOMER><CUSTOMERID>C1</CUSTOMERID><NAME>A</NAME></CUSTOMER></create>"
    status, answer = post(intacct.url, envelope(create, sender_password="wrong"))
    assert status == 200
    assert answer.findtext("control/status") == "failure"
    assert answer.find("operation") is None
    assert answer.findtext("errormessage/error/errorno") == "XL03000006"
    assert intacct.admin.rows("CUSTOMER") == []


def test_wrong_user_is_an_authentication_failure(intacct: RunningIntacct) -> None:
    create = "<create><CUSTOMER><CUSTOMERID>C1</CUSTOMERID><NAME>A</NAME></CUSTOMER></create>"
    status, answer = post(intacct.url, envelope(create, auth=login_auth(password="nope")))
    assert status == 200
    assert answer.findtext("control/status") == "success"
    assert answer.findtext("operation/authentication/status") == "failure"
    assert answer.findtext("operation/errormessage/error/errorno") == "XL03000006"
    assert results(answer) == []
    assert intacct.admin.rows("CUSTOMER") == []
    assert "nope" not in ET.tostring(answer, encoding="unicode")


def test_malformed_xml_is_a_control_failure_xl03000003(intacct: RunningIntacct) -> None:
    response = httpx.post(intacct.endpoint, content=b"<request><control>", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    answer = ET.fromstring(response.content)  # noqa: S314 (our own emulator's answer)
    assert answer.findtext("control/status") == "failure"
    assert answer.findtext("errormessage/error/errorno") == "XL03000003"


def test_entity_expansion_is_refused(intacct: RunningIntacct) -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><request>&a;</request>'
    _, answer = post(intacct.url, bomb)
    assert answer.findtext("errormessage/error/errorno") == "XL03000003"


def test_expired_session_is_an_authentication_failure(intacct: RunningIntacct) -> None:
    sid = session_id(intacct.url)
    _, answer = post(intacct.url, envelope("<getAPISession/>", auth=session_auth(sid)))
    assert answer.findtext("operation/authentication/status") == "success"
    assert intacct.admin.expire_sessions() == 1
    _, answer = post(intacct.url, envelope("<getAPISession/>", auth=session_auth(sid)))
    assert answer.findtext("operation/authentication/status") == "failure"
    assert answer.findtext("operation/errormessage/error/errorno") == "XL03000006"
    assert "Invalid session" in (answer.findtext("operation/errormessage/error/description2") or "")


def test_every_call_extends_the_session(intacct: RunningIntacct) -> None:
    now = [0.0]
    intacct.emulator.store.clock = lambda: now[0]
    try:
        intacct.admin.options(session_timeout_s=100)
        sid = session_id(intacct.url)
        now[0] = 60.0
        _, answer = post(intacct.url, envelope("<getAPISession/>", auth=session_auth(sid)))
        assert answer.findtext("operation/authentication/status") == "success"
        auth = answer.find("operation/authentication")
        assert auth is not None
        stamp = datetime.fromisoformat(auth.findtext("sessiontimestamp") or "")
        timeout = datetime.fromisoformat(auth.findtext("sessiontimeout") or "")
        assert (timeout - stamp).total_seconds() == 100  # a full lifetime from this call on
        now[0] = 150.0  # past the first call's expiry (100), inside the second's (160)
        _, answer = post(intacct.url, envelope("<getAPISession/>", auth=session_auth(sid)))
        assert answer.findtext("operation/authentication/status") == "success"
        now[0] = 260.1  # a lifetime after the last call
        _, answer = post(intacct.url, envelope("<getAPISession/>", auth=session_auth(sid)))
        assert answer.findtext("operation/authentication/status") == "failure"
    finally:
        intacct.emulator.store.clock = time.monotonic


def test_a_successful_reply_holds_no_error_element(intacct: RunningIntacct) -> None:
    create = "<create><CUSTOMER><CUSTOMERID>C-1</CUSTOMERID><NAME>A</NAME></CUSTOMER></create>"
    read = "<read><object>CUSTOMER</object><keys>1</keys><fields>*</fields></read>"
    _, answer = post(intacct.url, envelope(create, read, "<getAPISession/>"))
    assert [r.findtext("status") for r in results(answer)] == ["success"] * 3
    assert answer.findall(".//error") == [] and answer.findall(".//errormessage") == []


def test_session_times_out_after_its_lifetime(intacct: RunningIntacct) -> None:
    intacct.admin.options(session_timeout_s=0.001)
    sid = session_id(intacct.url)
    intacct.emulator.store.clock = lambda: 1e12  # far in the future: expired
    try:
        _, answer = post(intacct.url, envelope("<getAPISession/>", auth=session_auth(sid)))
    finally:
        intacct.emulator.store.clock = time.monotonic
    assert answer.findtext("operation/authentication/status") == "failure"


def test_create_answers_lowercase_rows_and_duplicate_ids_fail(intacct: RunningIntacct) -> None:
    create = "<create><CUSTOMER><CUSTOMERID>C-1</CUSTOMERID><NAME>Acme</NAME></CUSTOMER></create>"
    _, answer = post(intacct.url, envelope(create, create))
    first, second = results(answer)
    assert first.findtext("status") == "success"
    data = first.find("data")
    assert data is not None and data.get("listtype") == "objects" and data.get("count") == "1"
    assert first.findtext("data/customer/RECORDNO") == "1"
    assert first.findtext("data/customer/CUSTOMERID") == "C-1"
    assert second.findtext("status") == "failure"
    numbers = [e.findtext("errorno") for e in second.findall("errormessage/error")]
    assert numbers == ["BL34000061", "BL01001973"]
    assert "already exists" in (second.findtext("errormessage/error/description2") or "")
    assert len(intacct.admin.rows("CUSTOMER")) == 1


def test_transaction_rolls_back_every_function(intacct: RunningIntacct) -> None:
    good = "<create><CUSTOMER><CUSTOMERID>C-1</CUSTOMERID><NAME>A</NAME></CUSTOMER></create>"
    bad = "<create><CUSTOMER><CUSTOMERID>C-2</CUSTOMERID></CUSTOMER></create>"  # no NAME
    _, answer = post(intacct.url, envelope(good, bad, transaction=True))
    first, second = results(answer)
    assert first.findtext("status") == "aborted"
    assert first.findtext("errormessage/error/errorno") == "XL03000009"
    assert second.findtext("status") == "failure"
    assert intacct.admin.rows("CUSTOMER") == []
    _, answer = post(intacct.url, envelope(good, bad, transaction=False))
    assert [r.findtext("status") for r in results(answer)] == ["success", "failure"]
    assert len(intacct.admin.rows("CUSTOMER")) == 1


def test_special_characters_round_trip(intacct: RunningIntacct) -> None:
    name = "Smith & Sons <Ltd> \"quoted\" 'single' \u2019curly\u2019 é ü ™ © # % ; / \\ 100%\r\n\tx"
    create = ET.Element("create")
    customer = ET.SubElement(create, "CUSTOMER")
    ET.SubElement(customer, "CUSTOMERID").text = "C&1"
    ET.SubElement(customer, "NAME").text = name
    _, answer = post(intacct.url, envelope(create))
    assert results(answer)[0].findtext("status") == "success"
    read = "<read><object>CUSTOMER</object><keys>1</keys><fields>*</fields></read>"
    _, answer = post(intacct.url, envelope(read))
    assert results(answer)[0].findtext("data/customer/NAME") == name
    assert results(answer)[0].findtext("data/customer/CUSTOMERID") == "C&1"


def test_read_by_query_pages_with_result_id(intacct: RunningIntacct) -> None:
    intacct.admin.seed({"CUSTOMER": [{"CUSTOMERID": f"C{i}", "NAME": f"N{i}"} for i in range(25)]})
    query = (
        "<readByQuery><object>CUSTOMER</object><fields>RECORDNO,CUSTOMERID</fields>"
        "<query>NAME like 'N%'</query><pagesize>10</pagesize></readByQuery>"
    )
    _, answer = post(intacct.url, envelope(query))
    data = results(answer)[0].find("data")
    assert data is not None
    assert (
        data.get("listtype"),
        data.get("count"),
        data.get("totalcount"),
        data.get("numremaining"),
    ) == ("customer", "10", "25", "15")
    seen = [c.findtext("CUSTOMERID") for c in data.findall("customer")]
    result_id = data.get("resultId")
    while result_id:
        more = ET.Element("readMore")
        ET.SubElement(more, "resultId").text = result_id
        _, answer = post(intacct.url, envelope(more))
        data = results(answer)[0].find("data")
        assert data is not None
        seen += [c.findtext("CUSTOMERID") for c in data.findall("customer")]
        result_id = data.get("resultId")
    assert data.get("numremaining") == "0"
    assert sorted(seen) == sorted(f"C{i}" for i in range(25))


def test_expired_result_id_fails(intacct: RunningIntacct) -> None:
    intacct.admin.seed({"CUSTOMER": [{"CUSTOMERID": f"C{i}", "NAME": "N"} for i in range(3)]})
    query = (
        "<readByQuery><object>CUSTOMER</object><fields>*</fields><query></query>"
        "<pagesize>1</pagesize></readByQuery>"
    )
    _, answer = post(intacct.url, envelope(query))
    result_id = results(answer)[0].find("data").get("resultId")  # type: ignore[union-attr]
    assert intacct.admin.expire_results() == 1
    more = ET.Element("readMore")
    ET.SubElement(more, "resultId").text = result_id
    _, answer = post(intacct.url, envelope(more))
    assert results(answer)[0].findtext("status") == "failure"


def test_query_filters_in_company_time_and_lists_uppercase(intacct: RunningIntacct) -> None:
    intacct.admin.seed(
        {
            "CUSTOMER": [
                {"CUSTOMERID": "OLD", "NAME": "a", "WHENMODIFIED": "01/01/2024 23:59:59"},
                {"CUSTOMERID": "NEW", "NAME": "b", "WHENMODIFIED": "01/02/2024 00:00:00"},
            ]
        }
    )
    query = (
        "<query><object>CUSTOMER</object><select><field>CUSTOMERID</field>"
        "<field>WHENMODIFIED</field></select><filter><greaterthanorequalto>"
        "<field>WHENMODIFIED</field><value>01/02/2024 00:00:00</value>"
        "</greaterthanorequalto></filter><pagesize>10</pagesize></query>"
    )
    _, answer = post(intacct.url, envelope(query))
    data = results(answer)[0].find("data")
    assert data is not None and data.get("listtype") == "CUSTOMER"
    assert [c.findtext("CUSTOMERID") for c in data.findall("CUSTOMER")] == ["NEW"]
    assert data.get("totalcount") == "1" and data.get("offset") == "0"


def test_server_maintains_recordno_and_whenmodified(intacct: RunningIntacct) -> None:
    intacct.admin.options(frozen_now="03/04/2025 05:06:07")
    create = (
        "<create><ITEM><ITEMID>I1</ITEMID><NAME>Bolt</NAME><RECORDNO>99</RECORDNO></ITEM></create>"
    )
    post(intacct.url, envelope(create))
    (row,) = intacct.admin.rows("ITEM")
    assert row["RECORDNO"] == 1 and row["WHENMODIFIED"] == "03/04/2025 05:06:07"
    intacct.admin.options(frozen_now="03/04/2025 05:06:09")
    update = "<update><ITEM><ITEMID>I1</ITEMID><NAME>Nut</NAME></ITEM></update>"
    _, answer = post(intacct.url, envelope(update))
    assert results(answer)[0].findtext("status") == "success"
    (row,) = intacct.admin.rows("ITEM")
    assert row["NAME"] == "Nut" and row["WHENMODIFIED"] == "03/04/2025 05:06:09"


def test_update_of_missing_record_fails(intacct: RunningIntacct) -> None:
    update = "<update><ITEM><ITEMID>NOPE</ITEMID><NAME>x</NAME></ITEM></update>"
    _, answer = post(intacct.url, envelope(update))
    assert "Cannot update non-existing ITEM" in (
        results(answer)[0].findtext("errormessage/error/description2") or ""
    )


def test_concurrency_limit_answers_gw0010(intacct: RunningIntacct) -> None:
    intacct.admin.knobs(timeout_s=2.0)
    intacct.admin.faults({"fault": "timeout", "times": 2})
    held = [threading.Thread(target=_swallow, args=(intacct.endpoint,)) for _ in range(2)]
    for thread in held:
        thread.start()
    deadline = time.monotonic() + 10
    while intacct.admin.stats()["in_flight"] < 2:
        assert time.monotonic() < deadline, "the held requests never arrived"
        time.sleep(0.01)
    status, answer = post(intacct.url, envelope("<getAPISession/>"))
    assert status == 429
    assert answer.findtext("errormessage/error/errorno") == "GW-0010"
    assert intacct.admin.stats()["gateway_rejected"] == 1
    for thread in held:
        thread.join()


def _swallow(endpoint: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(endpoint, content=envelope("<getAPISession/>"), timeout=10)


def test_unknown_path_is_404_and_calls_are_counted(intacct: RunningIntacct) -> None:
    assert httpx.post(f"{intacct.url}/ia/xml/other", content=b"", timeout=5).status_code == 404
    post(intacct.url, envelope("<getAPISession/>", "<getAPISession/>"))
    stats = intacct.admin.stats()
    assert stats["calls"][f"POST {GATEWAY_PATH}"] == 1
    assert stats["functions"]["getAPISession"] == 2
    assert stats["logins"] == 1
