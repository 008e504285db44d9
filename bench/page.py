"""Keystroke to ghost text in the writing page (`lstmtext serve`, GET /) in a real browser: Debian's Chromium,
headless, driven by Selenium, typing each of the benchmark's sentences key by key at a quick typist's pace. The
page itself times each keystroke from its `input` event to the animation frame that draws the new suggestion
(`window.lstmtext.latencies`); target: p95 ≤ 100 ms on 2 cores with the built-in model. Nothing is asserted;
where the browser is not installed the figure is left out, and the run says so."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

TARGET_P95_MS = 100.0
KEY_GAP_S = 0.12  # about 8 keys a second
_BANNER = re.compile(r"at (http://\S+)/v1")


def measure(model: str, sentences: list[str]) -> dict | None:
    """p50/p95/max over every keystroke of `sentences` (after one sentence of warm-up); None without a browser."""
    try:
        from selenium import webdriver
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
    except ImportError:
        return None
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        return None
    server = subprocess.Popen([sys.executable, "-m", "lstmtext", "serve", "--model", model, "--port", "0"],
                              stderr=subprocess.PIPE, text=True)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=webdriver.ChromeService(chromedriver), options=options)
    try:
        root = _BANNER.search(server.stderr.readline()).group(1)
        browser.get(root + "/")
        box = browser.find_element(By.ID, "text")
        for index, sentence in enumerate(sentences[:1] + sentences):  # the first: warm-up
            if index == 1:
                browser.execute_script("window.lstmtext.latencies.length = 0; window.lstmtext.asked = 0")
            for character in sentence:
                box.send_keys(character)
                time.sleep(KEY_GAP_S)
            box.send_keys(Keys.ENTER)
            time.sleep(0.3)
        samples = browser.execute_script("return window.lstmtext.latencies")
        asked = browser.execute_script("return window.lstmtext.asked")
    finally:
        browser.quit()
        server.terminate()
        server.wait(30)
    return _summary(samples, asked) if samples else None


def _summary(samples: list[float], asked: int) -> dict:
    """The figures over the keystrokes answered; `answered`: their share of those asked for (a keystroke whose
    answer a newer one made stale is not drawn, and not counted)."""
    ordered = sorted(samples)
    return {"p50": round(ordered[len(ordered) // 2], 1), "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
            "max": round(ordered[-1], 1), "count": len(ordered), "answered": round(len(ordered) / max(asked, 1), 3),
            "target_p95_ms": TARGET_P95_MS}
