"""End to end in a real browser: `streamlit run app/lab.py` + headless Chromium (playwright).

Opens every page, starts a tiny training run and waits for the live chart to update, runs one
planner step and an MPC episode, and saves screenshots under test-output/. Measures the time from
`streamlit run` to a usable Welcome page (written to test-output/browser_timings.json).

LEWM_TEST_CHECKPOINT / LEWM_TEST_DATA (os.pathsep-separated) replace the tiny assets, e.g. to make
README screenshots with a real checkpoint.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import warnings

import pytest
from _lab_assets import stop_server

CHROMIUM = "/usr/bin/chromium"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "test-output")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


def _skip_reason() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install -y chromium chromium-driver)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from _lab_assets import make_lab_assets
    root = str(tmp_path_factory.mktemp("browser"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assets = make_lab_assets(root)
    os.makedirs(OUT, exist_ok=True)
    port = _free_port()
    env = dict(os.environ, LEWM_LAB_RUNS=os.path.join(root, "runs"),
               LEWM_LAB_CHECKPOINT=os.environ.get("LEWM_TEST_CHECKPOINT", assets["ckpt"]),
               LEWM_LAB_DATA=os.environ.get("LEWM_TEST_DATA", os.pathsep.join([assets["tr"], assets["syn"]])),
               PYTHONUNBUFFERED="1")
    log = open(os.path.join(OUT, "streamlit.log"), "w")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", os.path.join(ROOT, "app", "lab.py"),
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    health = None
    try:
        while time.perf_counter() - t0 < 60:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
                    if r.read().decode().strip() == "ok":
                        health = time.perf_counter() - t0
                        break
            except OSError:
                time.sleep(0.2)
        assert health is not None, "streamlit did not become healthy in 60 s (see test-output/streamlit.log)"
        yield {"url": url, "t0": t0, "health_s": health, "assets": assets, "proc": proc}
    finally:
        stop_server(proc, log)


def _shot(page, name: str) -> None:
    page.screenshot(path=os.path.join(OUT, f"{name}.png"), full_page=True)


def _wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until no script run and no spinner has been visible for a moment."""
    page.wait_for_function(
        """() => {
            const busy = document.querySelector('[data-testid="stStatusWidget"], [data-testid="stSpinner"]');
            const now = Date.now();
            if (busy) { window.__lab_quiet = null; return false; }
            window.__lab_quiet = window.__lab_quiet || now;
            return now - window.__lab_quiet > 700;
        }""", timeout=timeout, polling=200)


def test_lab_in_chromium(server):
    from playwright.sync_api import expect, sync_playwright

    url, timings = server["url"], {"health_s": round(server["health_s"], 2)}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        page.goto(url)
        expect(page.get_by_role("heading", name="LeWM Lab")).to_be_visible(timeout=60_000)
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
        timings["welcome_usable_s"] = round(time.perf_counter() - server["t0"], 2)
        _wait_idle(page)
        _shot(page, "01-welcome")

        # ---- every page renders without an exception
        for name, heading in (("data", "Data"), ("latent", "Latent space"), ("dynamics", "Dynamics"),
                              ("collapse", "Collapse lab")):
            t = time.perf_counter()
            page.goto(f"{url}/{name}")
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=60_000)
            _wait_idle(page, 120_000)
            if name in ("latent", "dynamics"):
                expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
            assert page.get_by_test_id("stException").count() == 0, f"exception on page {name}"
            timings[f"page_{name}_s"] = round(time.perf_counter() - t, 2)
            _shot(page, {"data": "02-data", "latent": "05-latent", "dynamics": "06-dynamics",
                         "collapse": "04-collapse-idle"}[name])

        # ---- start a tiny training run and watch the live chart update
        page.goto(f"{url}/train")
        expect(page.get_by_role("heading", name="Train (live)")).to_be_visible(timeout=60_000)
        _wait_idle(page)
        steps = page.get_by_label("Steps")
        steps.fill("150")
        steps.press("Tab")
        page.get_by_role("button", name="Start training").click()
        t = time.perf_counter()
        frame = page.frame_locator("iframe[title*='live_plot']").first
        expect(frame.locator(".js-plotly-plot").first).to_be_visible(timeout=90_000)
        first_rev = page.frame_locator("iframe[title*='live_plot']").first.locator("body").get_attribute("data-rev")
        changed = False
        for _ in range(120):  # the live view refreshes once a second
            page.wait_for_timeout(500)
            rev = frame.locator("body").get_attribute("data-rev")
            if rev != first_rev:
                changed = True
                break
        assert changed, "the live chart never updated"
        timings["train_first_live_update_s"] = round(time.perf_counter() - t, 2)
        page.wait_for_timeout(1500)
        _shot(page, "03-train-live")
        # a real checkpoint's preset trains the 150 steps slower than the tiny asset's
        expect(page.get_by_text("Run finished")).to_be_visible(
            timeout=600_000 if os.environ.get("LEWM_TEST_CHECKPOINT") else 120_000)
        timings["train_finished_s"] = round(time.perf_counter() - t, 2)
        _wait_idle(page)
        page.wait_for_timeout(1000)
        _shot(page, "03-train-finished")
        assert page.get_by_test_id("stException").count() == 0

        # ---- reload: the run is still listed (job manager outlives the session)
        page.reload()
        expect(page.get_by_text("Run finished")).to_be_visible(timeout=60_000)

        # ---- planner: one recorded plan, then an MPC episode
        page.goto(f"{url}/planner")
        expect(page.get_by_role("heading", name="Planner")).to_be_visible(timeout=60_000)
        _wait_idle(page, 120_000)
        t = time.perf_counter()
        page.get_by_role("button", name="Plan", exact=True).click()
        expect(page.get_by_text("final plan cost")).to_be_visible(timeout=120_000)
        _wait_idle(page, 120_000)
        timings["planner_step_s"] = round(time.perf_counter() - t, 2)
        assert page.get_by_test_id("stException").count() == 0
        _shot(page, "07-planner-step")
        t = time.perf_counter()
        page.get_by_role("button", name="Run episode").click()
        expect(page.get_by_text("median plan time")).to_be_visible(timeout=180_000)
        _wait_idle(page, 120_000)
        timings["planner_episode_s"] = round(time.perf_counter() - t, 2)
        page.wait_for_timeout(1000)
        assert page.get_by_test_id("stException").count() == 0
        _shot(page, "08-planner-episode")
        browser.close()
    with open(os.path.join(OUT, "browser_timings.json"), "w") as f:
        json.dump(timings, f, indent=2)
    print("browser timings:", timings)
    assert timings["welcome_usable_s"] < 60
