"""The dashboard: its auth without a browser, then its pages in a real headless Chromium.

The browser test runs a real uvicorn on 127.0.0.1 over the small Scharenberg
campaign (manual lab, manual approval, 2 rounds x 8): round 0 is approved and
answered over the API so that round 1 is proposed by a model, then the list
and the campaign's page must load with no console errors, draw their charts,
and an operator's clicks on "approve", "reject" (with its reason) and "edit" (with
another candidate) must change the experiments in the store. Screenshots go to tmp_path and /tmp/dash-shots/.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest

from tests._live import CHROMIUM, DRIVER, headless_chromium
from tests._live import served as live_server

SHOTS = Path("/tmp/dash-shots")
needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver "
                                      "(apt-get install -y chromium chromium-driver; .ci/run does)")


# -- without a browser --------------------------------------------------------------------
def test_the_dashboard_asks_for_a_token_and_keeps_it_in_a_strict_httponly_cookie(client):
    r = client.get("/dashboard")
    assert r.status_code == 401 and "loopwell token create" in r.text
    assert client.get("/dashboard?token=lw_nonsense").status_code == 401
    r = client.get("/dashboard", params={"token": client.secrets["lab"]})
    assert r.status_code == 403 and "viewer or operator" in r.text
    assert "set-cookie" not in r.headers

    r = client.get("/dashboard", params={"token": client.secrets["viewer"]},
                   follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"  # out of the URL
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/dashboard").status_code == 200  # the cookie now
    client.cookies.clear()

    r = client.post("/dashboard/login", data={"token": client.secrets["operator"]},
                    follow_redirects=False)
    assert r.status_code == 303 and "httponly" in r.headers["set-cookie"].lower()
    assert "operator-1 (operator)" in client.get("/dashboard").text
    r = client.get("/dashboard/nope")
    assert r.status_code == 404 and "No campaign" in r.text
    client.cookies.clear()
    assert client.get("/dashboard/nope").status_code == 401  # not even whether it exists


def test_a_campaign_name_cannot_close_the_pages_script():
    from loop.service.routers.dashboard import _js

    assert "</script>" not in _js("</script><script>alert(1)//")


def test_the_json_api_takes_the_cookie_but_a_change_needs_the_dashboards_header(client):
    from loop.service.dependencies import COOKIE

    client.cookies.set(COOKIE, client.secrets["operator"])
    assert client.get("/campaigns").status_code == 200
    r = client.post("/campaigns/nope/pause")  # as a cross-site form would: no header
    assert r.status_code == 403 and "X-Loopwell-Dashboard" in r.json()["detail"]
    assert client.post("/campaigns/nope/pause",
                       headers={"X-Loopwell-Dashboard": "1"}).status_code == 404
    client.cookies.set(COOKIE, client.secrets["viewer"])
    assert client.post("/campaigns/nope/pause",
                       headers={"X-Loopwell-Dashboard": "1"}).status_code == 403


def test_plotly_is_served_once_and_cached(client):
    r = client.get("/dashboard/static/plotly.min.js")
    assert r.status_code == 200 and len(r.content) > 1_000_000
    assert "max-age" in r.headers["cache-control"]
    again = client.get("/dashboard/static/plotly.min.js",
                       headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert not any(p.startswith("/dashboard") for p in client.get("/openapi.json").json()["paths"])


# -- in a browser ---------------------------------------------------------------------------
@pytest.fixture
def served(service_env):
    from loop.service.app import create_app

    store, state, secrets = service_env
    with live_server(create_app(store, state, lock_wait_s=30.0)) as url:
        yield url, secrets, store


@pytest.fixture
def browser():
    with headless_chromium() as driver:
        yield driver


def _wait_for(api, name, status, rounds=1, timeout=240.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        detail = api.get(f"/campaigns/{name}").json()
        assert detail["worker"]["last_error"] is None, detail["worker"]
        if detail["status"] == status and len(detail["rounds"]) >= rounds:
            return detail
        time.sleep(0.2)
    raise AssertionError(f"{name} never became {status} with {rounds} round(s): {detail}")


def _shoot(driver, path: Path) -> None:
    height = driver.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    driver.set_window_size(1280, min(max(int(height) + 150, 600), 8000))
    driver.save_screenshot(str(path))
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SHOTS / path.name)
    driver.set_window_size(1280, 1000)


def _severe(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _charts_drawn(driver) -> bool:
    return driver.execute_script(
        "const p = document.querySelectorAll('.js-plotly-plot');"
        "return p.length > 0 && [...p].every(e => e.querySelector('svg.main-svg'));")


@pytest.mark.browser
@needs_chromium
def test_the_dashboard_in_chromium_shows_campaigns_draws_charts_and_approves(
        served, browser, spec_json, shared_data, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from loop.run.lab import lookup_table
    from tests.loop.conftest import small_spec

    url, secrets, store = served
    name = "dash"
    op = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secrets['operator']}"},
                      timeout=60)
    lab = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secrets['lab']}"},
                       timeout=60)
    assert op.post("/campaigns", json=spec_json(name=name)).status_code == 201
    _wait_for(op, name, "awaiting-approval")
    assert op.post(f"/campaigns/{name}/proposals/approve").status_code == 200
    _wait_for(op, name, "waiting-for-lab")
    table = lookup_table(small_spec(shared_data), None)
    todo = lab.get(f"/campaigns/{name}/proposals", params={"state": "dispatched"}).json()
    r = lab.post(f"/campaigns/{name}/results", json=[
        {"experiment_id": p["experiment_id"], "value": table[p["candidate_id"]]} for p in todo])
    assert r.status_code == 200, r.text
    _wait_for(op, name, "awaiting-approval", rounds=2)  # round 1, proposed by a model

    # a viewer: the list and the page, no buttons
    browser.get(f"{url}/dashboard")
    assert "No token" in browser.find_element(By.TAG_NAME, "body").text
    browser.get(f"{url}/dashboard?token={secrets['viewer']}")
    assert browser.current_url == f"{url}/dashboard"  # the token left the address bar
    browser.get(f"{url}/dashboard/{name}")
    WebDriverWait(browser, 60).until(_charts_drawn)
    assert browser.find_elements(By.CSS_SELECTOR, "tr.proposal")
    assert not browser.find_elements(By.CSS_SELECTOR, "button.act-approve")
    _severe(browser)  # the 401 page of the first visit is a logged error; not counted

    # an operator: the list
    browser.get(f"{url}/dashboard?token={secrets['operator']}")
    link = browser.find_element(By.LINK_TEXT, name)
    row = link.find_element(By.XPATH, "./ancestor::tr").text
    assert "ready to approve" in row
    _shoot(browser, tmp_path / "dashboard-list.png")
    assert _severe(browser) == []

    # the campaign's page: charts, then approve one proposal and reject another
    link.click()
    WebDriverWait(browser, 60).until(_charts_drawn)
    charts = browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")
    ids = {c.get_attribute("id") for c in charts}
    assert {"fig-discovery", "fig-proposals"} <= ids, ids
    for chart in charts:
        assert chart.find_elements(By.CSS_SELECTOR, "svg.main-svg g.trace")
    scripts = [s.get_attribute("src") for s in browser.find_elements(By.TAG_NAME, "script")]
    assert f"{url}/dashboard/static/plotly.min.js" in scripts
    _shoot(browser, tmp_path / "dashboard-campaign.png")
    assert _severe(browser) == []

    rows = browser.find_elements(By.CSS_SELECTOR, "tr.proposal")
    assert len(rows) == 8
    first, second, third = (row.get_attribute("data-id") for row in rows[:3])
    assert store.experiment(first).state == "proposed"
    rows[0].find_element(By.CSS_SELECTOR, "button.act-approve").click()
    WebDriverWait(browser, 60).until(
        lambda d: store.experiment(first).state != "proposed")
    assert store.experiment(first).state in ("approved", "dispatched")
    WebDriverWait(browser, 60).until(_charts_drawn)  # the page reloaded
    browser.find_element(
        By.CSS_SELECTOR, f'tr.proposal[data-id="{second}"] button.act-reject').click()
    alert = WebDriverWait(browser, 10).until(lambda d: d.switch_to.alert)
    alert.send_keys("off-target in our cell line")
    alert.accept()
    WebDriverWait(browser, 60).until(lambda d: store.experiment(second).state == "cancelled")
    assert "off-target in our cell line" in store.experiment(second).note
    WebDriverWait(browser, 60).until(_charts_drawn)

    # edit: another candidate, not yet asked for, in place of the third
    asked = {e.candidate_id for e in store.experiments(name)}
    other = next(c for c in sorted(table) if c not in asked)
    browser.find_element(
        By.CSS_SELECTOR, f'tr.proposal[data-id="{third}"] button.act-edit').click()
    for answer in (other, "a better control"):
        alert = WebDriverWait(browser, 10).until(lambda d: d.switch_to.alert)
        alert.send_keys(answer)
        alert.accept()
    WebDriverWait(browser, 60).until(lambda d: store.experiment(third).state == "cancelled")
    assert store.experiment(f"{name}-r1-{other}").state == "proposed"
    WebDriverWait(browser, 60).until(_charts_drawn)
    assert browser.find_elements(By.CSS_SELECTOR, f'tr.proposal[data-id="{name}-r1-{other}"]')
    _shoot(browser, tmp_path / "dashboard-campaign-after.png")
    assert _severe(browser) == []
    audit = op.get(f"/campaigns/{name}/audit").json()
    assert [a["action"] for a in audit][-3:] == ["approve", "reject", "edit"]
    assert {a["who"] for a in audit[-3:]} == {"operator-1"}
    op.close()
    lab.close()
