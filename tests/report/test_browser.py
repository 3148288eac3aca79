"""The report in a real browser: Debian's headless Chromium, driven by Selenium.

Each page must load with no console errors and draw its charts (plotly's
`.js-plotly-plot` elements with SVG inside); a screenshot of each is saved
beside the test's files (`tmp_path`). CI installs chromium (`.ci/run`); on a
machine without it these tests skip and say so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loop.report.html import write_report
from tests._live import CHROMIUM, DRIVER, headless_chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and DRIVER),
                       reason="needs Debian's chromium and chromium-driver "
                              "(apt-get install -y chromium chromium-driver; .ci/run does)"),
]


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        yield driver


def _open(driver, page: Path, shot: Path) -> tuple[list[dict], list]:
    """Load `page`, wait for its charts, save a full-page screenshot; return errors and charts."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop what an earlier page logged
    driver.set_window_size(1280, 1000)
    driver.get(page.as_uri())
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "const p = document.querySelectorAll('.js-plotly-plot');"
        "return p.length > 0 && [...p].every(e => e.querySelector('svg.main-svg'));"))
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(int(height) + 100, 8000))
    driver.save_screenshot(str(shot))
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    charts = driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")
    return errors, charts


def _chart_ids(charts) -> set[str]:
    return {c.get_attribute("id") for c in charts}


def test_a_screens_report_draws_in_chromium(browser, screen, tmp_path):
    page = write_report(screen.store, screen.name, tmp_path / "screen.html",
                        campaign=screen.campaign)
    errors, charts = _open(browser, page, tmp_path / "screen.png")
    assert errors == []
    assert {"fig-discovery", "fig-coverage", "fig-reliability",
            "fig-proposals"} <= _chart_ids(charts)
    assert "fig-best" not in _chart_ids(charts)
    for chart in charts:  # every chart drew its traces
        assert chart.find_elements("css selector", "svg.main-svg g.trace")
    assert (tmp_path / "screen.png").stat().st_size > 20_000


def test_a_reactions_report_draws_the_best_yield_in_chromium(browser, reaction, tmp_path):
    page = write_report(reaction.store, reaction.name, tmp_path / "reaction.html",
                        campaign=reaction.campaign)
    errors, charts = _open(browser, page, tmp_path / "reaction.png")
    assert errors == []
    ids = _chart_ids(charts)
    assert {"fig-best", "fig-coverage", "fig-reliability", "fig-proposals"} <= ids
    assert "fig-discovery" not in ids  # no 'hits found' curve for a yield
    title = browser.find_element("css selector", "#fig-best .ytitle").text
    assert "higher is better" in title
    assert (tmp_path / "reaction.png").stat().st_size > 20_000


def test_a_tradeoffs_report_draws_its_pareto_front_in_chromium(browser, tradeoff, tmp_path):
    page = write_report(tradeoff.store, tradeoff.name, tmp_path / "tradeoff.html",
                        campaign=tradeoff.campaign)
    errors, charts = _open(browser, page, tmp_path / "tradeoff.png")
    assert errors == []
    assert {"fig-pareto", "fig-best", "fig-proposals"} <= _chart_ids(charts)
    assert "scalarised score" in browser.find_element("tag name", "body").text
    # the score and the yield never share an axis
    assert len(browser.find_elements("css selector", "#fig-proposals g.trace")) == 1
