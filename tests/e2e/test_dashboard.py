"""The analytics dashboard in a real browser: Debian's chromium through Selenium, against the local
stack seeded with order history, a few real orders (shipped and delivered), a case and a fitted
lifetime-value model. Every figure draws, the console stays clean, the token survives a reload."""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.orders import canonical_order

from .conftest import OPS_TOKEN, ROOT

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CARDS = ("orders", "revenue", "aov", "channels", "fulfilment", "holds", "customers", "forecast", "cases")
KPIS = ("kpi-orders", "kpi-revenue", "kpi-net-revenue", "kpi-aov", "kpi-return-rate", "kpi-cancelled",
        "kpi-on-time", "kpi-split", "kpi-backorder")
SKU = "DASH-1"
AUTH = {"Authorization": f"Bearer {OPS_TOKEN}"}


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """Debian's chromium and chromedriver, installed by the script the Makefile uses if missing."""
    try:
        installed = subprocess.run([str(ROOT / "infra" / "ensure_chromium.sh")], capture_output=True, text=True,
                                   timeout=900)
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.fail(f"infra/ensure_chromium.sh could not run: {error}")
    if installed.returncode != 0:
        pytest.fail(f"infra/ensure_chromium.sh could not install chromium and chromium-driver "
                    f"(exit {installed.returncode}):\n{installed.stdout}{installed.stderr}")
    browser = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    driver = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail("infra/ensure_chromium.sh succeeded but chromium or chromedriver is not installed")
    return browser, driver


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _history(now: datetime) -> bytes:
    """~300 orders by 40 customers over the last 120 days; each customer has their own pace,
    currency and favourite channel, so the lifetime-value model has something to tell apart."""
    rng = random.Random(7)
    customers = [(f"DASH-C{n:02d}", rng.choice(("USD", "USD", "USD", "EUR")), rng.uniform(0.2, 3.0))
                 for n in range(40)]
    weights = [pace for _, _, pace in customers]
    rows = []
    for n in range(300):
        customer, currency, _ = rng.choices(customers, weights=weights)[0]
        placed = now - timedelta(days=rng.randint(1, 120), hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
        cents = rng.randint(1500, 25000)
        rows.append({"order_id": f"DASH-H{n:04d}", "customer_id": customer, "placed_at": _iso(placed),
                     "total": f"{cents // 100}.{cents % 100:02d}", "currency": currency,
                     "channel": rng.choice(("shopify", "shopify", "web"))})
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def _seed(stack) -> None:
    now = datetime.now(UTC)
    imported = stack.post("/analytics/history", _history(now), {**AUTH, "Content-Type": "application/x-ndjson"})
    assert imported.status_code in (200, 201, 202), imported.text

    # Real orders through the order API, so the fulfilment figures and the forecast have something.
    assert stack.ops("PUT", "/locations/WH1", {"name": "Main warehouse", "type": "warehouse", "priority": 1,
                                               "address": {}}).status_code == 200
    stocked = stack.ops("PUT", f"/inventory/{SKU}/locations/WH1", {"on_hand": 1000, "safety_stock": 0})
    assert stocked.status_code == 200, stocked.text
    ids = []
    for n in range(3):
        body = canonical_order(lines=[{"sku": SKU, "quantity": n + 1, "unit_price": "24.00"}],
                               placed_at=_iso(now - timedelta(hours=3 - n)))
        created = stack.webhook("orders", body, retry_unavailable=True)
        assert created.status_code == 202, created.text
        ids.append(created.json()["order_id"])
    for n, order_id in enumerate(ids[:2]):
        order = stack.wait_for(order_id, lambda o: o["fulfillment_orders"])
        fo = order["fulfillment_orders"][0]["fulfillment_order_id"]
        tracking = f"1ZDASH{n:012d}"
        shipped = stack.ops("POST", f"/fulfillment-orders/{fo}/ship",
                            {"carrier": "ups", "tracking_number": tracking, "service": "ground"})
        assert shipped.status_code == 201, shipped.text
        if n == 0:
            delivered = stack.webhook("tracking", {"tracking_number": tracking, "status": "delivered",
                                                   "occurred_at": _iso(datetime.now(UTC)), "description": "delivered",
                                                   "location": "Newark, NJ"}, retry_unavailable=True)
            assert delivered.status_code == 202, delivered.text
    stack.wait_for(ids[0], lambda o: o["status"] == "delivered")
    # Two weeks of the SKU's sales, busier at weekends, so its forecast has a weekly season to learn.
    for days_ago in range(1, 15):
        placed = now - timedelta(days=days_ago)
        body = canonical_order(lines=[{"sku": SKU, "quantity": 4 if placed.weekday() >= 5 else 1,
                                       "unit_price": "24.00"}], placed_at=_iso(placed))
        assert stack.webhook("orders", body, retry_unavailable=True).status_code == 202
    # More than the shelf holds: backordered, so there is a hold to chart.
    assert stack.ops("PUT", "/inventory/DASH-2/locations/WH1", {"on_hand": 1, "safety_stock": 0}).status_code == 200
    short = stack.webhook("orders", canonical_order(lines=[{"sku": "DASH-2", "quantity": 3, "unit_price": "24.00"}],
                                                    placed_at=_iso(now - timedelta(minutes=30))),
                          retry_unavailable=True)
    assert short.status_code == 202, short.text
    stack.wait_for(short.json()["order_id"], lambda o: any(h["type"] == "backorder" for h in o["holds"]))

    case = stack.ops("POST", "/cases", {"order_id": ids[2], "type": "billing", "subject": "Invoice copy",
                                        "message": "Please send a copy of the invoice.", "channel": "email",
                                        "priority": "high"})
    assert case.status_code == 201, case.text

    # The facts writer works from its queue: fit once the imported history is in the store.
    deadline = time.monotonic() + 60
    while sum(f["orders"] for f in stack.ops("GET", f"/analytics/summary?from={(now - timedelta(days=121)).date()}"
                                             ).json().values()) < 300:
        assert time.monotonic() < deadline, "the imported history did not reach the analytics store in 60 s"
        time.sleep(0.5)
    fit = stack.ops("POST", "/analytics/clv/fit", {"calibration_end": now.date().isoformat(), "time_unit": "days"},
                    retry_unavailable=True)
    assert fit.status_code in (200, 201, 202), fit.text
    deadline = time.monotonic() + 60
    while True:
        model = stack.ops("GET", "/analytics/clv/model")
        status = model.json().get("status") if model.status_code == 200 else None
        if status == "succeeded":
            break
        assert status != "failed", f"the lifetime-value fit failed: {model.text}"
        assert time.monotonic() < deadline, f"the lifetime-value fit did not succeed in 60 s: {model.status_code} " \
                                            f"{model.text}"
        time.sleep(0.5)


def _browser(binary: str, driver: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2200"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def _loaded(browser) -> None:
    try:
        WebDriverWait(browser, 30).until(
            lambda b: b.find_elements(By.CSS_SELECTOR, "body[data-loaded='true']"))
    except TimeoutException:
        raise AssertionError(f"the dashboard did not finish loading: {_states(browser)}") from None


def _states(browser) -> dict[str, str]:
    return {name: browser.find_element(By.ID, f"card-{name}").get_attribute("data-state") for name in CARDS}


def _problems(browser) -> dict[str, str]:
    """The text a card shows instead of its chart, for cards that did not draw."""
    return {name: browser.find_element(By.CSS_SELECTOR, f"#card-{name} .placeholder").text
            for name, state in _states(browser).items() if state != "ready"}


def _severe(browser) -> list[dict]:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_the_dashboard_draws_every_figure_with_a_clean_console(stack, chromium, tmp_path):
    _seed(stack)
    browser = _browser(*chromium)
    try:
        browser.get(f"{stack.url}/dashboard")
        token = browser.find_element(By.ID, "ops-token")
        assert token.get_attribute("type") == "password"
        token.send_keys(OPS_TOKEN)
        browser.find_element(By.ID, "sign-in").click()
        _loaded(browser)

        sku = browser.find_element(By.ID, "forecast-sku")
        if sku.get_attribute("value") != SKU:
            sku.clear()
            sku.send_keys(SKU)
            browser.find_element(By.ID, "forecast-go").click()
            _loaded(browser)

        assert _states(browser) == dict.fromkeys(CARDS, "ready"), _problems(browser)
        for name in CARDS:
            canvas = browser.find_element(By.ID, f"chart-{name}")
            assert canvas.is_displayed() and canvas.size["width"] > 0 and canvas.size["height"] > 0, name
        figures = {kpi: browser.find_element(By.ID, kpi).text for kpi in KPIS}
        assert all(figures[kpi] not in ("", "—") for kpi in KPIS[:4]), figures
        assert "USD" in [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#currency option")]
        assert _severe(browser) == []

        browser.save_screenshot(str(tmp_path / "dashboard.png"))
        if os.environ.get("OMS_UPDATE_SCREENSHOT") == "1":
            (ROOT / "docs" / "images").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp_path / "dashboard.png", ROOT / "docs" / "images" / "dashboard.png")

        # The token lives in the tab's session storage: a reload goes straight to the figures.
        browser.refresh()
        _loaded(browser)
        assert not browser.find_element(By.ID, "signin").is_displayed()
        assert browser.execute_script("return sessionStorage.getItem('oms_ops_token')") == OPS_TOKEN
        assert browser.find_element(By.ID, "card-orders").get_attribute("data-state") == "ready"
        assert _severe(browser) == []

        # Signing out forgets it.
        browser.find_element(By.ID, "sign-out").click()
        assert browser.find_element(By.ID, "ops-token").is_displayed()
        assert browser.execute_script("return sessionStorage.getItem('oms_ops_token')") is None
    finally:
        browser.quit()
