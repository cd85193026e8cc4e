"""The browser driver every page test uses: headless Chromium (Debian's ``chromium``) over the
Chrome DevTools Protocol.

No browser download, no extra dependency: the browser is a child process with
``--remote-debugging-port`` and we speak CDP over the ``websockets`` client uvicorn already needs.
It does what the page tests need and no more: tabs at 1920x1080 (or isolated in a browser context
of their own, like a second device), JavaScript evaluated and awaited, bounded waits on a page
condition, reloads, offline network emulation and screenshots. Playwright would bring the same
through a second runtime (its Node driver) and its own browser build expectations; this file is
the whole of it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from services.embedded.waiting import free_port

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--window-size=1920,1080",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class Page:
    """One page target: send commands, evaluate JavaScript, take screenshots."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for raw in self._ws:
            msg = json.loads(raw)
            future = self._pending.pop(msg.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(msg)

    async def call(self, method: str, within_s: float = 10.0, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        await self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        async with asyncio.timeout(within_s):
            msg = await future
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        result: dict[str, Any] = msg.get("result", {})
        return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JS error: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, within_s: float, what: str, interval: float = 0.05) -> Any:
        """Poll a JS expression until truthy; bounded by ``within_s``."""
        deadline = time.monotonic() + within_s
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what} not within {within_s}s (last value {value!r})")
            await asyncio.sleep(interval)

    async def navigate(self, url: str) -> None:
        await self.call("Page.enable")
        await self.call("Page.navigate", url=url)

    async def reload(self) -> None:
        await self.call("Page.reload", ignoreCache=True)

    async def set_offline(self, offline: bool) -> None:
        """Network emulation: with ``offline`` every request of the page fails, as on a dropped Wi-Fi."""
        await self.call("Network.enable")
        await self.call(
            "Network.emulateNetworkConditions", offline=offline, latency=0, downloadThroughput=-1, uploadThroughput=-1
        )

    async def block_urls(self, patterns: list[str]) -> None:
        """Requests matching ``patterns`` (``*`` wildcards) fail as if the server were unreachable; [] unblocks."""
        await self.call("Network.enable")
        await self.call("Network.setBlockedURLs", urls=patterns)

    async def screenshot(self, path: Path) -> None:
        data = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        await asyncio.to_thread(_write_file, path, base64.b64decode(data["data"]))

    async def set_viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        """Emulate a screen of ``width`` x ``height`` CSS pixels (``mobile``: a phone's viewport rules)."""
        await self.call(
            "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile
        )

    async def add_init_script(self, source: str) -> None:
        """Run ``source`` in every document of this tab before its own scripts (from the next navigation)."""
        await self.call("Page.enable")
        await self.call("Page.addScriptToEvaluateOnNewDocument", source=source)

    async def press_key(self, key: str, code: str, key_code: int, *, shift: bool = False, text: str = "") -> None:
        """A real key press (down, up) as the keyboard sends it, e.g. ``press_key("Tab", "Tab", 9)``;
        ``text`` for a key that types (Enter's ``"\\r"`` activates a focused link)."""
        event: dict[str, Any] = {
            "key": key,
            "code": code,
            "windowsVirtualKeyCode": key_code,
            "modifiers": 8 if shift else 0,
        }
        down: dict[str, Any] = {"type": "keyDown", "text": text} if text else {"type": "rawKeyDown"}
        await self.call("Input.dispatchKeyEvent", **down, **event)
        await self.call("Input.dispatchKeyEvent", type="keyUp", **event)

    async def type_text(self, text: str) -> None:
        """Type ``text`` into the focused element, as an input method commits it (one input event)."""
        await self.call("Input.insertText", text=text)

    async def screenshot_full(self, path: Path) -> None:
        """The whole page at the viewport's width, beyond the viewport's height."""
        size = (await self.call("Page.getLayoutMetrics"))["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)
        await asyncio.to_thread(_write_file, path, base64.b64decode(data["data"]))

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self._ws.close()


class Chromium:
    """A headless Chromium child process with a DevTools endpoint on a free port."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        self._log = Path(self._profile) / "chromium.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Chromium:
        with self._log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={self._profile}",
                    f"--remote-debugging-port={self.port}",
                    "about:blank",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited: {self._log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/version", timeout=1):
                    return self
            except OSError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"chromium DevTools not up within {timeout}s") from None
                time.sleep(0.1)

    def _browser_ws(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/version", timeout=5) as resp:
            url: str = json.load(resp)["webSocketDebuggerUrl"]
            return url

    def _new_target(self) -> dict[str, Any]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=5) as resp:
            target: dict[str, Any] = json.load(resp)
            return target

    @contextlib.asynccontextmanager
    async def page(self, *, isolated: bool = False) -> AsyncIterator[Page]:
        """A new tab at 1920x1080. ``isolated``: in a browser context of its own (its own cookies,
        storage and IndexedDB, like a second device), disposed with the tab."""
        if isolated:
            async with self._isolated_target() as target, self._attached(target) as page:
                yield page
            return
        target = await asyncio.to_thread(self._new_target)
        async with self._attached(target) as page:
            yield page

    @contextlib.asynccontextmanager
    async def _isolated_target(self) -> AsyncIterator[dict[str, Any]]:
        browser_ws = await asyncio.to_thread(self._browser_ws)
        async with connect(browser_ws, open_timeout=10) as ws:
            browser = Page(ws)
            try:
                context = (await browser.call("Target.createBrowserContext"))["browserContextId"]
                created = await browser.call("Target.createTarget", url="about:blank", browserContextId=context)
                target_id = created["targetId"]
                yield {"id": target_id, "webSocketDebuggerUrl": f"ws://127.0.0.1:{self.port}/devtools/page/{target_id}"}
                await browser.call("Target.disposeBrowserContext", browserContextId=context)
            finally:
                await browser.close()

    @contextlib.asynccontextmanager
    async def _attached(self, target: dict[str, Any]) -> AsyncIterator[Page]:
        async with connect(target["webSocketDebuggerUrl"], max_size=64 * 2**20, open_timeout=10) as ws:
            page = Page(ws)
            try:
                await page.call(
                    "Emulation.setDeviceMetricsOverride", width=1920, height=1080, deviceScaleFactor=1, mobile=False
                )
                yield page
            finally:
                await page.close()
                await asyncio.to_thread(self._close_target, target["id"])

    def _close_target(self, target_id: str) -> None:
        """Close the tab, so its connections (an SSE stream) end before the server under test stops."""
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/close/{target_id}", timeout=5),
        ):
            pass

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        shutil.rmtree(self._profile, ignore_errors=True)
