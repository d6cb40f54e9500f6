"""End-to-end in a real browser: Debian's Chromium driven by Playwright against a real server process."""

import shutil

import pytest
from conftest import need, need_module
from test_server import start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser, pytest.mark.slow]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run"]


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory):
    need(bool(shutil.which("chromium")), "Debian chromium")
    need_module("playwright")
    proc, url = start_server(tmp_path_factory.mktemp("ui"), ui=True)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_troops_question_shows_disagreement_and_sources(ui_server, tmp_path, width, height):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, locale="en-US")
            page.goto(ui_server + "/", wait_until="networkidle")
            page.fill("#question textarea", "How many troops did North Korea send to Russia?")
            page.click("#ask")
            page.wait_for_selector("#figures .flag", timeout=60_000)
            page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('…')", timeout=60_000)
            flag = page.inner_text("#figures .flag")
            assert "Estimates of the troops vary" in flag
            figures = page.inner_text("#figures")
            assert "10,000–12,000" in figures and "about 11,000" in figures and "more than 10,000" in figures
            assert "Putin dankt nordkoreanischen Truppen" in figures  # a cited source title
            chart = page.locator("#disagreement-chart svg")  # the picture of the disagreement, inside the viewport
            assert chart.count() == 1
            box = chart.bounding_box()
            assert box and box["width"] > 150 and box["x"] >= 0 and box["x"] + box["width"] <= width + 1
            chat = page.inner_text("#chat")
            assert "Estimates of the troops vary" in chat
            cite = page.locator("#chat a.cite").first
            assert cite.get_attribute("title")  # hovering a [n] shows the quoted passage
            page.click("#tab-sources-button") if page.locator("#tab-sources-button").count() else page.get_by_role(
                "tab", name="Sources").click()
            page.wait_for_selector("#sources mark", timeout=10_000)
            assert page.locator("#sources .ev").count() >= 5
            shot = tmp_path / f"ui-{width}x{height}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            # nothing overflows the viewport horizontally
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 2, overflow
        finally:
            browser.close()


def test_german_labels_follow_browser(ui_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(locale="de-DE")
            page.goto(ui_server + "/", wait_until="networkidle")
            page.wait_for_function("() => document.body.innerText.includes('Nachrichtenarchiv')", timeout=20_000)
            page.fill("#question textarea", "Wie viele Soldaten hat Nordkorea entsandt?")
            page.click("#ask")
            page.wait_for_selector("#figures .flag", timeout=60_000)
            assert "Die Angaben zu Soldaten schwanken" in page.inner_text("#figures .flag")
        finally:
            browser.close()
