"""What the console's browser tests share: Debian's chromium through playwright, a
server, signing in as a person does, and where screenshots go."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .server import ServerProcess, free_port

CHROMIUM = shutil.which("chromium")
#: Screenshots of the key pages, kept after the run (the README's console section uses them).
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts" / "console"

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (run.sh test installs it)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def console_server(tmp_path):
    """A control-plane server of the test's own (states settle by timer)."""
    srv = ServerProcess(tmp_path / "state", free_port()).start()
    try:
        yield srv
    finally:
        srv.stop()


def sign_in(page, srv, account: str) -> None:
    """Open the console and sign in by typing the account id, as a person does."""
    from playwright.sync_api import expect

    page.goto(srv.url + "/console/")
    page.get_by_label("Account ID").fill(account)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Account {account}")).to_be_visible()


def open_nav(page, name: str) -> None:
    """Follow a link of the console's navigation (e.g. "Instances", "Endpoint services")."""
    page.get_by_role("navigation", name="Services").get_by_role("link", name=name, exact=True).click()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
