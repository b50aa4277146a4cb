"""The static review page in a real (headless) Chromium: it renders the pre-annotated report,
a click and a few keys change the answers, Save writes a file that `review import` takes."""
from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.request

import pandas as pd
import pytest

from radcurate.dags.cli import main
from test_labeling_cli import mined_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
websocket = pytest.importorskip("websocket", reason="websocket-client is a test dependency")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed "
                                                         "(make system-deps installs it)")


class Chromium:
    """Just enough of the DevTools protocol: evaluate, click, key, screenshot, downloads."""

    def __init__(self, profile, downloads):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--remote-debugging-port={port}", f"--user-data-dir={profile}",
             "--window-size=1200,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while True:
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
                page = next(t for t in targets if t["type"] == "page")
                break
            except (OSError, StopIteration):
                if time.time() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("chromium did not start")
                time.sleep(0.2)
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.n = 0
        self.call("Page.enable")
        self.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads))

    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.n:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expr):
        return self.call("Runtime.evaluate", expression=expr, returnByValue=True)["result"].get("value")

    def click(self, selector):
        box = self.js(f"(() => {{const r = document.querySelector({json.dumps(selector)})"
                      ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]})()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left",
                      clickCount=1)

    def key(self, key, code=None):
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=code or key,
                      text=key if len(key) == 1 and kind == "keyDown" else "",
                      windowsVirtualKeyCode={"Enter": 13, "ArrowDown": 40}.get(key, ord(key.upper()[0])))

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        self.proc.terminate()
        self.proc.wait(timeout=30)


def test_page_click_keys_and_save_round_trip(tmp_path, capsys):
    d = mined_dir(tmp_path)
    page = tmp_path / "review.html"
    assert main(["review", "export", "--mined", str(d), "--n", "3", "--format", "html",
                 "--out", str(page)]) == 0
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser = Chromium(tmp_path / "profile", downloads)
    try:
        browser.call("Page.navigate", url=page.as_uri())
        for _ in range(100):
            if browser.js("document.readyState") == "complete":
                break
            time.sleep(0.1)
        first = browser.js("document.getElementById('title').textContent")
        assert first.startswith("Report R")
        assert browser.js("document.querySelectorAll('#text mark').length") >= 1  # evidence shown
        shot = base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])
        assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 5000
        (tmp_path / "page.png").write_bytes(shot)
        # a click: Effusion -> negative on the first report
        browser.click('button[data-f="Effusion"][data-c="negative"]')
        assert browser.js("document.querySelector('button[data-f=Effusion][data-c=negative]')"
                          ".className") == "on"
        # keys: next report, first finding (Atelectasis) -> uncertain
        browser.key("j")
        browser.key("u")
        browser.click("#reviewer")
        browser.js("document.getElementById('reviewer').value = 'rad1'")
        browser.click("#save")
        deadline = time.time() + 30
        while not list(downloads.glob("*.jsonl")) and time.time() < deadline:
            time.sleep(0.2)
        browser.js("0")
    finally:
        browser.close()
    saved = downloads / "review-answers.jsonl"
    rows = [json.loads(line) for line in saved.read_text().splitlines()]
    assert len(rows) == 2 and all(r["reviewer"] == "rad1" for r in rows)
    assert rows[0]["Effusion"] == 0 and rows[1]["Atelectasis"] == -1
    store = tmp_path / "store"
    assert main(["review", "import", str(saved), "--store", str(store), "--mined", str(d)]) == 0
    stored = pd.read_csv(store / "reviewed.csv", dtype={"report_id": str}).set_index("report_id")
    assert stored.loc[rows[0]["report_id"], "Effusion"] == 0
    assert stored.loc[rows[1]["report_id"], "Atelectasis"] == -1
