"""Console tests: the real page in headless Chromium (Debian's `chromium`, driven by Playwright for
Python) against a real Gateway and ApiServer on 127.0.0.1, port 0, as in tests/api/conftest.py. The
only stand-in is the channel: tests/support/scripted.ScriptedChannel, whose `.reply(address, "ACK")`
plays the field unit answering. Screenshots of each main view go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.api import ApiServer
from gateway.app import Gateway
from gateway.settings import Settings
from tests.api.conftest import DESK_CAPS, TOKENS, make_settings
from tests.support.scripted import ScriptedChannel

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "the console tests need Debian's Chromium and Playwright for Python: "
    "`apt-get update && apt-get install -y chromium` and `python3 -m pip install playwright` "
    "(never `playwright install`: the tests drive /usr/bin/chromium)"
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
VIEWPORT = {"width": 1440, "height": 900}
TIMEOUT_MS = 8000
NETWORK_NOISE = ("Failed to load resource", "WebSocket connection to")


@dataclass
class Desk:
    """A running gateway whose API server can be stopped and started again on the same port."""

    gw: Gateway
    server: ApiServer
    session: aiohttp.ClientSession
    desk: ScriptedChannel
    hook: ScriptedChannel
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def call(self, method: str, path: str, *, role: str | None = "dispatcher", json: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}
        async with self.session.request(method, self.url + path, json=json, headers=headers) as resp:
            body = await resp.json() if resp.content_type == "application/json" else await resp.text()
            return resp.status, body

    async def create(self, role: str = "dispatcher", **fields: Any) -> dict[str, Any]:
        status, body = await self.call("POST", "/api/v1/incidents", role=role, json=fields)
        assert status == 201, body
        result: dict[str, Any] = body
        return result

    async def stop_api(self) -> None:
        await self.server.__aexit__(None, None, None)

    async def start_api(self) -> None:
        self.server = ApiServer(self.gw, "127.0.0.1", self.port)
        await self.server.__aenter__()


async def _console_is_public(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """The console's files carry no secrets: a browser must load them without a token."""
    async with desk.session.get(desk.url + "/") as resp:
        assert resp.status == 200, f"GET / answered {resp.status} without a token"


@contextlib.asynccontextmanager
async def running_desk(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, *, more: Mapping[str, ScriptedChannel] | None = None
) -> AsyncIterator[Desk]:
    """`more`: scripted channels besides "desk" and "hook" (e.g. an SMS channel for surveys)."""
    desk, hook = ScriptedChannel("desk", caps=DESK_CAPS), ScriptedChannel("hook", caps=DESK_CAPS)
    async with (
        Gateway(settings, channels={"desk": desk, "hook": hook, **(more or {})}) as gw,
        gw.running(),
        aiohttp.ClientSession() as session,
    ):
        server = ApiServer(gw, "127.0.0.1", 0)
        await server.__aenter__()
        d = Desk(gw=gw, server=server, session=session, desk=desk, hook=hook, port=server.port)
        try:
            await _console_is_public(d, monkeypatch)
            yield d
        finally:
            await d.server.__aexit__(None, None, None)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def desk(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Desk]:
    async with running_desk(settings, monkeypatch) as d:
        yield d


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail(f"Playwright for Python is not installed: {INSTALL_HINT}", pytrace=False)
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: {INSTALL_HINT}", pytrace=False)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def open_page(browser: Any, desk: Desk) -> Any:
    """A fresh browser context (its own sessionStorage) on the console, with console errors kept."""
    context = await browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    # Script errors only: Chromium also logs refused requests (an expected 422 or 403) and
    # WebSocket connections refused while a test has the server stopped.
    page.on(
        "console",
        lambda msg: (
            page.errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith(NETWORK_NOISE)
            else None
        ),
    )
    await page.goto(desk.url + "/")
    return page


async def sign_in(page: Any, role: str) -> None:
    await page.get_by_label("API token").fill(TOKENS[role])
    await page.get_by_role("button", name="Sign in").click()
    await page.locator("#who").filter(has_text=role).wait_for()
    await page.locator("#link-status.live").wait_for()


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
