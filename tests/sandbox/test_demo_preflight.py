"""`shuttle demo` runs the preflight before it starts any flow and prints it; on the demo
sandbox (the emulators as `shuttle demo` starts them) every solution passes. `shuttle check`
exits 1 while something is missing and 0 once it is back; `shuttle provision dataverse`
fills a bare Dataverse, and a second run changes nothing."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import ssl
from collections.abc import Iterator

import httpx
import pytest

from sandbox import cli
from sandbox.azurite import REPO_ROOT
from sandbox.tls import ensure_tls
from shared.settings import get_settings
from tests.sandbox.test_demo import Stack, demo_env, started_like_shuttle_demo

__all__ = ["demo_env"]


@pytest.fixture
def sandbox(demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    # The sandbox credentials, as `shuttle demo` reads them from local.settings.json.
    example = json.loads((REPO_ROOT / "local.settings.example.json").read_text())["Values"]
    for name, value in example.items():
        if name not in os.environ:
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    sigterm = signal.getsignal(signal.SIGTERM)  # cli.main installs its own
    try:
        with started_like_shuttle_demo(demo_env) as running:
            yield running
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        get_settings.cache_clear()


def admin(url: str) -> httpx.Client:
    verify = ssl.create_default_context(cafile=str(ensure_tls().ca_path))
    return httpx.Client(base_url=f"{url}/_emulator", verify=verify, timeout=10)


def test_demo_runs_the_preflight_first_and_it_passes(
    sandbox: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    services = cli.SERVICES["demo"]
    assert services.index(cli.run_preflight) < services.index(cli.start_demo)
    with contextlib.ExitStack() as stack:
        cli.run_preflight(sandbox.args, stack)
    printed = capsys.readouterr().out
    assert "Preflight passed" in printed, printed
    for line in ("creatio-intacct: ok", "creatio-dynamics: ok"):
        assert line in printed, printed
    # How many objects each checks grows with the solutions (price lists, currencies).
    assert re.search(r"dataverse: ok \(\d+ objects\)", printed), printed
    assert "✗" not in printed


def test_check_exits_1_while_a_field_is_missing_and_0_once_it_is_back(
    sandbox: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    with admin(sandbox.urls["creatio"]) as creatio:
        creatio.delete("/metadata/Product/UsrErpLastModified").raise_for_status()
        assert cli.main(["check", "--no-cache"]) == 1
        printed = capsys.readouterr().out
        assert "✗ creatio Product has no field UsrErpLastModified" in printed, printed
        assert "items-to-creatio" in printed and "products-to-creatio" in printed
        creatio.post("/metadata/restore").raise_for_status()
    assert cli.main(["check", "--no-cache"]) == 0


def test_provision_dataverse_through_the_cli(
    sandbox: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    with admin(sandbox.urls["dataverse"]) as dataverse:
        dataverse.post("/metadata/unprovision").raise_for_status()
        # Indexes Active at once: the wait between reads is the CLI's real one.
        dataverse.put("/metadata/options", json={"key_activation_reads": 0}).raise_for_status()
        assert cli.main(["check", "--no-cache"]) == 1
        assert cli.main(["provision", "dataverse", "--dry-run"]) == 0
        dry = capsys.readouterr().out
        assert "account: would create column shuttle_creatioaccountid (text, 100)" in dry
        assert cli.main(["provision", "dataverse"]) == 0
        done = capsys.readouterr().out
        assert "account: created alternate key shuttle_creatioaccountid_key" in done
        assert cli.main(["provision", "dataverse"]) == 0
        assert "nothing to do" in capsys.readouterr().out
        assert cli.main(["check", "--no-cache"]) == 0


def test_demo_once_refuses_to_go_on_when_the_preflight_fails(
    sandbox: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    with admin(sandbox.urls["creatio"]) as creatio:
        creatio.delete("/metadata/Product/UsrErpLastModified").raise_for_status()
        with contextlib.ExitStack() as stack:
            cli.run_preflight(sandbox.args, stack)  # the interactive demo shows it, goes on
            vars(sandbox.args)["once"] = True
            with pytest.raises(cli.HostError, match="preflight did not pass"):
                cli.run_preflight(sandbox.args, stack)
        assert "✗ creatio Product has no field UsrErpLastModified" in capsys.readouterr().out
