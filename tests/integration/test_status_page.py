"""The status page at GET / in headless Chromium, while the worker takes live traffic: the page
shows non-zero rates, dead letters by reason and the current window's event names, and renders.

Chromium comes from Debian's packages: installed here when missing and running as root (CI),
else the test is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import time
from collections.abc import Callable
from html import unescape
from pathlib import Path

import pytest

from tests.integration.observability_traffic import SteadyTraffic, get_json
from tests.integration.worker import WorkerProcess

BROWSER_NAMES = ("chromium", "chromium-browser")


def chromium() -> str:
    """The Chromium binary; installed with apt-get when absent and running as root."""
    found = next(filter(None, map(shutil.which, BROWSER_NAMES)), None)
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("chromium is not installed, and installing it needs root (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, timeout=900)
    subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, env=env, timeout=1800)
    found = next(filter(None, map(shutil.which, BROWSER_NAMES)), None)
    assert found, "apt-get installed chromium but no chromium binary is on PATH"
    return found


def headless(binary: str, profile: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=8000",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def shown(dom: str, attribute: str) -> dict[str, float]:
    """Numbers of the cells marked ``attribute="<name>"``, by name."""
    cells = re.findall(rf'{attribute}="([^"]+)"[^>]*>([^<]*)<', dom)
    return {unescape(name): float(text.replace(",", "")) for name, text in cells}


def text_of(dom: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', dom)
    assert match, f"no #{element_id} in the page"
    return unescape(match.group(1))


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_status_page_shows_live_rates_in_a_browser(
    start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    browser = chromium()
    # One-day windows: the traffic's events all fall in the window the page reads.
    worker = start_worker(METRICS_WINDOW_SECONDS="86400")
    traffic = SteadyTraffic(worker)
    traffic.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = get_json(worker, "/status.json")
            if status["rates"]["records"].get("custom", 0) > 0 and status["totals"][
                "deadLetters"
            ].get("missing_user"):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"no live rates after 60 s: {status}")

        page = headless(browser, tmp_path / "profile-dom", worker.web_url + "/", "--dump-dom")
        assert page.returncode == 0, page.stderr[-2000:]
        dom = page.stdout
        screenshot = tmp_path / "status.png"
        shot = headless(
            browser,
            tmp_path / "profile-shot",
            worker.web_url + "/",
            f"--screenshot={screenshot}",
            "--window-size=1280,900",
        )
        assert shot.returncode == 0, shot.stderr[-2000:]
    finally:
        traffic.stop()

    assert "Statsig event stream: live status" in dom
    assert text_of(dom, "state").startswith("Updated"), text_of(dom, "state")
    assert float(text_of(dom, "events-rate").replace(",", "")) > 0
    rates = shown(dom, "data-rate")
    assert rates.keys() == {"exposure", "custom", "config_change", "diagnostic"}
    assert rates["custom"] > 0 and rates["exposure"] > 0 and rates["config_change"] > 0
    assert rates["diagnostic"] == 0
    assert shown(dom, "data-dead").keys() == {"missing_user"}
    names = shown(dom, "data-name")
    assert {"add_to_cart", "checkout", "statsig::gate_exposure"} <= names.keys(), names
    assert all(count > 0 for count in names.values())
    assert "<polyline" in dom, "the chart drew no line"
    assert traffic.statuses[202] > 0 and set(traffic.statuses) == {202}, traffic.statuses

    assert screenshot.exists()
    assert png_size(screenshot) == (1280, 900)
    # A blank or error page compresses to a few kilobytes; the rendered page does not.
    assert screenshot.stat().st_size > 30_000


def test_an_ingress_only_workers_page_says_it_counts_nothing(
    start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    browser = chromium()
    worker = start_worker(WORKER_ROLE="ingress")
    page = headless(browser, tmp_path / "profile-dom", worker.web_url + "/", "--dump-dom")
    assert page.returncode == 0, page.stderr[-2000:]
    assert text_of(page.stdout, "state").startswith("Updated"), text_of(page.stdout, "state")
    assert "WORKER_ROLE=ingress" in text_of(page.stdout, "window-hint")
    assert "not counted on this worker" in page.stdout
