"""The writing page of `lstmtext serve`, in a real browser: Debian's Chromium driven headless by Selenium through
Debian's chromedriver, against a real server with the built-in model. Typing key by key shows ghost text, Tab
accepts it; ranked completions are inserted with a click; a generation streams in; the gates view reads out a
value; text that looks like HTML stays text; nothing is fetched from anywhere but the server.

With LSTMTEXT_SCREENSHOTS=DIR, each view is saved there as a PNG (docs/page-*.png come from such a run)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import pytest

from .conftest import PACKAGE_BUILTIN
from .serving import Server

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
from selenium.webdriver import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("the page's browser tests need Debian's chromium and chromium-driver (apt-get install chromium "
                "chromium-driver); they are not installed here", allow_module_level=True)

PROMPT = "When there is fi"
WAIT = 20  # seconds a view may take to answer on a loaded 2-core machine


@pytest.fixture(scope="module")
def english():
    import lstmtext

    return lstmtext.load(PACKAGE_BUILTIN)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(PACKAGE_BUILTIN, tmp_path_factory.mktemp("page-home"))
    yield running
    running.stop_cleanly()


def _browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,760",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser():
    driver = _browser()
    yield driver
    driver.quit()


@pytest.fixture()
def page(browser, server):
    browser.get(server.root + "/")
    _waiting(browser).until(lambda b: b.find_element(By.ID, "model").get_attribute("value"))
    return browser


def _waiting(browser) -> WebDriverWait:
    return WebDriverWait(browser, WAIT, poll_frequency=0.01)


def _screenshot(browser, name: str) -> None:
    folder = os.environ.get("LSTMTEXT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(folder) / f"page-{name}.png"))


def _ghost(browser) -> str:
    return browser.find_element(By.ID, "ghost").get_attribute("textContent")


def _type(browser, text: str) -> list[str]:
    """Type `text` key by key, each key's suggestion awaited; the ghost text seen after each key."""
    box, seen = browser.find_element(By.ID, "text"), []
    for key in text:
        answered = browser.execute_script("return window.lstmtext.latencies.length")
        box.send_keys(key)
        _waiting(browser).until(
            lambda b, answered=answered: b.execute_script("return window.lstmtext.latencies.length") > answered)
        seen.append(_ghost(browser))
    return seen


def test_the_page_loads_from_this_server_alone_under_a_strict_policy(page, server):
    policy = httpx.get(server.root + "/", timeout=30).headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "unsafe-inline" not in policy
    _type(page, "The")
    requested = {json.loads(entry["message"])["message"]["params"]["request"]["url"]
                 for entry in page.get_log("performance")
                 if json.loads(entry["message"])["message"]["method"] == "Network.requestWillBeSent"}
    assert requested and all(url.startswith(server.root + "/") for url in requested), requested
    assert not [entry for entry in page.get_log("browser") if entry["level"] == "SEVERE"]


def test_typing_shows_ghost_text_and_tab_accepts_it(page, english):
    seen = _type(page, PROMPT)
    assert seen[-1] == english.suggest(PROMPT, max_chars=32) != ""
    _screenshot(page, "write")
    page.find_element(By.ID, "text").send_keys(Keys.TAB)
    assert page.find_element(By.ID, "text").get_attribute("value") == PROMPT + seen[-1]


def test_the_rest_of_a_suggestion_stays_while_the_next_is_asked_for(page, english):
    ghost = _type(page, PROMPT)[-1]
    box = page.find_element(By.ID, "text")
    box.send_keys(ghost[0])  # the rest is drawn at the keystroke (unless the next answer is already in)
    assert _ghost(page) in (ghost[1:], english.suggest(PROMPT + ghost[0], max_chars=32))
    box.send_keys("#")  # no longer matches: nothing until the next answer
    assert _ghost(page) in ("", english.suggest(PROMPT + ghost[0] + "#", max_chars=32))


def test_a_ranked_completion_is_inserted_with_a_click(page, english):
    _type(page, "It was the best of")
    page.find_element(By.ID, "ranked-go").click()
    items = _waiting(page).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#ranked-list li"))
    expected = english.complete("It was the best of", n=5, until="sentence")
    shown = [item.find_element(By.CLASS_NAME, "completion").get_attribute("textContent") for item in items]
    assert shown == [completion.text for completion in expected]
    _screenshot(page, "completions")
    items[0].click()
    assert page.find_element(By.ID, "text").get_attribute("value") == "It was the best of" + expected[0].text


def test_a_generation_streams_into_the_text(page):
    _type(page, "The night")
    page.find_element(By.CSS_SELECTOR, "[data-view=generate]").click()
    length = page.find_element(By.ID, "length")
    length.clear()
    length.send_keys("40")
    page.find_element(By.ID, "generate-go").click()
    _waiting(page).until(lambda b: b.find_element(By.ID, "generate-go").is_enabled()
                                    and len(b.find_element(By.ID, "text").get_attribute("value")) > 40)
    assert page.find_element(By.ID, "text").get_attribute("value").startswith("The night")
    assert page.find_element(By.ID, "status").text == ""
    _screenshot(page, "generate")


def test_the_gates_view_reads_out_a_value(page, english):
    _type(page, "The cat sat on the mat.")
    page.find_element(By.CSS_SELECTOR, "[data-view=memory]").click()
    page.find_element(By.ID, "memory-go").click()
    cells = _waiting(page).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#heatmap div"))
    inspection = english.inspect("The cat sat on the mat.", show="forget", count=16)
    assert len(cells) == len(inspection.tokens) * len(inspection.units)
    cell = cells[len(inspection.tokens) + 2]  # the second unit, the third token
    ActionChains(page).move_to_element(cell).perform()
    readout = page.find_element(By.ID, "memory-readout").text
    value = inspection.values[2][1]
    assert readout == f"{json.dumps(inspection.tokens[2])} · unit {inspection.units[1].index} · forget {value:.3f}"
    _screenshot(page, "memory")


def test_text_that_looks_like_html_stays_text(page):
    hostile = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    page.find_element(By.ID, "text").send_keys(hostile)
    page.find_element(By.ID, "ranked-go").click()
    _waiting(page).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#ranked-list li"))
    page.find_element(By.CSS_SELECTOR, "[data-view=memory]").click()
    page.find_element(By.ID, "memory-go").click()
    _waiting(page).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#heatmap div"))
    assert page.execute_script("return window.pwned") is None
    assert not page.find_elements(By.CSS_SELECTOR, "main img, main script")
    assert "<script>" in page.find_element(By.ID, "memory-text").get_attribute("textContent")


def test_learning_from_what_is_written_opens_a_session_the_page_closes_when_it_goes(page, server):
    page.find_element(By.ID, "learn").click()
    _waiting(page).until(lambda b: httpx.get(server.root + "/health", timeout=30).json()["writing_sessions"] == 1)
    for _ in range(2):
        _type(page, "The wizard Zorbulax came down the hill.")
        page.find_element(By.ID, "text").send_keys(Keys.ENTER)
    _waiting(page).until(lambda b: b.find_element(By.ID, "learned").text not in ("", "(0 learned)"))
    assert _type(page, "Then Zor")[-1] != ""  # answered by the session
    page.get("about:blank")  # the page goes
    _waiting(page).until(lambda b: httpx.get(server.root + "/health", timeout=30).json()["writing_sessions"] == 0)


def test_behind_an_api_key_the_page_asks_for_it(tmp_path):
    key = "page-test-key-123"
    running = Server(PACKAGE_BUILTIN, tmp_path, "--api-key", key)
    driver = _browser()
    try:
        driver.get(running.root + "/")
        _waiting(driver).until(lambda b: b.find_element(By.ID, "key").is_displayed())
        driver.find_element(By.ID, "key").send_keys(key + Keys.ENTER)
        _waiting(driver).until(lambda b: b.find_element(By.ID, "model").get_attribute("value"))
        assert _type(driver, "When there is fi")[-1] != ""
        assert driver.execute_script("return sessionStorage.getItem('lstmtext-key')") == key
    finally:
        driver.quit()
        assert running.stop() == 0
