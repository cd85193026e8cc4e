"""The browser driver (tests/cdp.py) does what the page tests rely on, in real headless Chromium:
isolated contexts share no storage (two tablets), offline emulation fails requests and going back
online restores them, what a page put in IndexedDB while offline is there after a reload."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.cdp import Chromium

PAGE = b"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>driver</title></head>
<body><p id="p">ready</p><script>
window.ping = () => fetch('/ping').then(r => r.text()).catch(() => 'failed');
window.idbPut = (v) => new Promise((ok, bad) => {
  const open = indexedDB.open('queue', 1);
  open.onupgradeneeded = () => open.result.createObjectStore('items');
  open.onsuccess = () => { const tx = open.result.transaction('items', 'readwrite');
    tx.objectStore('items').put(v, 'k'); tx.oncomplete = () => ok(true); tx.onerror = bad; };
});
window.idbGet = () => new Promise((ok) => {
  const open = indexedDB.open('queue', 1);
  open.onupgradeneeded = () => open.result.createObjectStore('items');
  open.onsuccess = () => { const r = open.result.transaction('items').objectStore('items').get('k');
    r.onsuccess = () => ok(r.result === undefined ? null : r.result); };
});
</script></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"pong" if self.path == "/ping" else PAGE
        self.send_response(200)
        self.send_header("content-type", "text/plain" if self.path == "/ping" else "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join(5)


@pytest.mark.browser
def test_isolated_contexts_offline_and_indexeddb_across_a_reload(chromium: Chromium, site: str) -> None:
    async def run() -> None:
        async with chromium.page(isolated=True) as first, chromium.page(isolated=True) as second:
            for page in (first, second):
                await page.navigate(site)
                await page.wait_for("!!(document.getElementById('p') && window.idbPut)", 10, "the page")
            assert await first.evaluate("ping()") == "pong"
            await first.set_offline(True)
            assert await first.evaluate("ping()") == "failed"
            assert await second.evaluate("ping()") == "pong"  # the other tablet is still online
            assert await first.evaluate("idbPut('entered offline')") is True
            await first.set_offline(False)
            assert await first.evaluate("ping()") == "pong"
            await first.reload()
            await first.wait_for("!!window.idbGet", 10, "the reloaded page")
            assert await first.evaluate("idbGet()") == "entered offline"
            assert await second.evaluate("idbGet()") is None  # no storage shared between contexts

    asyncio.run(run())
