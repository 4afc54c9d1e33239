"""Starting the emulator the way `shuttle dev` does, with the sandbox's default settings."""

from __future__ import annotations

from sandbox.azurite import free_port, is_listening
from sandbox.emulators.intacct.service import start_local
from tests.support.intacct import envelope, post


def test_start_local_serves_on_the_endpoints_port_and_stops() -> None:
    port = free_port()
    server = start_local(f"http://127.0.0.1:{port}/ia/xml/xmlgw.phtml")
    assert server is not None
    try:
        assert server.url == f"http://127.0.0.1:{port}"
        status, answer = post(server.url, envelope("<getAPISession/>"))
        assert status == 200
        assert answer.findtext("operation/result/status") == "success"
        # A second start finds the port taken and leaves it to the first.
        assert start_local(f"http://127.0.0.1:{port}/ia/xml/xmlgw.phtml") is None
    finally:
        server.stop()
    assert not is_listening(port)


def test_start_local_leaves_the_real_gateway_alone() -> None:
    assert start_local("https://api.intacct.com/ia/xml/xmlgw.phtml") is None
