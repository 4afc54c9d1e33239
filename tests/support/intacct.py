"""A real Intacct emulator on a free 127.0.0.1 port, its admin API, connector configs and a
raw request builder for wire tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from defusedxml import ElementTree as SafeET

from sandbox.emulators.intacct import GATEWAY_PATH, IntacctEmulator, Options, create_app
from sandbox.emulators.server import EmulatorServer
from shared.connectors.intacct import IntacctConfig
from shared.connectors.retry import RetryPolicy
from tests.support.emulator_admin import EmulatorAdmin

SENDER, SENDER_PASSWORD = "SHUTTLE_SANDBOX", "sandbox-sender-password"
COMPANY, USER, USER_PASSWORD = "SANDBOX", "ws_shuttle", "sandbox-user-password"
FAST_RETRY = RetryPolicy(attempts=6, base_delay_s=0.02, max_delay_s=0.3, total_s=30.0)


class Admin(EmulatorAdmin):
    """The Intacct emulator's admin API: besides the common routes, its tables and the
    results of offline requests."""

    def rows(self, object: str) -> list[dict[str, Any]]:
        return self._ok(self.http.get(f"/rows/{object}"))["rows"]  # type: ignore[no-any-return]

    def expire_results(self) -> int:
        return int(self._ok(self.http.post("/results/expire"))["expired"])


@dataclass
class RunningIntacct:
    emulator: IntacctEmulator
    server: EmulatorServer
    admin: Admin

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def endpoint(self) -> str:
        return f"{self.server.url}{GATEWAY_PATH}"


@contextmanager
def running_intacct(options: Options | None = None) -> Iterator[RunningIntacct]:
    emulator = create_app(options)
    with EmulatorServer(emulator.asgi, name="intacct-emulator-test") as server:
        admin = Admin(server.url)
        try:
            yield RunningIntacct(emulator, server, admin)
        finally:
            admin.close()


def config(endpoint: str, **overrides: Any) -> IntacctConfig:
    values: dict[str, Any] = {
        "endpoint": endpoint,
        "sender_id": SENDER,
        "sender_password": SENDER_PASSWORD,
        "company_id": COMPANY,
        "user_id": USER,
        "user_password": USER_PASSWORD,
        "timeout_s": 5.0,
        "retry": FAST_RETRY,
        **overrides,
    }
    return IntacctConfig(**values)


# -- raw wire requests (emulator tests) --------------------------------------------------------
def login_auth(
    user: str = USER, password: str = USER_PASSWORD, company: str = COMPANY
) -> ET.Element:
    auth = ET.Element("authentication")
    login = ET.SubElement(auth, "login")
    ET.SubElement(login, "userid").text = user
    ET.SubElement(login, "companyid").text = company
    ET.SubElement(login, "password").text = password
    return auth


def session_auth(session_id: str) -> ET.Element:
    auth = ET.Element("authentication")
    ET.SubElement(auth, "sessionid").text = session_id
    return auth


def envelope(
    *functions: str | ET.Element,
    auth: ET.Element | None = None,
    sender: str = SENDER,
    sender_password: str = SENDER_PASSWORD,
    transaction: bool = False,
) -> bytes:
    """A request; each function is an element or XML text of the function's body."""
    root = ET.Element("request")
    control = ET.SubElement(root, "control")
    for name, value in (
        ("senderid", sender),
        ("password", sender_password),
        ("controlid", "test-1"),
        ("uniqueid", "false"),
        ("dtdversion", "3.0"),
    ):
        ET.SubElement(control, name).text = value
    operation = ET.SubElement(root, "operation", transaction=str(transaction).lower())
    operation.append(auth if auth is not None else login_auth())
    content = ET.SubElement(operation, "content")
    for number, body in enumerate(functions, 1):
        function = ET.SubElement(content, "function", controlid=f"f{number}")
        function.append(SafeET.fromstring(body) if isinstance(body, str) else body)
    # A raw CR would reach the emulator as LF (XML end-of-line handling): send it as &#13;,
    # as a correct client does.
    return ET.tostring(root, encoding="utf-8", xml_declaration=True).replace(b"\r", b"&#13;")


def post(url: str, body: bytes) -> tuple[int, ET.Element]:
    response = httpx.post(
        f"{url}{GATEWAY_PATH}",
        content=body,
        timeout=10,
        headers={"Content-Type": "application/xml"},
    )
    return response.status_code, SafeET.fromstring(response.content)


def results(answer: ET.Element) -> list[ET.Element]:
    return answer.findall("operation/result")


def session_id(url: str) -> str:
    status, answer = post(url, envelope("<getAPISession/>"))
    assert status == 200
    return answer.findtext("operation/result/data/api/sessionid") or ""


# -- pytest fixtures (imported by the conftests that use them) --------------------------------
@pytest.fixture(scope="session")
def intacct_server() -> Iterator[RunningIntacct]:
    with running_intacct() as running:
        yield running


@pytest.fixture
def intacct(intacct_server: RunningIntacct) -> RunningIntacct:
    """The session's emulator, reset: no rows, default options and knobs, no sessions."""
    intacct_server.admin.reset()
    return intacct_server
