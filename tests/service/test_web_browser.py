"""The web view in a real browser: headless Chromium (Debian's package) driven by Selenium.

Two test-pattern cameras in a real service on 127.0.0.1 and a port the OS chose. Skipped, with
the reason, where chromium, chromedriver or selenium are missing. Set GANSTREAM_WEB_SCREENSHOT to
a PNG path to keep a screenshot of the page.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import cv2
import numpy as np
import pytest

from tests.service.web_helpers import TWO_CAMERAS, sharpness, start_service

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
TOKEN = "browser-test-token"

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"),
    pytest.mark.skipif(CHROMEDRIVER is None, reason="chromedriver is not installed (apt-get install chromium-driver)"),
    pytest.mark.timeout(120),
]
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[dev])")
By = pytest.importorskip("selenium.webdriver.common.by").By


@pytest.fixture
def browser() -> Iterator[Any]:
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers online
    profile = tempfile.mkdtemp(prefix="ganstream-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # The network is closed here: without these flags Chromium waits on connections it cannot make.
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,800",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _until(pred: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not reached within {timeout:g} s"
        time.sleep(0.2)


def _screen(driver: Any) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(driver.get_screenshot_as_png(), np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def _region(driver: Any, shot: np.ndarray, css: str) -> np.ndarray:
    """The part of a screenshot under an element (CSS pixels times the device pixel ratio)."""
    el = driver.find_element(By.CSS_SELECTOR, css)
    r = el.rect
    k = float(driver.execute_script("return window.devicePixelRatio"))
    y0, x0 = round(r["y"] * k), round(r["x"] * k)
    return shot[y0 : y0 + round(r["height"] * k), x0 : x0 + round(r["width"] * k)]


def _loaded(driver: Any, css: str) -> bool:
    return bool(driver.execute_script(f"const i = document.querySelector('{css}'); return i && i.naturalWidth > 0;"))


def test_the_page_shows_live_cameras_and_controls_them(browser: Any) -> None:
    service, api = start_service(TWO_CAMERAS, token=TOKEN)
    try:
        # A wrong token is refused: no grid, one line saying why.
        browser.get(api.url("/?token=wrong"))
        assert browser.find_element(By.ID, "refused").text == "wrong token"
        assert not browser.find_elements(By.ID, "grid")

        browser.get(api.url(f"/?token={TOKEN}"))
        assert browser.current_url == api.url("/")  # the token left the address bar
        tiles = {name: f'.tile[data-camera="{name}"]' for name in ("ball", "snow")}
        for name, tile in tiles.items():
            _until(lambda t=tile: _loaded(browser, f"{t} img.enhanced"), what=f"{name}'s picture")
            _until(
                lambda t=tile: browser.find_element(By.CSS_SELECTOR, f"{t} .status").text == "streaming",
                what=f"{name} streaming",
            )

        # Both tiles show moving pictures: two screenshots differ where the pictures are.
        first = _screen(browser)
        time.sleep(1.0)
        second = _screen(browser)
        for name, tile in tiles.items():
            a, b = _region(browser, first, f"{tile} .view"), _region(browser, second, f"{tile} .view")
            change = float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
            assert change > 1.0, f"{name}'s picture did not move ({change:.2f})"

        # Before/after: the snow camera's nearest x2 output has hard 2x2 blocks; its source,
        # scaled to the same size, is smooth. The control switches what the tile shows.
        snow = tiles["snow"]
        enhanced = sharpness(_region(browser, _screen(browser), f"{snow} .view"))
        browser.find_element(By.CSS_SELECTOR, f'{snow} button[data-mode="source"]').click()
        _until(lambda: _loaded(browser, f"{snow} img.source"), what="the source picture")
        time.sleep(0.5)
        source = sharpness(_region(browser, _screen(browser), f"{snow} .view"))
        assert enhanced > 1.3 * source, f"source view not shown (sharpness {enhanced:.0f} vs {source:.0f})"
        browser.find_element(By.CSS_SELECTOR, f'{snow} button[data-mode="split"]').click()
        time.sleep(1.0)
        view = _region(browser, _screen(browser), f"{snow} .view")
        w = view.shape[1]
        left, right = sharpness(view[:, w // 8 : w // 2 - 4]), sharpness(view[:, w // 2 + 4 : 7 * w // 8])
        assert right > 1.3 * left, f"split: the left half should be the source ({left:.0f} vs {right:.0f})"

        # A camera added from the page appears and streams.
        form = browser.find_element(By.ID, "add")
        form.find_element(By.NAME, "name").send_keys("added")
        form.find_element(By.NAME, "source").send_keys("test:smpte?width=160&height=96&fps=15&live=1")
        form.find_element(By.CSS_SELECTOR, "button").click()
        added = '.tile[data-camera="added"]'
        _until(lambda: browser.find_elements(By.CSS_SELECTOR, added), what="the added camera's tile")
        _until(lambda: _loaded(browser, f"{added} img.enhanced"), what="the added camera's picture")
        assert "added" in service.cameras
        if path := os.environ.get("GANSTREAM_WEB_SCREENSHOT"):
            time.sleep(4)  # a few history samples for the charts
            browser.save_screenshot(path)

        # ... and is removed from the page (two clicks: the first one only arms the button).
        remove = browser.find_element(By.CSS_SELECTOR, f"{added} button.remove")
        remove.click()
        remove.click()
        _until(lambda: not browser.find_elements(By.CSS_SELECTOR, added), what="the removed tile gone")
        assert "added" not in service.cameras
    finally:
        service.stop()
        api.stop()
