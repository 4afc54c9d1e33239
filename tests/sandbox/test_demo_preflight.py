"""`shuttle demo` runs the preflight before it starts any flow and prints it; on the demo
sandbox (the emulators as `shuttle demo` starts them) every solution passes."""

from __future__ import annotations

import contextlib
import json
import os

import pytest

from sandbox import cli
from sandbox.azurite import REPO_ROOT
from shared.settings import get_settings
from tests.sandbox.test_demo import demo_env, started_like_shuttle_demo

__all__ = ["demo_env"]


def test_demo_runs_the_preflight_first_and_it_passes(
    demo_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sandbox credentials, as `shuttle demo` reads them from local.settings.json.
    example = json.loads((REPO_ROOT / "local.settings.example.json").read_text())["Values"]
    for name, value in example.items():
        if name not in os.environ:
            monkeypatch.setenv(name, value)
    services = cli.SERVICES["demo"]
    assert services.index(cli.run_preflight) < services.index(cli.start_demo)
    get_settings.cache_clear()
    with started_like_shuttle_demo(demo_env) as running, contextlib.ExitStack() as stack:
        cli.run_preflight(running.args, stack)
    get_settings.cache_clear()
    printed = capsys.readouterr().out
    assert "Preflight passed" in printed, printed
    for line in ("creatio-intacct: ok", "creatio-dynamics: ok", "dataverse: ok (8 objects)"):
        assert line in printed, printed
    assert "✗" not in printed
