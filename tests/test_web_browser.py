"""The dashboard in a real headless Chromium, driven by Selenium.

Debian's ``chromium`` and ``chromium-driver`` (installed by ``.ci/run``);
``Service("/usr/bin/chromedriver")`` keeps Selenium Manager from downloading.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from actors.web import create_app
from tests._web import TOKEN, Served, serve
from tests.conftest import EngineFactory

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOT = os.environ.get("DASHBOARD_SCREENSHOT")

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()) and not os.environ.get("CI"),
        reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
    ),
]


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def dashboard(make_engine: EngineFactory, browser: WebDriver) -> Iterator[tuple[Served, WebDriver]]:
    engine = make_engine(default_timeout_ms=60_000)
    with serve(create_app(engine, token=TOKEN)) as served:
        browser.get(f"{served.url}/?token={TOKEN}")
        wait(browser).until(lambda d: d.find_element(By.ID, "conn").text == "live")
        yield served, browser


def wait(driver: WebDriver, seconds: float = 30) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, seconds, poll_frequency=0.05)


def run(driver: WebDriver, command: str) -> None:
    field = driver.find_element(By.ID, "command")
    field.clear()
    field.send_keys(command)
    driver.find_element(By.ID, "submit").click()


def row_status(driver: WebDriver, command: str) -> str:
    for row in driver.find_elements(By.CSS_SELECTOR, "#executions tbody tr"):
        cells: list[WebElement] = row.find_elements(By.TAG_NAME, "td")
        if cells and cells[0].text == command:
            return cells[1].text
    return ""


def output_lines(driver: WebDriver) -> list[str]:
    # One script call: a WebDriver round trip per element would take seconds for 5,000.
    lines: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#lines > div'), e => e.textContent)"
    )
    return lines


def test_the_token_url_loads_the_dashboard_and_drops_the_token_from_the_address(
    dashboard: tuple[Served, WebDriver],
) -> None:
    _, driver = dashboard
    assert TOKEN not in driver.current_url
    assert driver.find_element(By.ID, "m-running").text == "0"


def test_a_command_submitted_in_the_form_shows_its_lines_and_final_status(
    dashboard: tuple[Served, WebDriver],
) -> None:
    _, driver = dashboard
    command = "echo first; echo oops >&2; echo last"
    run(driver, command)
    wait(driver).until(lambda d: row_status(d, command) == "completed")
    wait(driver).until(lambda d: "last" in output_lines(d))
    lines = output_lines(driver)
    assert lines.index("first") < lines.index("last")
    errors = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#lines > div.err")]
    assert errors == ["oops"]


def test_the_cancel_button_cancels_a_running_command(dashboard: tuple[Served, WebDriver]) -> None:
    _, driver = dashboard
    command = "echo waiting; sleep 60"
    run(driver, command)
    wait(driver).until(lambda d: row_status(d, command) == "running")
    wait(driver).until(lambda d: "waiting" in output_lines(d))
    if SCREENSHOT:
        driver.save_screenshot(SCREENSHOT)
    driver.find_element(By.CSS_SELECTOR, "#executions tbody tr button.cancel").click()
    wait(driver).until(lambda d: row_status(d, command) == "cancelled")


def test_a_flood_of_100000_lines_keeps_the_page_responsive_and_capped(
    dashboard: tuple[Served, WebDriver],
) -> None:
    _, driver = dashboard
    command = "seq 1 100000"
    run(driver, command)
    wait(driver, 60).until(lambda d: row_status(d, command) == "completed")
    wait(driver, 60).until(
        lambda d: output_lines(d)[-2:] == ["100000", "— completed (exit code 0)"]
    )
    held = driver.execute_script("return document.getElementById('lines').childElementCount")
    assert held <= 5000
    assert "earlier ones are not kept" in driver.find_element(By.ID, "output-note").text
    # The page still answers at once.
    assert driver.execute_script("return 1 + 1") == 2


def test_scrolling_up_stops_the_auto_scroll(dashboard: tuple[Served, WebDriver]) -> None:
    _, driver = dashboard
    command = "for i in $(seq 1 400); do echo line $i; sleep 0.01; done"
    run(driver, command)
    wait(driver).until(lambda d: len(output_lines(d)) > 100)
    driver.execute_script("document.getElementById('lines').scrollTop = 0")
    wait(driver).until(lambda d: d.find_element(By.ID, "follow").is_displayed())
    wait(driver).until(lambda d: row_status(d, command) == "completed")
    assert driver.execute_script("return document.getElementById('lines').scrollTop") < 50
