"""`lsm serve` in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium; the
driver is named explicitly so Selenium Manager never downloads a browser). The server is a child
process on 127.0.0.1 with a free port, in a fake HOME. Without chromium these tests fail: .ci/run
installs it."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome
from test_web_api import GITHUB, hostile_session

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
LIVE = "web-live"


def require_chromium() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.access(p, os.X_OK) or shutil.which(p))]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: apt-get install chromium chromium-driver (.ci/run does)")


def live_line(n: int, output_tokens: int) -> dict[str, Any]:
    """One assistant reply of the live session, at the present time."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return {
        "type": "assistant", "isSidechain": False, "sessionId": LIVE, "cwd": "/work/live",
        "timestamp": stamp, "uuid": f"live-a{n}", "requestId": f"live-r{n}",
        "message": {"id": f"live-m{n}", "model": "claude-sonnet-4-5-20250929", "role": "assistant",
                    "content": [{"type": "text", "text": "ok"}],
                    "usage": {"input_tokens": 100, "output_tokens": output_tokens,
                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}},
    }  # fmt: skip


def live_session(fake: FakeHome) -> Path:
    folder = fake.projects / "-work-live"
    folder.mkdir(parents=True, exist_ok=True)
    user = {
        "type": "user", "isSidechain": False, "sessionId": LIVE, "cwd": "/work/live", "uuid": "u1",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "message": {"role": "user", "content": "a session that grows while the page is open"},
    }  # fmt: skip
    path = folder / f"{LIVE}.jsonl"
    path.write_text(json.dumps(user) + "\n" + json.dumps(live_line(1, 50)) + "\n", encoding="utf-8")
    return path


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str

    def stop(self) -> str:
        self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err


def start_server(fake: FakeHome, *args: str) -> Server:
    """`lsm serve --port 0 ARGS` in the fake HOME; returns once it prints its address."""
    process = subprocess.Popen(
        [sys.executable, "-m", "llm_session_manager", "serve", "--port", "0", *args],
        env=fake.env(),
        cwd=str(fake.home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 1.0)
        if ready:
            line = process.stderr.readline()
            if "dashboard at " in line:
                url = line.split("dashboard at ", 1)[1].split(" ", 1)[0].rstrip(";")
                return Server(process, url)
            if not line and process.poll() is not None:
                break
    process.kill()
    raise AssertionError(f"lsm serve did not start: {process.communicate()[1]}")


def chrome() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    require_chromium()
    options = Options()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture
def home(fake_home: FakeHome) -> FakeHome:
    hostile_session(fake_home)
    live_session(fake_home)
    return fake_home


@pytest.fixture
def server(home: FakeHome) -> Iterator[Server]:
    srv = start_server(home)
    yield srv
    err = srv.stop()
    assert "Traceback" not in err, err


@pytest.fixture
def browser() -> Iterator[Any]:
    driver = chrome()
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def wait(driver: Any, condition: Any, seconds: float = 20) -> Any:
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    def checked(d: Any) -> Any:
        try:
            return condition(d)
        except WebDriverException as exc:
            # A form post replaces the document: an element found just before the swap and read just after
            # is reported by Chrome as an inspector error rather than as stale. Any other error still fails.
            if "does not belong to the document" in str(exc.msg):
                raise StaleElementReferenceException(exc.msg) from exc
            raise

    ignored = (NoSuchElementException, StaleElementReferenceException)  # the page is being replaced
    return WebDriverWait(driver, seconds, poll_frequency=0.2, ignored_exceptions=ignored).until(checked)


def loaded(driver: Any, url: str, rows: int = 7) -> None:
    """Open the sessions page and wait for its rows and its live stream."""
    driver.get(url)
    wait(driver, lambda d: len(d.find_elements("css selector", "#sessions tbody tr[data-id]")) >= rows)
    wait(driver, lambda d: d.find_element("id", "live").get_attribute("class") == "live on")


def cell(driver: Any, session_id: str, key: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'tr[data-id="{session_id}"] td[data-key="{key}"]')


# ---------------------------------------------------------------------------------------------------


def test_chromium_is_installed() -> None:
    """The browser tests need the system chromium; a missing one is a failure, never a skip."""
    require_chromium()
    version = subprocess.run([CHROMEDRIVER, "--version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0 and "ChromeDriver" in version.stdout


def test_sessions_page_lists_fixture_sessions(server: Server, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    loaded(browser, server.url)
    ids = {tr.get_attribute("data-id") for tr in browser.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")}
    expected = {
        "claude-code:ses_stage0_small",
        "claude-code:session-alpha",
        "claude-code:representative",
        f"claude-code:{LIVE}",
        "claude-code:web-hostile",
    }
    assert expected <= ids
    assert cell(browser, "claude-code:session-alpha", "agent").text == "claude-code"
    assert browser.find_element(By.ID, "count").text == str(len(ids))
    assert console_errors(browser) == []


def test_sort_filter_and_facets(server: Server, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    loaded(browser, server.url)
    rows = "#sessions tbody tr"

    def visible() -> list[str]:
        return [
            tr.get_attribute("data-id")
            for tr in browser.find_elements(By.CSS_SELECTOR, rows)
            if tr.is_displayed()
        ]

    browser.find_element(By.CSS_SELECTOR, 'th[data-key="tokens"] button').click()  # most tokens first
    tokens = [
        float(td.get_attribute("data-sort"))
        for td in browser.find_elements(By.CSS_SELECTOR, f'{rows} td[data-key="tokens"]')
    ]
    assert tokens == sorted(tokens, reverse=True)
    browser.find_element(By.ID, "filter").send_keys("alpha")
    assert visible() == ["claude-code:session-alpha"]
    browser.find_element(By.ID, "filter").clear()
    browser.find_element(By.ID, "filter").send_keys(" ")  # clear() fires no input event
    Select(browser.find_element(By.CSS_SELECTOR, 'select[data-facet="project"]')).select_by_value("hostile")
    assert visible() == ["claude-code:web-hostile"]
    assert console_errors(browser) == []


def test_appended_transcript_line_updates_the_row_without_reload(
    home: FakeHome, server: Server, browser: Any
) -> None:
    loaded(browser, server.url)
    browser.execute_script("window.__sameDocument = 'yes';")
    sid = f"claude-code:{LIVE}"
    before = cell(browser, sid, "tokens").text
    assert before == "150"  # one reply: 100 in, 50 out
    path = home.projects / "-work-live" / f"{LIVE}.jsonl"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(live_line(2, 4900)) + "\n")
    wait(browser, lambda d: cell(d, sid, "tokens").text != before)
    assert cell(browser, sid, "tokens").text == "5.2k"  # 150 + 5,000
    assert browser.execute_script("return window.__sameDocument;") == "yes"  # no reload
    assert "changed" in browser.find_element("css selector", f'tr[data-id="{sid}"]').get_attribute("class")
    assert console_errors(browser) == []


def test_tag_edited_in_the_page_shows_in_lsm_list(home: FakeHome, server: Server, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server.url + "sessions/ses_stage0")
    box = browser.find_element(By.ID, "tag-input")
    box.send_keys("from-browser")
    box.submit()
    wait(
        browser, lambda d: "from-browser" in [e.text for e in d.find_elements(By.CSS_SELECTOR, ".tags .tag")]
    )
    browser.find_element(By.ID, "description").send_keys("described in the page")
    browser.find_element(By.CSS_SELECTOR, "#describe-form button").click()
    wait(
        browser,
        lambda d: d.find_element(By.ID, "description").get_attribute("value") == "described in the page",
    )
    listed = json.loads(home.run("list", "--all", "--format", "json").stdout)
    session = next(d for d in listed if d["native_id"] == "ses_stage0_small")
    assert session["tags"] == ["from-browser"]
    assert session["description"] == "described in the page"
    assert console_errors(browser) == []


def test_every_page_without_console_errors(server: Server, browser: Any) -> None:
    for path in (
        "",
        "sessions/representative",
        "sessions/web-hostile",
        "reports",
        "reports?kind=monthly&by=model",
        "limits",
        "memory",
    ):
        browser.get(server.url + path)
        assert browser.find_element("css selector", "main h1").text
        assert console_errors(browser) == [], path
        loaded_from = browser.execute_script(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; });"
        )
        assert loaded_from and all(u.startswith(server.url) for u in loaded_from), loaded_from  # ours only
    browser.get(server.url)
    assert browser.execute_script("return document.scripts.length;") == 1  # ours, app.js
    # The Content-Security-Policy is in force: an inline script injected into the page does not run.
    browser.execute_script(
        "var s = document.createElement('script'); s.textContent = 'window.__inline = 1;';"
        " document.body.appendChild(s);"
    )
    assert browser.execute_script("return window.__inline === undefined;") is True
    assert any("Content Security Policy" in e["message"] for e in console_errors(browser))


def test_hostile_title_renders_as_inert_redacted_text(server: Server, browser: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    loaded(browser, server.url)
    title = cell(browser, "claude-code:web-hostile", "title").text
    assert title.startswith("<script>alert(1)</script> [bold red]boom[/] ␛]52;c;ZXZpbA==␇ ␛[2J key [REDACTED")
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    browser.get(server.url + "sessions/web-hostile")
    heading = browser.find_element("id", "title").text
    assert heading.startswith("<script>alert(1)</script>")
    for page in (browser.page_source, heading, title):
        assert GITHUB not in page and GITHUB[:16] not in page and "\x1b" not in page
    assert console_errors(browser) == []


def test_login_form_with_a_token(home: FakeHome, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    token = "browser-token-" + "k" * 30
    srv = start_server(home, "--token", token)
    try:
        browser.get(srv.url)
        assert browser.current_url.endswith("/login")
        browser.find_element(By.ID, "token").send_keys("wrong")
        browser.find_element(By.ID, "token").submit()
        assert "That is not the token." in browser.page_source
        browser.find_element(By.ID, "token").send_keys(token)
        browser.find_element(By.ID, "token").submit()
        wait(browser, lambda d: d.find_elements(By.ID, "sessions"))
        assert browser.execute_script("return document.cookie;") == ""  # HttpOnly
        errors = console_errors(browser)
        assert [e for e in errors if "401" not in e["message"]] == []  # the refused token: expected
    finally:
        assert "Traceback" not in srv.stop()


def test_non_loopback_bind_without_token_exits_2(home: FakeHome) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llm_session_manager", "serve", "--host", "0.0.0.0", "--port", "0"],
        env=home.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not a loopback address" in result.stderr


def test_hundreds_of_sessions_are_drawn_a_page_at_a_time(fake_home: FakeHome, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    folder = fake_home.projects / "-work-many"
    folder.mkdir(parents=True)
    for n in range(230):
        sid = f"many-{n:03d}"
        line = live_line(n, 10 + n)
        line.update(sessionId=sid, cwd="/work/many", uuid=f"{sid}-a", requestId=f"{sid}-r")
        line["message"]["id"] = f"{sid}-m"
        (folder / f"{sid}.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    srv = start_server(fake_home)
    try:
        browser.get(srv.url)
        wait(browser, lambda d: d.find_element(By.ID, "count").text == "235")
        drawn = "#sessions tbody tr"
        assert len(browser.find_elements(By.CSS_SELECTOR, drawn)) == 200
        assert browser.find_element(By.ID, "shown").text == "200"
        browser.find_element(By.ID, "more").click()
        wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, drawn)) == 235)
        assert not browser.find_element(By.ID, "more").is_displayed()
        browser.find_element(By.ID, "filter").send_keys("many-229")  # found among all, drawn or not
        wait(browser, lambda d: d.find_element(By.ID, "count").text == "1")
        assert browser.find_element(By.CSS_SELECTOR, drawn).get_attribute("data-id") == "claude-code:many-229"
        assert console_errors(browser) == []
    finally:
        assert "Traceback" not in srv.stop()
