"""One headless Debian chromium for the whole session (Playwright's own browser download
cannot work here, so it is driven through executable_path), and the real app under the local
host with the Creatio and Intacct emulators behind it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.conftest import RunningHost, e2e_azurite, start_host, stop_host
from tests.support.creatio import RunningCreatio, running_creatio
from tests.support.engine import creatio_settings, intacct_settings
from tests.support.intacct import RunningIntacct, running_intacct

__all__ = ["e2e_azurite"]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"


# Module scope (one module, so one browser for the session): Playwright's sync API holds an
# event loop open in the main thread, which async tests of later modules cannot share.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is missing: `make browser` installs it (apt, as root)")
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where chromium's sandbox cannot start.
        instance = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield instance
        instance.close()


@dataclass
class Console:
    host: RunningHost
    creatio: RunningCreatio
    intacct: RunningIntacct

    @property
    def url(self) -> str:
        return f"{self.host.base_url}/console"


@pytest.fixture(scope="module")
def console(e2e_azurite: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_creatio() as creatio, running_intacct() as intacct:
        env = {**creatio_settings(creatio), **intacct_settings(intacct)}
        host = start_host(e2e_azurite, tmp_path_factory.mktemp("console"), **env)  # type: ignore[arg-type]
        try:
            yield Console(host, creatio, intacct)
        finally:
            stop_host(host)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    tab = context.new_page()
    yield tab
    context.close()


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)
