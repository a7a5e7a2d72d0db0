"""Browser-test helpers: the app served by uvicorn in a thread (on a FrozenClock), Debian's Chromium.

Never downloads a browser: a missing ``/usr/bin/chromium`` fails the test (install it, see ``.ci/run``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import ConsoleMessage, Dialog, Error, Page

from torrent_streamer.app import create_app
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.core.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@dataclass
class LiveServer:
    """The real app on a loopback port, in a uvicorn thread; tests drive its clock."""

    app: FastAPI
    clock: FrozenClock
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the server's event loop (e.g. a database write with the app's engine)."""
        loop = self.server_loop
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=30)

    server_loop: asyncio.AbstractEventLoop = field(init=False)


@contextmanager
def live_server(settings: Settings, clock: FrozenClock) -> Iterator[LiveServer]:
    app = create_app(settings, clock=clock)
    # The socket is bound here and handed to uvicorn: a port picked free and bound later can be taken
    # in between (seen in CI: "address already in use").
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", loop="asyncio")
    server = uvicorn.Server(config)
    loops: list[asyncio.AbstractEventLoop] = []

    def serve() -> None:
        loop = asyncio.new_event_loop()
        loops.append(loop)
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.serve(sockets=[sock]))
        loop.close()

    thread = threading.Thread(target=serve, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the live server did not start")
        time.sleep(0.05)
    live = LiveServer(app=app, clock=clock, port=port, server=server, thread=thread)
    live.server_loop = loops[0]
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@dataclass
class PageWatch:
    """Console errors, page errors and dialogs seen by a page (CSP violations land in the console)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    confirms: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type in ("error", "warning"):
                self.console_errors.append(message.text)

        def on_page_error(error: Error) -> None:
            self.page_errors.append(str(error))

        page.on("console", on_console)
        page.on("pageerror", on_page_error)

        def on_dialog(dialog: Dialog) -> None:
            if dialog.type == "confirm" and dialog.message.endswith("are you sure?"):
                self.confirms.append(dialog.message)  # the panel's own confirmation of destructive actions
                dialog.accept()
            else:  # anything else (alert, prompt) would be injected script
                self.dialogs.append(f"{dialog.type}: {dialog.message}")
                dialog.dismiss()

        page.on("dialog", on_dialog)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console_errors if "Content Security Policy" in m or "Refused to" in m]

    def assert_clean(self) -> None:
        assert self.csp_violations() == [], self.csp_violations()
        assert self.page_errors == [], self.page_errors
        assert self.dialogs == [], self.dialogs


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
