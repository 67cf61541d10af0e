"""Privacy: no patient value or note text in logs or on stderr (CLI and dashboard, logging at
DEBUG), uploads never written to disk, and the dashboard's privacy settings in
.streamlit/config.toml.

Each test plants unique marker values in the patients' data (a number, a category, words in
a note, a read count) and then looks for them everywhere they must not be.

Modules covered: amff/cli/ (train, predict, evaluate and explain, with -v and logging at DEBUG),
the dashboard app/ through app/streamlit_app.py (the upload path, app/uploads.py and
app/views/patient/), and .streamlit/config.toml.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.toy import make_toy_cohort

import amff
from amff.cli import main

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

APP = REPO / "app" / "streamlit_app.py"


# -- .streamlit/config.toml ------------------------------------------------------------------
def test_streamlit_config_keeps_data_in_and_errors_quiet() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["browser"]["gatherUsageStats"] is False  # no telemetry
    assert config["client"]["showErrorDetails"] in ("none", False)  # no tracebacks to users
    assert config["server"]["enableXsrfProtection"] is True  # uploads need the session's token
    assert config["server"]["maxUploadSize"] == 20  # megabytes per file
    assert config["server"].get("enableCORS", True) is True
    assert config.get("logger", {}).get("level", "info") in ("warning", "error")


# -- markers ---------------------------------------------------------------------------------
def _markers() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {
        "number": "987.6543217",  # a record value
        "category": f"Ward{tag}Q",  # a categorical record value
        "note": f"Notemark{tag}Z",  # a word in a note
        "count": "31415926",  # an RNA-seq read count
    }


def _assert_absent(markers: dict[str, str], **texts: str) -> None:
    for where, text in texts.items():
        for what, marker in markers.items():
            assert marker not in text, f"the patient's {what} ({marker}) appears in {where}"


@pytest.fixture
def debug_logs(caplog) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, Streamlit's own (which do not propagate) included."""
    import streamlit.logger as st_logger

    caplog.set_level(logging.DEBUG)
    saved = []
    for logger in [*st_logger._loggers.values(), logging.getLogger("streamlit")]:
        saved.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        for logger, level in saved:
            logger.setLevel(level)
            logger.removeHandler(caplog.handler)


# -- the command line --------------------------------------------------------------------------
def _marked_cohort(folder: Path, markers: dict[str, str]) -> Path:
    cohort = make_toy_cohort(n=40, seed=7, image_size=16, n_genes=8)
    ids = cohort.ids
    cohort.clinical.loc[ids[0], "marker_a"] = float(markers["number"])
    cohort.clinical.loc[ids[:12], "ward"] = markers["category"]
    for pid in ids[:20]:
        if pid in cohort.notes:
            cohort.notes[pid] = f"{cohort.notes[pid]} {markers['note']} seen."
    with_rna = [i for i in ids if i in cohort.rnaseq.index]
    cohort.rnaseq.loc[with_rna[0], "g0"] = float(markers["count"])
    cohort.write(folder)
    return folder


def test_cli_logs_and_stderr_hold_no_patient_values(tmp_path, debug_logs, capfd) -> None:
    markers = _markers()
    data = _marked_cohort(tmp_path / "cohort", markers)
    checkpoint = tmp_path / "ck"
    patient = make_toy_cohort(n=40, seed=7, image_size=16, n_genes=8).ids[0]
    runs = [
        ["-v", "train", "--data", str(data), "--out", str(checkpoint), "--epochs", "1"],
        ["-v", "predict", "--checkpoint", str(checkpoint), "--data", str(data),
         "--out", str(tmp_path / "preds.csv")],
        ["-v", "evaluate", "--checkpoint", str(checkpoint), "--data", str(data), "--all-subsets"],
        ["-v", "explain", "--checkpoint", str(checkpoint), "--data", str(data),
         "--patient", patient, "--out", str(tmp_path / "explained"), "--steps", "4"],
    ]  # fmt: skip
    for argv in runs:
        assert main(argv) == 0, argv
    captured = capfd.readouterr()
    assert "wrote 40 predictions" in captured.out  # the runs did run, with their output
    _assert_absent(markers, logs=debug_logs.text, stderr=captured.err, stdout=captured.out)
    assert debug_logs.records or captured.err  # something was logged or shown


def test_cli_errors_name_the_place_not_the_patient(tmp_path, capfd) -> None:
    """A bad file in a marked cohort: the message names the file, and carries no patient's
    values (only the bad cell itself may be quoted, to say what is wrong)."""
    markers = _markers()
    data = _marked_cohort(tmp_path / "cohort", markers)
    (data / "images" / "T0001.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    code = main(["train", "--data", str(data), "--out", str(tmp_path / "ck"), "--epochs", "1"])
    captured = capfd.readouterr()
    assert code == 2 and "T0001.png" in captured.err
    _assert_absent(markers, stderr=captured.err, stdout=captured.out)


# -- the dashboard -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dashboard_env(tmp_path_factory, tiny_checkpoint) -> dict[str, str]:
    cohort_dir, checkpoint = tiny_checkpoint
    root = tmp_path_factory.mktemp("privacy_dashboard")
    (root / "checkpoints").mkdir()
    os.symlink(checkpoint, root / "checkpoints" / "amff-default")
    return {
        "AMFF_CHECKPOINT_DIR": str(root / "checkpoints"),
        "AMFF_DEMO_COHORT": str(root / "no-held-out-cohort"),
        "AMFF_RESULTS_DIR": str(root / "no-results"),
        "_cohort": str(cohort_dir),
    }


def _marked_uploads(markers: dict[str, str], cohort_dir: str) -> dict[str, tuple[str, bytes]]:
    cohort = amff.read_cohort(cohort_dir)
    pid = next(i for i in cohort.ids if cohort.present_matrix()[cohort.ids.index(i)].all())
    record = cohort.patient(pid).record.copy()
    record["marker_a"] = float(markers["number"])
    record["ward"] = markers["category"]
    frame = record.to_frame().T
    frame.insert(0, "patient_id", "UP-1")
    rna = cohort.patient(pid).rna.copy()
    rna.iloc[0] = float(markers["count"])
    rna_frame = rna.to_frame().T
    rna_frame.insert(0, "patient_id", "UP-1")
    note = f"Patient stable. {markers['note']} fever, rigors."
    return {
        "file_record": ("record.csv", frame.to_csv(index=False).encode()),
        "file_note": ("note.txt", note.encode()),
        "file_rna": ("rnaseq.csv", rna_frame.to_csv(index=False).encode()),
    }


def _run_uploads(monkeypatch, env: dict[str, str], markers: dict[str, str]):
    from streamlit.testing.v1 import AppTest

    for key, value in env.items():
        if not key.startswith("_"):
            monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state["method"] = "saliency"
    at.run()
    for key, (name, data) in _marked_uploads(markers, env["_cohort"]).items():
        at.file_uploader(key=key).set_value((name, data, "application/octet-stream")).run()
        assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert [m for m in at.metric if m.label == "Predicted risk"]
    at.segmented_control(key="explain_tabular_text_rna").set_value("text").run()
    assert not at.exception, [e.value for e in at.exception]
    page = " ".join(str(h.proto.body) for h in at.get("html"))
    assert markers["note"] in page  # the note is on the page (to the user), not in the logs
    return at


def test_dashboard_logs_hold_no_patient_values(dashboard_env, monkeypatch, debug_logs, capfd):
    markers = _markers()
    _run_uploads(monkeypatch, dashboard_env, markers)
    captured = capfd.readouterr()
    _assert_absent(markers, logs=debug_logs.text, stderr=captured.err, stdout=captured.out)


def _files_since(roots: list[Path], since: float) -> Iterator[Path]:
    """Regular files under the roots modified at or after `since` (links not followed)."""
    for root in roots:
        if not root.is_dir():
            continue
        for folder, dirs, files in os.walk(root, followlinks=False):
            dirs[:] = [d for d in dirs if d not in (".git",)]
            for name in files:
                path = Path(folder) / name
                try:
                    info = path.lstat()
                except OSError:
                    continue
                if info.st_mtime >= since and path.is_file() and info.st_size < 256 * 2**20:
                    yield path


def test_uploads_are_never_written_to_disk(dashboard_env, monkeypatch) -> None:
    """Upload marked files through the page, then look in every file written meanwhile under
    the repository, the temp folder and the home folder's Streamlit and cache folders."""
    markers = _markers()
    started = time.time() - 1.0
    _run_uploads(monkeypatch, dashboard_env, markers)
    roots = [REPO, Path(tempfile.gettempdir()), Path.home() / ".streamlit", Path.home() / ".cache"]
    # a file written meanwhile on purpose: the scan must see it, or it proves nothing
    canary = Path(tempfile.mkstemp(prefix="amff-canary-")[1])
    found = []
    seen = set()
    for path in _files_since(roots, started):
        seen.add(path)
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for what in ("note", "category"):
            if markers[what].encode() in data:
                found.append(f"{path} holds the upload's {what}")
    canary.unlink()
    assert not found, found
    assert canary in seen, "the scan missed a file written during the test"


def test_a_uploaded_patient_is_not_shared_with_another_session(dashboard_env, monkeypatch):
    """Two AppTest sessions in one process (one Streamlit runtime's caches): the second,
    which uploaded nothing, sees nothing of the first's upload."""
    from streamlit.testing.v1 import AppTest

    markers = _markers()
    _run_uploads(monkeypatch, dashboard_env, markers)
    other = AppTest.from_file(str(APP), default_timeout=120)
    other.run()
    assert not other.exception
    texts = [str(e.value) for e in [*other.markdown, *other.caption, *other.info, *other.error]]
    texts += [str(h.proto.body) for h in other.get("html")]
    assert not [m for m in other.metric if m.label == "Predicted risk"]
    _assert_absent(markers, other_session=" ".join(texts))
