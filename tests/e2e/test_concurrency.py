"""Many users at once.

- `test_eight_sessions_for_a_minute` (marked stress and e2e; run it alone with
  `pytest -m stress tests/e2e/test_concurrency.py`): one dashboard server, eight browser
  sessions driven at once for 60 s (picking patients, toggling modalities, asking for
  explanations, uploading a note with a marker of its own):
  no exception in any session, no session ever shows another's upload or selection, the
  server's memory stays bounded, and no upload reaches the disk. Prints sessions, duration,
  actions and the peak RSS.
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
SESSIONS = int(os.environ.get("AMFF_STRESS_SESSIONS", "8"))
DURATION_S = float(os.environ.get("AMFF_STRESS_SECONDS", "60"))
RSS_LIMIT_MB = 3 * 1024
TIMEOUT = 120_000
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
EXCEPTION = '[data-testid="stException"]'
SOURCES = ["Clinical record", "Clinical note", "Medical image", "RNA-seq"]


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
    current: str = ""  # the patient this session chose ("" until it chose one)
    source: str = "cohort"
    uploaded: bool = False
    off: set[str] = field(default_factory=set)  # the sources this session switched off
    quick: bool = False  # whether it chose the quick attribution method yet
    step: int = 0
    acted_at: float = 0.0
    resync: bool = False
    actions: int = 0
    checks: int = 0
    uploads: int = 0


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


def _act(session: Session, note_file: Path) -> None:
    """Start one action in this session; the server works on it while the others start.

    A session asks for the quick attribution method, picks one of its two patients, switches
    sources off and on, asks for the explanation of another source, and now and then goes to
    the upload form, uploads its own note (its marker in the file's name and text) and comes
    back.
    """
    page, step = session.page, session.step
    session.resync = False
    if not session.quick:
        page.get_by_role("combobox", name="Attribution method").click()
        page.keyboard.type("Saliency")
        page.get_by_role("option", name="Saliency").first.click()
        session.quick = True
    elif session.source == "upload":
        if not session.uploaded:
            uploader = page.locator('[data-testid="stFileUploader"]', has_text="Clinical note")
            uploader.locator('input[type="file"]').set_input_files(str(note_file))
            session.uploaded, session.uploads = True, session.uploads + 1
        else:
            page.get_by_role("radio", name="Held-out cohort").click()
            session.source, session.uploaded, session.current = "cohort", False, ""
    elif not session.current:
        session.current = session.patients[0]
        _choose_patient(page, session.current)
        session.resync = True  # back from the upload form: read the switches again
    else:
        kind = (step + session.number) % 5
        if kind == 0:
            page.get_by_role("radio", name="Upload a patient").click()
            session.source = "upload"
        elif kind in (1, 2):
            label = SOURCES[(step + 2 * session.number) % len(SOURCES)]
            if len(session.off) < 3 or label in session.off:  # keep one source on
                _switch(page, label).locator("label").click()
                session.off ^= {label}
        elif kind == 3:
            used = [n for n in SOURCES if n not in session.off]
            page.get_by_role("radio", name=used[step % len(used)]).first.click()
        else:
            session.current = session.patients[session.patients.index(session.current) ^ 1]
            _choose_patient(page, session.current)
    session.step += 1
    session.actions += 1
    session.acted_at = time.monotonic()


def _check(session: Session, others: list[str]) -> None:
    """After the session settles: no exception or error, nothing of another session, and its
    own patient, switches and upload."""
    page = session.page
    _wait_idle(page)
    found = page.query_selector_all(EXCEPTION)
    assert not found, (session.number, [e.inner_text()[:500] for e in found])
    errors = page.query_selector_all('[data-testid="stAlertContentError"]')
    assert not errors, (session.number, [e.inner_text()[:300] for e in errors])
    text = page.inner_text("body")
    for marker in others:
        assert marker not in text, f"session {session.number} shows another session's {marker}"
    if session.source == "cohort" and session.current:
        value = page.get_by_role("combobox", name="Patient id").input_value()
        assert value == session.current, (session.number, value, session.current)
        shown = {
            label for label in SOURCES if not _switch(page, label).locator("input").is_checked()
        }
        if session.resync:
            session.off = shown
        assert shown == session.off, (session.number, shown, session.off)
    elif session.source == "upload" and session.uploaded:
        caption = page.locator('[data-testid="stCaptionContainer"]', has_text=session.marker)
        caption.first.wait_for(timeout=TIMEOUT)  # its own note is there
    session.checks += 1


@pytest.fixture(scope="module")
def stress_server(tiny_checkpoint, tmp_path_factory):
    """One dashboard (`streamlit run`, as `make run` starts it) on the tiny checkpoint and
    its cohort, or on the shipped ones with AMFF_STRESS_DATA=shipped."""
    cohort_dir, checkpoint = tiny_checkpoint
    root = tmp_path_factory.mktemp("stress")
    if os.environ.get("AMFF_STRESS_DATA") == "shipped":
        checkpoints, cohort = REPO / "checkpoints", REPO / "assets" / "demo_cohort"
    else:
        checkpoints, cohort = root / "checkpoints", cohort_dir
        checkpoints.mkdir()
        os.symlink(checkpoint, checkpoints / "amff-default")
    port = _free_port()
    env = {
        **os.environ,
        "AMFF_CHECKPOINT_DIR": str(checkpoints),
        "AMFF_DEMO_COHORT": str(cohort),
        "AMFF_RESULTS_DIR": str(root / "no-results"),
    }
    log = open(root / "streamlit.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/streamlit_app.py",
         "--server.headless", "true", "--server.port", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            assert process.poll() is None, f"the dashboard exited ({process.returncode})"
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "the dashboard did not start in 120 s"
                time.sleep(0.2)
        read = amff.read_cohort(cohort)
        complete = [i for i, row in zip(read.ids, read.present_matrix()) if row.all()]
        yield url, process, complete, root / "streamlit.log"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.mark.e2e
@pytest.mark.stress
def test_eight_sessions_for_a_minute(browser, stress_server, tmp_path, capsys) -> None:
    url, process, ids, server_log = stress_server
    tag = uuid.uuid4().hex[:10]
    sessions: list[Session] = []
    notes: dict[int, Path] = {}
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
            note = tmp_path / f"note-{marker}.txt"
            note.write_text(f"Patient {marker} seen today, fever and rigors.", encoding="utf-8")
            notes[k] = note
            own = (ids[(2 * k + 1) % len(ids)], ids[(2 * k + 2 * SESSIONS + 1) % len(ids)])
            session = Session(k, page, own, marker)
            sessions.append(session)
            page.goto(url)
        for session in sessions:  # all eight load at once
            session.page.get_by_role("combobox", name="Patient id").wait_for(timeout=TIMEOUT)
            _wait_idle(session.page)
        # each session acts again as soon as its last action has settled and been checked,
        # so the server always has work from several sessions at once
        began = time.monotonic()
        for session in sessions:
            _act(session, notes[session.number])
        while time.monotonic() - began < DURATION_S:
            ready = [
                s
                for s in sessions
                if time.monotonic() - s.acted_at > 0.3 and s.page.query_selector(IDLE)
            ]
            for session in ready:
                _check(session, [s.marker for s in sessions if s is not session])
                _act(session, notes[session.number])
            if not ready:
                sessions[0].page.wait_for_timeout(100)
        for session in sessions:
            _check(session, [s.marker for s in sessions if s is not session])
        held = time.monotonic() - began
        alive = sum(1 for s in sessions if not s.page.is_closed())
    finally:
        sampler.stop.set()
        sampler.join(5)
        for context in contexts:
            context.close()
    assert process.poll() is None, "the server died"
    peak = max(sampler.samples)
    report = {
        "sessions": SESSIONS,
        "sessions_alive_at_end": alive,
        "held_s": round(held, 1),
        "actions_per_session": [s.actions for s in sessions],
        "actions": sum(s.actions for s in sessions),
        "checks": sum(s.checks for s in sessions),
        "uploads": sum(s.uploads for s in sessions),
        "rss_start_mb": round(sampler.samples[0], 1),
        "rss_peak_mb": round(peak, 1),
        "rss_end_mb": round(sampler.samples[-1], 1),
    }
    with capsys.disabled():
        print("\nconcurrency:", json.dumps(report))
    (tmp_path / "concurrency.json").write_text(json.dumps(report, indent=1))
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
