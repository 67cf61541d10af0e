"""Many users at once.

- `test_sixteen_sessions_for_two_minutes` (marked stress and e2e; run it alone with
  `pytest -m stress tests/e2e/test_concurrency.py`): one dashboard server, sixteen browser
  sessions (one Chromium, a context each; AMFF_STRESS_SESSIONS, AMFF_STRESS_SECONDS) driven at
  once for 120 s: picking patients, toggling modalities, asking for explanations, uploading a
  note with a marker of its own, a malformed record CSV and a 21 MiB image (refused by the
  upload size limit, with a message), switching to the model card page and back, and
  downloading the patient report. No exception or traceback in any session, no session ever
  shows another's upload or selection, the server's memory stays bounded, and no upload
  reaches the disk. Prints sessions, duration, actions, the peak RSS and the p95
  toggle-to-update latency (measured in the browser: from the click on a source switch until
  the risk tile's text changes, or the rerun ends if the text stays the same).
- `test_server_restart_mid_session` (stress): the server is killed (SIGKILL) while pages are
  open and started again on the same port; each page comes back to the normal page (by
  Streamlit's own reconnect or a reload), never a traceback.
- `test_threads_share_one_predictor_safely` (default run): amff.explain serialises Captum
  calls with a module lock (ATTRIBUTION_LOCK, taken by attribute/attribute_all/attention_maps/
  explain_patient because they hook the shared model); eight threads attributing on one
  Predictor at once give bit for bit what sequential calls give, and the lock really blocks.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

import amff
from amff import explain

REPO = Path(__file__).resolve().parents[2]
SESSIONS = int(os.environ.get("AMFF_STRESS_SESSIONS", "16"))
DURATION_S = float(os.environ.get("AMFF_STRESS_SECONDS", "120"))
RSS_LIMIT_MB = 3 * 1024
TIMEOUT = 120_000
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
EXCEPTION = '[data-testid="stException"]'
SOURCES = ["Clinical record", "Clinical note", "Medical image", "RNA-seq"]
BIG_IMAGE_BYTES = 21 * 2**20  # over the server's maxUploadSize (20 MB, .streamlit/config.toml)
REPORT_BUTTON = "Download this patient's report (HTML)"
# Installed before a source switch is clicked: from the click until the risk tile's text
# changes (or, if it stays the same, until the rerun ends), polled every 20 ms in the page.
LATENCY_JS = """() => {
    const value = () => {
        const card = [...document.querySelectorAll('[data-testid="stMetric"]')]
            .find(e => e.innerText.includes('Predicted risk'));
        const v = card && card.querySelector('[data-testid="stMetricValue"]');
        return v ? v.innerText.trim() : null;
    };
    const before = value();
    let t0 = null, running = false;
    window.__amffLatency = null;
    document.addEventListener('click', () => { t0 = performance.now(); },
                              {capture: true, once: true});
    const timer = setInterval(() => {
        if (t0 === null) return;
        const app = document.querySelector('[data-testid="stApp"]');
        const state = app && app.getAttribute('data-test-script-state');
        if (state === 'running') running = true;
        const now = value();
        const changed = now !== null && now !== before;
        if (changed || (running && state === 'notRunning')) {
            window.__amffLatency = {ms: performance.now() - t0, changed: changed};
            clearInterval(timer);
        } else if (performance.now() - t0 > 180000) {
            clearInterval(timer);
        }
    }, 20);
}"""


# -- attributions from many threads on one Predictor ---------------------------------------------
def test_threads_share_one_predictor_safely(tiny_checkpoint) -> None:
    cohort_dir, checkpoint = tiny_checkpoint
    predictor = amff.load(checkpoint)
    cohort = amff.read_cohort(cohort_dir)
    full = [i for i, row in zip(cohort.ids, cohort.present_matrix()) if row.all()][:4]
    jobs = [
        (cohort.patient(full[k % len(full)]), modality, method)
        for k, (modality, method) in enumerate(
            [
                ("text", "integrated_gradients"),
                ("image", "saliency"),
                ("rna", "integrated_gradients"),
                ("tabular", "occlusion"),
                ("image", "integrated_gradients"),
                ("text", "input_x_gradient"),
                ("tabular", "integrated_gradients"),
                ("rna", "occlusion"),
            ]
        )
    ]

    def work(job):
        patient, modality, method = job
        return explain.attribute(predictor, patient, modality, method, n_steps=8).values

    before = {k: v.clone() for k, v in predictor.model.state_dict().items()}
    expected = [work(job) for job in jobs]
    got: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(k: int) -> None:
        try:
            start.wait()
            got[k] = work(jobs[k])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert all(np.array_equal(got[k], expected[k]) for k in range(len(jobs)))
    after = predictor.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    for module in predictor.model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks

    # the lock is what serialises them: while another thread holds it, an attribution waits
    assert isinstance(explain.ATTRIBUTION_LOCK, type(threading.RLock()))
    done = threading.Event()
    holder_ready, release = threading.Event(), threading.Event()

    def hold() -> None:
        with explain.ATTRIBUTION_LOCK:
            holder_ready.set()
            release.wait(30)

    def attribute() -> None:
        work(jobs[1])
        done.set()

    holder = threading.Thread(target=hold)
    holder.start()
    holder_ready.wait(30)
    waiter = threading.Thread(target=attribute)
    waiter.start()
    assert not done.wait(1.0), "an attribution ran while another thread held the lock"
    release.set()
    assert done.wait(60)
    holder.join()
    waiter.join()


# -- eight browser sessions against one server ----------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler(threading.Thread):
    """The server's resident memory, once a second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop = pid, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.samples.append(_rss_mb(self.pid))
            except OSError:
                break
            self.stop.wait(1.0)


@dataclass
class Session:
    """One browser session: its page, its own two patients and note marker, what it did."""

    number: int
    page: object
    patients: tuple[str, str]
    marker: str
    files: dict[str, Path]  # its note, a malformed record CSV and the over-sized image
    current: str = ""  # the patient this session chose ("" until it chose one)
    source: str = "cohort"
    where: str = "patient"  # the page it is on: "patient" or "card" (the model card)
    upload_plan: list[str] = field(default_factory=list)  # what is left to do on the form
    bad_record: bool = False  # it uploaded the malformed CSV (the form shows its error)
    big_image: bool = False  # it tried the over-sized image
    report: bool = False  # it downloaded the report
    off: set[str] = field(default_factory=set)  # the sources this session switched off
    quick: bool = False  # whether it chose the quick attribution method yet
    timing: bool = False  # a source switch was clicked and its latency is being measured
    step: int = 0
    turn: int = 0  # the actions chosen from the mix below (after the set-up steps)
    acted_at: float = 0.0
    resync: bool = False
    actions: int = 0
    checks: int = 0
    uploads: int = 0
    bad_uploads: int = 0
    big_refused: int = 0
    page_switches: int = 0
    reports: int = 0
    latencies_ms: list[float] = field(default_factory=list)


def _wait_idle(page, timeout: int = TIMEOUT) -> None:
    page.wait_for_timeout(150)
    page.wait_for_selector(IDLE, timeout=timeout)


def _choose_patient(page, patient_id: str) -> None:
    box = page.get_by_role("combobox", name="Patient id")
    box.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(patient_id)
    page.get_by_role("option", name=patient_id, exact=True).click()


def _switch(page, label: str):
    return page.locator('[data-testid="stCheckbox"]', has_text=label).first


def _uploader(page, label: str):
    box = page.locator('[data-testid="stFileUploader"]', has_text=label)
    return box.locator('input[type="file"]')


def _upload_step(session: Session) -> None:
    """One step on the upload form: its own note, the malformed CSV, the over-sized image (once:
    Streamlit refuses it in the browser with a message), then back to the cohort."""
    page = session.page
    what = session.upload_plan.pop(0) if session.upload_plan else "back"
    if what == "note":
        _uploader(page, "Clinical note").set_input_files(str(session.files["note"]))
        session.uploads += 1
    elif what == "bad":
        _uploader(page, "Clinical record").set_input_files(str(session.files["bad"]))
        session.bad_record, session.bad_uploads = True, session.bad_uploads + 1
    elif what == "big":
        _uploader(page, "Medical image").set_input_files(str(session.files["big"]))
        session.big_image = True
        refused = page.locator('[data-testid="stFileUploader"]', has_text="or smaller")
        refused.first.wait_for(timeout=TIMEOUT)  # the size limit's message, in the browser
        session.big_refused += 1
    else:
        page.get_by_role("radio", name="Held-out cohort").click()
        session.source, session.current = "cohort", ""


def _download_report(session: Session, others: list[str]) -> None:
    """Download the patient report (built when asked); it is this session's patient's."""
    page = session.page
    with page.expect_download(timeout=TIMEOUT) as download:
        page.get_by_role("button", name=REPORT_BUTTON).click()
    html = Path(download.value.path()).read_text(encoding="utf-8", errors="replace")
    assert session.current in html and "<html" in html.lower(), session.number
    assert not any(marker in html for marker in others), session.number
    session.report, session.reports = True, session.reports + 1


def _act(session: Session, others: list[str]) -> None:
    """Start one action in this session; the server works on it while the others start.

    A session asks for the quick attribution method, picks one of its two patients, switches
    sources off and on (timing each switch), asks for the explanation of another source, now
    and then goes to the upload form (its own note with its marker in the file's name and
    text, a malformed record CSV, once an over-sized image) and comes back, visits the model
    card page and comes back, and once downloads the patient report.
    """
    page, step = session.page, session.step
    session.resync = False
    if session.where == "card":
        page.locator('[data-testid="stSidebarNav"] a', has_text="Patient").first.click()
        session.where, session.current, session.quick = "patient", "", False
    elif not session.quick:
        page.get_by_role("combobox", name="Attribution method").click()
        page.keyboard.type("Saliency")
        page.get_by_role("option", name="Saliency").first.click()
        session.quick = True
    elif session.source == "upload":
        _upload_step(session)
    elif not session.current:
        session.current = session.patients[0]
        _choose_patient(page, session.current)
        session.resync = True  # back from the upload form or another page: read the switches
    else:
        kind = (session.turn + session.number) % 7
        session.turn += 1
        if kind == 0:
            page.get_by_role("radio", name="Upload a patient").click()
            session.source = "upload"
            extra = "bad" if (session.uploads + session.number) % 2 else "big"
            session.upload_plan = ["note", extra, "back"]
            if session.big_image and session.upload_plan[1] == "big":
                session.upload_plan[1] = "bad"
        elif kind in (1, 2, 3):
            label = SOURCES[(step + 2 * session.number) % len(SOURCES)]
            if len(session.off) < 3 or label in session.off:  # keep one source on
                page.evaluate(LATENCY_JS)
                _switch(page, label).locator("label").click()
                session.off ^= {label}
                session.timing = True
        elif kind == 4:
            used = [n for n in SOURCES if n not in session.off]
            page.get_by_role("radio", name=used[step % len(used)]).first.click()
        elif kind == 5:
            page.locator('[data-testid="stSidebarNav"] a', has_text="Model card").first.click()
            session.where, session.page_switches = "card", session.page_switches + 1
        elif not session.report and session.number % 4 == 0:  # a few sessions, once each
            _download_report(session, others)
        else:
            session.current = session.patients[session.patients.index(session.current) ^ 1]
            _choose_patient(page, session.current)
    session.step += 1
    session.actions += 1
    session.acted_at = time.monotonic()


def _check(session: Session, others: list[str]) -> None:
    """After the session settles: no exception, traceback or unexpected error, nothing of
    another session, and its own page, patient, switches and upload."""
    page = session.page
    _wait_idle(page)
    found = page.query_selector_all(EXCEPTION)
    assert not found, (session.number, [e.inner_text()[:500] for e in found])
    text = page.inner_text("body")
    assert "Traceback" not in text, (session.number, text[:2000])
    errors = [
        e.inner_text()[:300] for e in page.query_selector_all('[data-testid="stAlertContentError"]')
    ]
    if session.where == "patient" and session.source == "upload" and session.bad_record:
        errors = [e for e in errors if session.files["bad"].name not in e]  # its own bad file
    if session.where == "card":  # the model card's disclaimer is an error box by design
        errors = [e for e in errors if "not for clinical decisions" not in e]
    assert not errors, (session.number, errors)
    for marker in others:
        assert marker not in text, f"session {session.number} shows another session's {marker}"
    if session.timing:
        latency = page.evaluate("window.__amffLatency")
        if latency:
            session.latencies_ms.append(float(latency["ms"]))
        session.timing = False
    if session.where == "card":
        page.get_by_role("heading", name="Model card").first.wait_for(timeout=TIMEOUT)
    elif session.source == "cohort" and session.current:
        value = page.get_by_role("combobox", name="Patient id").input_value()
        assert value == session.current, (session.number, value, session.current)
        shown = {
            label for label in SOURCES if not _switch(page, label).locator("input").is_checked()
        }
        if session.resync:
            session.off = shown
        assert shown == session.off, (session.number, shown, session.off)
    elif session.source == "upload" and session.uploads:
        caption = page.locator('[data-testid="stCaptionContainer"]', has_text=session.marker)
        caption.first.wait_for(timeout=TIMEOUT)  # its own note is there
    session.checks += 1


def _server_env(tiny_checkpoint, root: Path) -> tuple[dict[str, str], Path]:
    """The environment of a dashboard on the tiny checkpoint and its cohort (or on the shipped
    ones with AMFF_STRESS_DATA=shipped), and the cohort's folder."""
    cohort_dir, checkpoint = tiny_checkpoint
    if os.environ.get("AMFF_STRESS_DATA") == "shipped":
        checkpoints, cohort = REPO / "checkpoints", REPO / "assets" / "demo_cohort"
    else:
        checkpoints, cohort = root / "checkpoints", cohort_dir
        checkpoints.mkdir()
        os.symlink(checkpoint, checkpoints / "amff-default")
    env = {
        **os.environ,
        "AMFF_CHECKPOINT_DIR": str(checkpoints),
        "AMFF_DEMO_COHORT": str(cohort),
        "AMFF_RESULTS_DIR": str(root / "no-results"),
    }
    return env, cohort


def _start_server(port: int, env: dict[str, str], log) -> subprocess.Popen:
    """`streamlit run`, as `make run` starts it, once it answers its health check."""
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/streamlit_app.py",
         "--server.headless", "true", "--server.port", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the dashboard exited ({process.returncode})")
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/_stcore/health", timeout=2
            ) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError("the dashboard did not start in 120 s") from None
            time.sleep(0.2)


def _stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def stress_server(tiny_checkpoint, tmp_path_factory):
    """One dashboard (`streamlit run`, as `make run` starts it) on the tiny checkpoint and
    its cohort, or on the shipped ones with AMFF_STRESS_DATA=shipped."""
    root = tmp_path_factory.mktemp("stress")
    env, cohort = _server_env(tiny_checkpoint, root)
    port = _free_port()
    with open(root / "streamlit.log", "w") as log:
        process = _start_server(port, env, log)
        try:
            read = amff.read_cohort(cohort)
            complete = [i for i, row in zip(read.ids, read.present_matrix()) if row.all()]
            yield f"http://127.0.0.1:{port}", process, complete, root / "streamlit.log"
        finally:
            _stop_server(process)


def _p95(values: list[float]) -> float | None:
    return round(float(np.percentile(values, 95)), 1) if values else None


def _session_files(folder: Path, marker: str) -> dict[str, Path]:
    """A session's note (its marker in name and text), a malformed record CSV and an image
    over the upload size limit."""
    note = folder / f"note-{marker}.txt"
    note.write_text(f"Patient {marker} seen today, fever and rigors.", encoding="utf-8")
    bad = folder / f"bad-record-{marker}.csv"
    bad.write_bytes(b'patient_id,age,"unclosed\nX1,"4"2,\x00\xff\n,,,,,\n')
    big = folder / "big-image.png"
    if not big.exists():
        with open(big, "wb") as out:
            out.write(b"\x89PNG\r\n\x1a\n")
            out.truncate(BIG_IMAGE_BYTES)
    return {"note": note, "bad": bad, "big": big}


@pytest.mark.e2e
@pytest.mark.stress
def test_sixteen_sessions_for_two_minutes(browser, stress_server, tmp_path, capsys) -> None:
    url, process, ids, server_log = stress_server
    tag = uuid.uuid4().hex[:10]
    sessions: list[Session] = []
    started_at = time.time() - 1.0
    sampler = RssSampler(process.pid)
    sampler.start()
    contexts = []
    try:
        for k in range(SESSIONS):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            contexts.append(context)
            page = context.new_page()
            marker = f"Sess{k}Mark{tag}"
            own = (ids[(2 * k + 1) % len(ids)], ids[(2 * k + 2 * SESSIONS + 1) % len(ids)])
            session = Session(k, page, own, marker, _session_files(tmp_path, marker))
            sessions.append(session)
            page.goto(url)
        for session in sessions:  # all of them load at once
            session.page.get_by_role("combobox", name="Patient id").wait_for(timeout=TIMEOUT)
            _wait_idle(session.page)

        def others(session: Session) -> list[str]:
            return [s.marker for s in sessions if s is not session]

        # each session acts again as soon as its last action has settled and been checked,
        # so the server always has work from several sessions at once
        began = time.monotonic()
        for session in sessions:
            _act(session, others(session))
        while time.monotonic() - began < DURATION_S:
            ready = [
                s
                for s in sessions
                if time.monotonic() - s.acted_at > 0.3 and s.page.query_selector(IDLE)
            ]
            for session in ready:
                _check(session, others(session))
                _act(session, others(session))
            if not ready:
                sessions[0].page.wait_for_timeout(100)
        for session in sessions:
            _check(session, others(session))
        held = time.monotonic() - began
        alive = sum(1 for s in sessions if not s.page.is_closed())
    finally:
        sampler.stop.set()
        sampler.join(5)
        for context in contexts:
            context.close()
    assert process.poll() is None, "the server died"
    peak = max(sampler.samples)
    latencies = [ms for s in sessions for ms in s.latencies_ms]
    report = {
        "sessions": SESSIONS,
        "sessions_alive_at_end": alive,
        "held_s": round(held, 1),
        "actions_per_session": [s.actions for s in sessions],
        "actions": sum(s.actions for s in sessions),
        "checks": sum(s.checks for s in sessions),
        "uploads": sum(s.uploads for s in sessions),
        "bad_uploads": sum(s.bad_uploads for s in sessions),
        "big_images_refused": sum(s.big_refused for s in sessions),
        "page_switches": sum(s.page_switches for s in sessions),
        "reports": sum(s.reports for s in sessions),
        "toggles_timed": len(latencies),
        "toggle_latency_p50_ms": round(float(np.median(latencies)), 1) if latencies else None,
        "toggle_latency_p95_ms": _p95(latencies),
        "rss_start_mb": round(sampler.samples[0], 1),
        "rss_peak_mb": round(peak, 1),
        "rss_end_mb": round(sampler.samples[-1], 1),
    }
    with capsys.disabled():
        print("\nconcurrency:", json.dumps(report))
    (tmp_path / "concurrency.json").write_text(json.dumps(report, indent=1))
    assert latencies and report["toggle_latency_p95_ms"] < 30_000, report  # a sanity bound
    assert alive == SESSIONS and held >= DURATION_S
    assert peak < RSS_LIMIT_MB, report
    assert "Traceback" not in server_log.read_text(errors="replace")
    # the uploads stayed in memory: no file written during the run holds a note's marker
    # (the note files this test wrote itself are in tmp_path, left out)
    leaks = []
    for root in (REPO, Path(tempfile.gettempdir())):
        for folder, dirs, files in os.walk(root):
            # not the browser's own profile (a page's text may reach its caches)
            dirs[:] = [d for d in dirs if d != ".git" and not d.startswith("playwright")]
            if Path(folder).resolve() == tmp_path.resolve():
                continue
            for name in files:
                path = Path(folder) / name
                try:
                    info = path.lstat()
                    if info.st_mtime < started_at or not path.is_file() or info.st_size > 2**28:
                        continue
                    data = path.read_bytes()
                except OSError:
                    continue
                if tag.encode() in data:
                    leaks.append(str(path))
    assert not leaks, leaks


# -- a server restart under open pages -------------------------------------------------------------
def _risk_text(page) -> str:
    card = page.locator('[data-testid="stMetric"]', has_text="Predicted risk")
    return card.locator('[data-testid="stMetricValue"]').first.inner_text(timeout=TIMEOUT)


def _no_traceback(page, where: str) -> None:
    found = page.query_selector_all(EXCEPTION)
    assert not found, (where, [e.inner_text()[:500] for e in found])
    text = page.inner_text("body")
    assert "Traceback" not in text and 'File "' not in text, (where, text[:2000])


def _live_patient_page(page, patient_id: str, timeout: int) -> None:
    """The patient page answers a server: choosing a patient brings its prediction."""
    page.get_by_role("combobox", name="Patient id").wait_for(timeout=timeout)
    _wait_idle(page, timeout)
    _choose_patient(page, patient_id)
    caption = page.locator('[data-testid="stCaptionContainer"]', has_text=f"Patient {patient_id}.")
    caption.first.wait_for(timeout=timeout)
    _risk_text(page)
    _wait_idle(page, timeout)


def _live_card_page(page, timeout: int) -> None:
    """The model card page answers a server: its sidebar leads to a working patient page."""
    page.get_by_role("heading", name="Model card").first.wait_for(timeout=timeout)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Patient").first.click()
    page.get_by_role("combobox", name="Patient id").wait_for(timeout=timeout)
    _wait_idle(page, timeout)


@pytest.mark.e2e
@pytest.mark.stress
def test_server_restart_mid_session(browser, tiny_checkpoint, tmp_path, capsys) -> None:
    """The server is killed while a patient page and a model card page are open, and started
    again on the same port: each page comes back (by Streamlit's reconnect, else a reload)
    with the normal page; while the server is down, and after, no traceback anywhere."""
    env, cohort = _server_env(tiny_checkpoint, tmp_path)
    read = amff.read_cohort(cohort)
    ids = [i for i, row in zip(read.ids, read.present_matrix()) if row.all()]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    result: dict[str, object] = {}
    with open(tmp_path / "streamlit.log", "w") as log:
        process = _start_server(port, env, log)
        contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in "ab"]
        try:
            patient, card = contexts[0].new_page(), contexts[1].new_page()
            patient.goto(url)
            _live_patient_page(patient, ids[0], TIMEOUT)
            card.goto(f"{url}/model-card")
            card.get_by_role("heading", name="Model card").first.wait_for(timeout=TIMEOUT)
            _wait_idle(card)

            process.kill()  # SIGKILL: no clean shutdown, the websockets just drop
            process.wait(timeout=30)
            patient.wait_for_timeout(3000)
            for name, page in (("patient", patient), ("card", card)):
                _no_traceback(page, f"{name} page, server down")
                status = page.query_selector('[data-testid="stStatusWidget"]')
                result[f"{name}_while_down"] = status.inner_text().strip() if status else ""

            process = _start_server(port, env, log)  # the same port
            checks = (
                ("patient", patient, lambda page, t: _live_patient_page(page, ids[1], t)),
                ("card", card, _live_card_page),
            )
            for name, page, live in checks:
                try:
                    live(page, 30_000)
                    result[name] = "recovered by Streamlit's reconnect"
                except Exception:  # noqa: BLE001 - a reload is the user's next step
                    _no_traceback(page, f"{name} page, before reload")
                    page.reload()
                    if name == "card":
                        page.get_by_role("heading", name="Model card").first.wait_for(
                            timeout=TIMEOUT
                        )
                    live(page, TIMEOUT)
                    result[name] = "recovered after a reload"
                _no_traceback(page, f"{name} page, after the restart")
        finally:
            for context in contexts:
                context.close()
            _stop_server(process)
    with capsys.disabled():
        print("\nrestart:", json.dumps(result))
    assert "Traceback" not in (tmp_path / "streamlit.log").read_text(errors="replace")
