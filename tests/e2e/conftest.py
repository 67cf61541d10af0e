"""The dashboard served exactly as `make run` serves it, and a headless Chromium to drive it.

`server` starts `python -m streamlit run app/streamlit_app.py --server.headless true` on a
free port (with the shipped checkpoint and demo cohort when both exist, else a small toy
model and cohort), and records how long the first prediction takes to appear. Tests are
skipped, with the reason, when /usr/bin/chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "assets" / "screenshots"


@dataclass
class Served:
    url: str
    checkpoints: Path
    cohort: Path
    shipped: bool
    process: subprocess.Popen
    started: float  # time.perf_counter() when the server process was started
    timings: dict[str, object] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the dashboard exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the dashboard did not answer at {url} within {timeout} s")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def dashboard_data(request) -> tuple[Path, Path, bool]:
    """(checkpoints folder, demo cohort, shipped?): the shipped ones when both exist."""
    shipped = REPO / "checkpoints"
    demo = REPO / "assets" / "demo_cohort"
    complete = (shipped / "amff-default" / "model.safetensors").is_file() and (
        demo / "clinical.csv"
    ).is_file()
    if complete and os.environ.get("AMFF_APP_TESTS", "shipped") != "toy":
        return shipped, demo, True
    checkpoints, cohort = request.getfixturevalue("toy_dashboard_data")
    return checkpoints, cohort, False


@pytest.fixture(scope="session")
def server(browser, dashboard_data, tmp_path_factory):
    """The dashboard started the way `make run` starts it, on a free port."""
    checkpoints, cohort, shipped = dashboard_data
    port = _free_port()
    env = {
        **os.environ,
        "AMFF_CHECKPOINT_DIR": str(checkpoints),
        "AMFF_DEMO_COHORT": str(cohort),
        "AMFF_RESULTS_DIR": str(tmp_path_factory.mktemp("no-results")),
    }
    log = open(tmp_path_factory.mktemp("log") / "streamlit.log", "w")  # noqa: SIM115
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app/streamlit_app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield Served(url, checkpoints, cohort, shipped, process, started)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def page(browser, server):
    """A fresh browser session (its own Streamlit session) with dialogs recorded."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    tab = context.new_page()
    tab.dialogs = []  # type: ignore[attr-defined]

    def on_dialog(dialog):
        tab.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    yield tab
    context.close()
