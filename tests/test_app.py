"""The dashboard's pages, run headless with streamlit.testing.v1.AppTest.

The app is pointed at the shipped checkpoint and demo cohort when both exist, else at a small
AMFF-HT trained on the toy cohort (the `trained_toy_checkpoint` fixture) and a held-out toy
cohort, so these tests never skip. Probabilities shown on the page are checked against
`amff.load(...).predict(...)` for the same patient and modality subset.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

import amff
from amff import Cohort, metrics
from amff.data.images import encode_png
from amff.modalities import MODALITIES

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app import report, uploads  # noqa: E402

APP = REPO / "app" / "streamlit_app.py"
RISK = "Predicted risk"
TIMEOUT = 120


@dataclass(frozen=True)
class Setup:
    checkpoints: Path
    cohort: Path
    shipped: bool

    @property
    def model(self) -> Path:
        return self.checkpoints / "amff-default"


@pytest.fixture(scope="session")
def setup(request) -> Setup:
    shipped = REPO / "checkpoints"
    demo = REPO / "assets" / "demo_cohort"
    wanted = os.environ.get("AMFF_APP_TESTS", "shipped")  # "toy" forces the small model
    complete = (shipped / "amff-default" / "model.safetensors").is_file() and (
        demo / "clinical.csv"
    ).is_file()
    if complete and wanted != "toy":
        return Setup(shipped, demo, shipped=True)
    checkpoints, cohort = request.getfixturevalue("toy_dashboard_data")
    return Setup(checkpoints, cohort, shipped=False)


@pytest.fixture(autouse=True)
def env(setup, monkeypatch, tmp_path):
    monkeypatch.setenv("AMFF_CHECKPOINT_DIR", str(setup.checkpoints))
    monkeypatch.setenv("AMFF_DEMO_COHORT", str(setup.cohort))
    monkeypatch.setenv("AMFF_RESULTS_DIR", str(tmp_path / "no-results"))


@pytest.fixture(scope="session")
def predictor(setup):
    return amff.load(setup.model)


@pytest.fixture(scope="session")
def cohort(setup):
    return amff.read_cohort(setup.cohort)


def start(page: str | None = None, method: str = "saliency", **selections) -> AppTest:
    """A fresh session on `page`, with quick attributions unless a method is given."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["method"] = method
    for key, value in selections.items():
        at.session_state[key] = value
    at.run()
    if page is not None:
        at.switch_page(page).run()
    return at


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def shown_risk(at: AppTest) -> str:
    (metric,) = [m for m in at.metric if m.label == RISK]
    return metric.value


def as_text(p: float) -> str:
    return f"{100 * p:.1f}%"


def figures(at: AppTest) -> list[go.Figure]:
    return [pio.from_json(chart.proto.spec) for chart in at.get("plotly_chart")]


def values(array: object) -> np.ndarray:
    """A trace's x or y as numbers (Plotly sends numpy arrays as base64 typed arrays)."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


def figure(at: AppTest, title: str) -> go.Figure:
    found = [f for f in figures(at) if title in str(f.layout.title.text)]
    assert found, f"no chart titled {title!r}"
    return found[0]


def predict_one(predictor, patient, subset=None) -> float:
    """amff's prediction for one patient, as a one-patient cohort that carries every gene the
    RNA normalisation needs (`Predictor.predict(patient)` keeps only the genes the model
    reads)."""
    one = Cohort.from_patients(
        [patient], features=predictor.features, genes=predictor.library_genes
    )
    return float(predictor.predict(one, subset).iloc[0]["probability"])


def full_patient(cohort) -> str:
    every = cohort.present_matrix().all(axis=1)
    return cohort.ids[int(np.flatnonzero(every)[0])]


# -- every page ----------------------------------------------------------------------------------
def test_every_page_runs_and_the_sidebar_says_synthetic():
    at = start()
    no_exception(at)
    assert RISK in [m.label for m in at.metric]
    assert any("not for clinical decisions" in w.value for w in at.sidebar.warning)
    for page in ("views/cohort.py", "views/training.py", "views/model_card.py"):
        at.switch_page(page).run()
        no_exception(at)
        assert any("not for clinical decisions" in w.value for w in at.sidebar.warning)
    assert at.title[0].value == "Model card"
    assert at.get("graphviz_chart"), "the architecture diagram is missing"
    assert any("not for clinical decisions" in e.value for e in at.error)


def test_default_attribution_method_renders_a_panel(cohort):
    at = start(method="integrated_gradients", patient_id=full_patient(cohort))
    no_exception(at)
    assert len(figure(at, "Record values that moved the risk").data[0].y) > 0


# -- the patient page ------------------------------------------------------------------------------
def test_each_modality_off_shows_exactly_the_predicted_probability(predictor, cohort):
    pid = full_patient(cohort)
    at = start(patient_id=pid)
    row = cohort.ids.index(pid)
    every = predictor.predict(cohort).iloc[row]
    assert shown_risk(at) == as_text(every["probability"])
    weights = figure(at, "relied on").data[0]
    assert list(weights.y) == [m.label for m in MODALITIES]
    for m in MODALITIES:
        at.toggle(key=f"use_{m.value}").set_value(False).run()
        no_exception(at)
        subset = [x.value for x in MODALITIES if x is not m]
        expected = predictor.predict(cohort, subset).iloc[row]["probability"]
        one = predict_one(predictor, cohort.patient(pid), subset)
        assert shown_risk(at) == as_text(expected) == as_text(one)
        assert expected != every["probability"]
        (metric,) = [x for x in at.metric if x.label == RISK]
        assert f"{100 * (expected - every['probability']):+.1f} pts" in metric.delta
        bars = figure(at, "relied on").data[0]
        assert list(bars.customdata) == subset, "the weight bars must cover the used sources only"
        assert np.isclose(values(bars.x).sum(), 100.0)
        drop = figure(at, "adds to the risk").data[0]
        assert list(drop.customdata) == subset
        at.toggle(key=f"use_{m.value}").set_value(True).run()
    assert shown_risk(at) == as_text(every["probability"])


def test_an_absent_modality_is_disabled_with_the_reason(cohort):
    present = cohort.present_matrix()
    partial = np.flatnonzero(~present.all(axis=1) & present.any(axis=1))
    pid = cohort.ids[int(partial[0])]
    lacking = [m for j, m in enumerate(MODALITIES) if not present[partial[0], j]]
    at = start(patient_id=pid)
    no_exception(at)
    for m in lacking:
        toggle = at.toggle(key=f"absent_{m.value}")
        assert toggle.disabled and toggle.value is False
        assert m.label in toggle.help
        assert any(f"no {m.label}" in c.value for c in at.caption)
        assert m.label not in figure(at, "relied on").data[0].y


def test_truth_and_oracle_are_shown_for_a_simulated_patient(setup, cohort):
    pid = full_patient(cohort)
    at = start(patient_id=pid)
    labels = {m.label: m.value for m in at.metric}
    assert labels["Simulated outcome"] == ("event" if cohort.labels[pid] == 1 else "no event")
    if cohort.truth is not None and "p_true" in cohort.truth:
        assert labels["True risk (oracle)"] == as_text(cohort.truth.loc[pid, "p_true"])


def test_random_and_hard_case_pickers_change_the_patient(predictor, cohort):
    at = start(patient_id=cohort.ids[0])
    at.button[0].click().run()  # Random
    first = at.session_state["patient_id"]
    assert first != cohort.ids[0]
    wrong = at.selectbox(key="hard_misclassified")
    assert wrong.options, "no misclassified patients listed"
    choice = wrong.options[0].split(":")[0]
    wrong.set_value(choice).run()
    no_exception(at)
    assert at.session_state["patient_id"] == choice
    p = predict_one(predictor, cohort.patient(choice))
    assert shown_risk(at) == as_text(p)
    assert (p >= predictor.threshold) != bool(cohort.labels[choice])
    near = at.selectbox(key="hard_near")
    choice = near.options[0].split(":")[0]
    near.set_value(choice).run()
    assert at.session_state["patient_id"] == choice


def test_what_if_edits_move_the_prediction(setup, predictor, cohort):
    pid = full_patient(cohort)
    feature = predictor.preprocessor.tabular.numeric[0]
    high = predictor.preprocessor.tabular.high[0]
    at = start(patient_id=pid)
    assert any("Edit a value" in i.value for i in at.info)
    key = f"whatif_demo:{setup.cohort}:{pid}"
    at.session_state[key] = {
        "edited_rows": {0: {"Value": 3 * high}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    no_exception(at)
    (metric,) = [m for m in at.metric if m.label == "Risk with your changes"]
    edited = cohort.patient(pid)
    edited.record = edited.record.copy()
    edited.record[feature] = 3 * high
    after = predict_one(predictor, edited)
    before = predict_one(predictor, cohort.patient(pid))
    assert metric.value == as_text(after)
    assert metric.delta == f"{100 * (after - before):+.1f} pts"
    assert shown_risk(at) == as_text(before)  # the patient's own prediction is unchanged


def test_selections_persist_across_pages(cohort):
    pid = cohort.ids[-1]
    at = start(patient_id=pid)
    at.toggle(key="use_text").set_value(False).run()
    risk = shown_risk(at)
    at.switch_page("views/cohort.py").run()
    assert at.toggle(key="use_text").value is False  # the same sources on the cohort page
    at.switch_page("views/patient/page.py").run()
    no_exception(at)
    assert at.selectbox(key="patient_id").value == pid
    assert shown_risk(at) == risk


def test_the_picker_index_is_read_and_validated_like_the_cohort(setup, cohort, tmp_path):
    index = amff.read_index(setup.cohort)
    assert index.ids == cohort.ids
    assert (index.labels is None) == (cohort.labels is None)
    if cohort.labels is not None:
        assert index.labels.equals(cohort.labels)
    if cohort.truth is not None:
        pd.testing.assert_frame_equal(index.truth, cohort.truth)
    assert index.notes == {} and index.images == {} and index.rnaseq is None
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "clinical.csv").write_text("patient_id,label,age\nA,0,50\nB,1,60\n")
    (folder / "truth.csv").write_text("patient_id,p_true\nA,0.2\nA,0.3\n")
    with pytest.raises(amff.InputError, match="truth.csv"):
        amff.read_index(folder)


# -- uploads -------------------------------------------------------------------------------------
def patient_files(cohort, pid: str) -> dict[str, tuple[str, bytes, str]]:
    """A held-out patient's data written as the four upload files."""
    patient = cohort.patient(pid)
    record = patient.record.to_frame().T
    record.insert(0, "patient_id", "UP-1")
    rna = patient.rna.to_frame().T
    rna.insert(0, "patient_id", "UP-1")
    return {
        "record": ("record.csv", record.to_csv(index=False).encode(), "text/csv"),
        "note": ("note.txt", patient.note.encode(), "text/plain"),
        "image": ("image.png", encode_png(patient.image), "image/png"),
        "rna": ("rnaseq.csv", rna.to_csv(index=False).encode(), "text/csv"),
    }


def upload_page() -> AppTest:
    at = start()
    at.segmented_control(key="source").set_value("upload").run()
    no_exception(at)
    return at


def test_an_uploaded_patient_is_predicted(predictor, cohort):
    pid = full_patient(cohort)
    files = patient_files(cohort, pid)
    at = upload_page()
    assert not [m for m in at.metric if m.label == RISK]
    for slot, file in files.items():
        at.file_uploader(key=f"file_{slot}").set_value(file).run()
        no_exception(at)
    assert not at.error, [e.value for e in at.error]
    expected = predict_one(predictor, cohort.patient(pid))
    assert shown_risk(at) == as_text(expected)
    at.toggle(key="use_image").set_value(False).run()
    subset = ["tabular", "text", "rna"]
    assert shown_risk(at) == as_text(predict_one(predictor, cohort.patient(pid), subset))


def test_bad_uploads_show_a_message_next_to_the_widget_and_the_page_keeps_working(cohort):
    pid = full_patient(cohort)
    at = upload_page()
    at.file_uploader(key="file_image").set_value(
        ("scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 10, "image/png")
    ).run()
    no_exception(at)
    (error,) = at.error
    assert "scan.png" in error.value and "PNG" in error.value
    at.file_uploader(key="file_record").set_value(
        ("two.csv", b"patient_id,age\nA,50\nB,60\n", "text/csv")
    ).run()
    no_exception(at)
    assert any("two.csv" in e.value and "one patient" in e.value for e in at.error)
    at.file_uploader(key="file_rna").set_value(
        ("genes.csv", b"patient_id,NOT_A_GENE\nA,5\n", "text/csv")
    ).run()
    assert any("genes.csv" in e.value and "missing" in e.value for e in at.error)
    at.file_uploader(key="file_note").set_value(
        ("note.txt", b"\xff\xfe\xfa bad", "text/plain")
    ).run()
    assert any("note.txt" in e.value and "UTF-8" in e.value for e in at.error)
    assert not [m for m in at.metric if m.label == RISK]
    # a good file still works beside the bad ones
    at.file_uploader(key="file_record").set_value(patient_files(cohort, pid)["record"]).run()
    no_exception(at)
    assert shown_risk(at).endswith("%")


def test_a_typed_note_with_markup_is_predicted_and_shown_as_text(predictor):
    note = (
        "Patient stable. <script>window.__pwned = 1</script> "
        '<img src=x onerror="window.__pwned = 2"> afebrile, eating.'
    )
    at = upload_page()
    at.text_area(key="note_text").set_value(note).run()
    no_exception(at)
    patient = uploads.build_patient(None, note=note)
    assert shown_risk(at) == as_text(predict_one(predictor, patient))
    (panel,) = [h.proto.body for h in at.get("html") if "amff-note" in h.proto.body]
    assert "<script" not in panel and "<img" not in panel
    assert set(re.findall(r"</?([a-zA-Z]+)", panel)) == {"div", "span"}
    text = re.sub(r"<[^>]+>", "", panel)
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=&quot;window.__pwned = 2&quot;&gt;" in text


def test_a_five_megabyte_note_is_accepted_and_truncated_with_a_notice(predictor):
    from amff.modalities.text import MAX_NOTE_CHARS

    text = ("Shortness of breath, lactate rising. " * 150_000)[: 5 * 1024 * 1024]
    at = upload_page()
    at.file_uploader(key="file_note").set_value(("long.txt", text.encode(), "text/plain")).run()
    no_exception(at)
    assert any(f"{MAX_NOTE_CHARS:,}" in c.value for c in [*at.caption, *at.info])
    expected = predict_one(predictor, uploads.build_patient(None, note=text))
    assert shown_risk(at) == as_text(expected)


def test_the_record_form_path(predictor):
    at = upload_page()
    schema = predictor.preprocessor.tabular
    first = schema.numeric[0]
    value = round((schema.low[0] + schema.high[0]) / 2, 2)
    at.number_input(key=f"form_{first}").set_value(value)
    [b for b in at.button if b.label == "Use these values"][0].click().run()
    no_exception(at)
    record = uploads.record_from_values({first: value}, predictor.features)
    patient = uploads.build_patient(None, record=record)
    assert shown_risk(at) == as_text(predict_one(predictor, patient))


# -- the upload handlers, directly ---------------------------------------------------------------
def test_upload_handlers_turn_bad_bytes_into_input_errors(predictor):
    from amff import InputError

    schema = predictor.preprocessor.tabular
    with pytest.raises(InputError, match="not a feature"):
        uploads.parse_record(b"patient_id,zzz\nA,1\n", "r.csv", predictor.features, schema.numeric)
    with pytest.raises(InputError, match="must be a number"):
        text = f"patient_id,{schema.numeric[0]}\nA,high\n".encode()
        uploads.parse_record(text, "r.csv", predictor.features, schema.numeric)
    with pytest.raises(InputError, match="empty"):
        uploads.parse_note(b"", "n.txt")
    with pytest.raises(InputError, match="binary"):
        uploads.parse_note(b"\x00\x01\x02", "n.txt")
    with pytest.raises(InputError, match="n.jpg"):
        uploads.parse_image(b"GIF89a....", "n.jpg")
    with pytest.raises(InputError, match="no data yet"):
        uploads.build_patient(None)
    part = uploads.parse_record(
        f"patient_id,label,{schema.numeric[0]}\nP-9,1,3\n".encode(),
        "r.csv",
        predictor.features,
        schema.numeric,
    )
    assert part.patient_id == "P-9" and part.label == 1
    assert part.value[schema.numeric[0]] == 3.0
    assert part.notices and "missing" in part.notices[0]


def test_the_example_bundle_matches_the_shipped_model(setup, predictor):
    folder = REPO / "assets" / "example_patient"
    archive = uploads.example_bundle(folder)
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    assert names == [f"example_patient/{n}" for n in uploads.EXAMPLE_FILES]
    if not setup.shipped:
        pytest.skip("the example bundle follows the shipped model's schema; it is not present")
    schema = predictor.preprocessor.tabular
    read = lambda n: (folder / n).read_bytes()  # noqa: E731
    record = uploads.parse_record(
        read("record.csv"), "record.csv", predictor.features, schema.numeric
    )
    patient = uploads.build_patient(
        record.patient_id,
        record=record.value,
        note=uploads.parse_note(read("note.txt"), "note.txt").value,
        image=uploads.parse_image(read("image.png"), "image.png").value,
        rna=uploads.parse_rna(read("rnaseq.csv"), "rnaseq.csv", predictor.library_genes).value,
    )
    assert len(patient.modalities) == 4
    assert np.isfinite(predict_one(predictor, patient))


# -- the cohort page ------------------------------------------------------------------------
def test_cohort_metrics_follow_the_toggles_and_recompute_quickly(predictor, cohort, capsys):
    at = start("views/cohort.py")
    no_exception(at)
    seconds = []
    steps = [
        (None, ["tabular", "text", "image", "rna"]),
        ("image", ["tabular", "text", "rna"]),
        ("text", ["tabular", "rna"]),
    ]
    for off, subset in steps:
        if off:
            at.toggle(key=f"use_{off}").set_value(False).run()
            no_exception(at)
        frame = predictor.predict(cohort, subset)
        keep = frame["probability"].notna().to_numpy()
        y = cohort.labels.loc[frame["patient_id"]].to_numpy()[keep]
        p = frame["probability"].to_numpy()[keep]
        shown = {m.label: m.value for m in at.metric}
        assert shown["AUROC"] == f"{metrics.auroc(y, p):.3f}"
        assert shown["F1 score"] == f"{metrics.f1(y, p, predictor.threshold):.3f}"
        assert shown["Accuracy"] == f"{metrics.accuracy(y, p, predictor.threshold):.3f}"
        assert shown["Patients scored"] == f"{keep.sum():,}"
        caption = next(c.value for c in at.caption if "Updated in" in c.value)
        seconds.append(int(re.search(r"Updated in (\d+) ms", caption).group(1)) / 1000)
    heat = [f for f in figures(at) if f.data and f.data[0].type == "heatmap"]
    (subsets,) = [f for f in heat if len(f.data[0].y) == 15]
    marked = [r for r in subsets.data[0].y if "\u25b6" in str(r)]
    assert marked == ["\u25b6 record + RNA"], "the subset heatmap must mark the sources switched on"
    with capsys.disabled():
        print(
            f"\ncohort recomputation per subset (server): {[round(s * 1000) for s in seconds]} ms"
        )
    assert max(seconds[1:]) < 1.0


def test_the_confusion_matrix_follows_the_threshold_slider(predictor, cohort):
    at = start("views/cohort.py")
    at.slider(key="cohort_threshold").set_value(99).run()
    no_exception(at)
    matrix = figure(at, "threshold of 99%").data[0]
    frame = predictor.predict(cohort)
    keep = frame["probability"].notna().to_numpy()
    y = cohort.labels.loc[frame["patient_id"]].to_numpy()[keep]
    flagged = frame["probability"].to_numpy()[keep] >= 0.99
    caught = int(((y == 1) & flagged).sum())
    assert matrix.text[1][1].startswith(f"{caught}<br>")


# -- training, experiments, model card ------------------------------------------------------
def test_training_page_curves_and_the_reproduction_hint(predictor):
    at = start("views/training.py")
    no_exception(at)
    titles = [f.layout.title.text for f in figures(at)]
    assert titles == ["Loss (binary cross-entropy)", "AUROC", "F1 score", "Accuracy"]
    loss = figures(at)[0]
    epochs = [r["epoch"] for r in predictor.history]
    if "member" in predictor.history[0]:  # late fusion: one pair of curves per member
        assert len(loss.data) == 2 * len({r["member"] for r in predictor.history})
    else:
        assert [d.name for d in loss.data] == ["training", "validation"]
        assert values(loss.data[1].x).tolist() == epochs
        assert np.allclose(values(loss.data[1].y), [r["val_loss"] for r in predictor.history])
    assert any("make reproduce" in i.value for i in at.info)


def test_experiments_table_beside_the_paper(monkeypatch, tmp_path):
    results = {
        "meta": {"profile": "quick", "seeds": [0, 1]},
        "sim3": {
            "rows": {
                m: {
                    "label": label,
                    **{k: {"mean": 0.7, "sd": 0.01} for k in ("auroc", "f1", "accuracy")},
                }
                for m, label in (
                    ("amff", "AMFF-HT"),
                    ("early", "Early fusion"),
                    ("late", "Late fusion"),
                )
            },
            "paper": report_paper(),
        },
        "claims": [{"paper": "AMFF-HT beats early fusion", "verdict": "holds", "evidence": "x"}],
    }
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "REPRODUCTION.md").write_text("# Reproduction\nall good")
    monkeypatch.setenv("AMFF_RESULTS_DIR", str(folder))
    at = start("views/training.py")
    no_exception(at)
    frames = [d.value for d in at.dataframe]
    fusion = next(f for f in frames if "AUROC (paper)" in f.columns)
    assert fusion["AUROC (ours)"].tolist() == ["0.700 ± 0.010"] * 3
    assert fusion["AUROC (paper)"].tolist() == ["0.668", "0.654", "0.721"]
    assert any("holds" in f.to_string() for f in frames)
    assert any("all good" in e.value for e in at.markdown)


def report_paper() -> dict:
    return {
        "early": {"auroc": 0.668, "f1": 0.618, "accuracy": 0.618},
        "late": {"auroc": 0.654, "f1": 0.591, "accuracy": 0.605},
        "amff": {"auroc": 0.721, "f1": 0.675, "accuracy": 0.680},
    }


# -- the report ------------------------------------------------------------------------------
def test_the_patient_report_embeds_figures_and_escapes_user_text(predictor, cohort):
    pid = full_patient(cohort)
    patient = cohort.patient(pid)
    patient.note = "<script>alert(1)</script> " + (patient.note or "")
    from amff import explain

    one = Cohort.from_patients(
        [patient], features=predictor.features, genes=predictor.library_genes
    )
    reasons = explain.modality_importance(predictor, one).set_index("modality")
    p = predict_one(predictor, patient)
    out = report.patient_report(
        predictor,
        "AMFF-HT",
        patient,
        tuple(m.value for m in MODALITIES),
        tuple(m.value for m in MODALITIES),
        {"probability": p, "reference": p, "threshold": predictor.threshold},
        reasons,
        {"synthetic": True, "label": 1, "p_true": 0.5},
        "saliency",
    )
    assert "<script>alert(1)" not in out and "&lt;script&gt;alert(1)" in re.sub("<[^>]+>", "", out)
    assert out.count('class="plotly-graph-div"') == 5  # weights, drop-one, record, image, genes
    assert out.count("plotly.js v") == 1  # plotly.js embedded once, so it opens offline
    assert "not for clinical decisions" in out
    assert as_text(p) in out


def test_the_report_escapes_every_user_string():
    out = report.render_report(
        patient_id='<b onmouseover="x">id</b>',
        model_name="<i>m</i>",
        used=["tabular"],
        available=["tabular"],
        probability=0.4,
        threshold=0.5,
        reference=0.4,
        truth={},
        figures={},
        record=pd.DataFrame({"feature": ["<script>"], "value": ["<img src=x>"]}),
    )
    assert "<b onmouseover" not in out and "<i>m</i>" not in out
    assert "<script>" not in out and "<img src=x>" not in out
    assert "&lt;b onmouseover=&quot;x&quot;&gt;id&lt;/b&gt;" in out
    assert "Not flagged" in out and "40.0%" in out


def test_the_cohort_page_offers_the_predictions_as_csv():
    at = start("views/cohort.py")
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download these predictions (CSV)" in labels
