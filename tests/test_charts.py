"""The dashboard's figure builders, called directly: the traces, values and labels they draw."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import amff

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import charts  # noqa: E402


def test_weight_bars_cover_only_the_present_modalities():
    fig = charts.modality_weights_figure({"tabular": 0.6, "image": 0.4, "text": float("nan")})
    (bars,) = fig.data
    assert list(bars.y) == ["clinical record", "medical image"]
    assert list(bars.customdata) == ["tabular", "image"]
    assert np.allclose(bars.x, [60.0, 40.0])
    assert "%" in fig.layout.xaxis.title.text
    assert list(bars.marker.color) == [
        charts.MODALITY_COLORS[amff.Modality.TABULAR],
        charts.MODALITY_COLORS[amff.Modality.IMAGE],
    ]


def test_drop_one_bars_are_signed_percentage_points_and_mark_a_lone_source():
    fig = charts.drop_one_figure({"tabular": 0.05, "rna": -0.02})
    (bars,) = fig.data
    assert np.allclose(bars.x, [5.0, -2.0])
    assert list(bars.marker.color) == [charts.RISK_UP, charts.RISK_DOWN]
    assert "percentage points" in fig.layout.xaxis.title.text
    alone = charts.drop_one_figure({"image": float("nan")})
    assert alone.data[0].x == (0.0,)
    assert "only source" in alone.data[0].text[0]


def test_risk_figure_shows_threshold_reference_and_oracle():
    fig = charts.risk_figure(0.62, 0.45, reference=0.70, oracle=0.8)
    names = [t.name for t in fig.data]
    assert names == [
        "Predicted risk",
        "Decision threshold",
        "With all available data",
        "True risk (simulator)",
    ]
    assert fig.data[0].x == (62.0,)
    assert fig.data[0].marker.color == charts.RISK_UP  # at or above the threshold
    assert fig.data[1].x == (45.0,)
    assert tuple(fig.layout.xaxis.range) == (0, 100)
    below = charts.risk_figure(0.2, 0.45)
    assert [t.name for t in below.data] == ["Predicted risk", "Decision threshold"]
    assert below.data[0].marker.color == charts.RISK_DOWN


def test_record_attribution_keeps_the_largest_and_labels_values_and_flags():
    frame = pd.DataFrame(
        {
            "label": ["a", "b", "c", "d"],
            "value": [1.0, np.nan, 7.5, "x"],
            "attribution": [0.1, -0.5, 0.01, 0.3],
            "flag": ["", "", "high", ""],
        }
    )
    fig = charts.record_attribution_figure(frame, k=3)
    (bars,) = fig.data
    assert list(bars.y) == ["b = missing", "d = x", "a = 1"]
    assert np.allclose(bars.x, [-0.5, 0.3, 0.1])
    assert list(bars.marker.color) == [charts.RISK_DOWN, charts.RISK_UP, charts.RISK_UP]
    flagged = charts.record_attribution_figure(frame, k=4)
    assert "c = 7.5 (high)" in flagged.data[0].y
    assert "log-odds" in fig.layout.xaxis.title.text


def test_genes_figure_names_the_library_size():
    frame = pd.DataFrame(
        {
            "label": ["G1", "log10_library_size", "G2"],
            "value": [3.0, 1000.0, 0.0],
            "attribution": [0.2, -0.4, 0.0],
        }
    )
    fig = charts.genes_figure(frame, k=2)
    assert list(fig.data[0].y) == ["library size (log10)", "G1"]
    assert fig.layout.title.text == "Top 2 genes"


def test_image_overlay_is_symmetric_and_follows_the_opacity():
    image = np.linspace(0, 1, 16).reshape(4, 4)
    heat = np.linspace(-1, 1, 16).reshape(4, 4)
    fig = charts.image_overlay_figure(image, heat, opacity=0.3)
    base, overlay = fig.data
    assert (base.zmin, base.zmax) == (0, 1) and base.showscale is False
    assert overlay.opacity == 0.3
    bound = np.percentile(np.abs(heat), 99)
    assert np.isclose(overlay.zmin, -bound) and np.isclose(overlay.zmax, bound)
    assert overlay.colorbar.ticktext == ("lowers risk", "0", "raises risk")
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 at the top, as in the image


def test_smoothing_keeps_the_shape_and_spreads_a_spike():
    heat = np.zeros((9, 9))
    heat[4, 4] = 1.0
    smooth = charts.smooth_heatmap(heat, 1.5)
    assert smooth.shape == heat.shape
    assert smooth[4, 4] < 1.0 and smooth[4, 5] > 0 and np.isclose(smooth[4, 5], smooth[5, 4])
    unsigned = charts.image_overlay_figure(heat, heat, signed=False)
    assert unsigned.data[1].zmin == 0 and unsigned.data[1].colorbar.ticktext == ("none", "most")


def test_note_html_escapes_everything_the_note_holds():
    note = 'ok <script>alert(1)</script> & <img src=x onerror="alert(2)"> fine'
    words = ["ok", "<script>alert(1)</script>", "fine"]
    starts = [note.index(w) for w in words]
    ends = [s + len(w) for s, w in zip(starts, words)]
    out = charts.note_html(note, starts, ends, [0.5, -1.0, 0.0])
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in out
    assert out.count('class="amff-word"') == 3
    assert "rgba(0,114,178" in out and "rgba(213,94,0" in out  # lowers (blue) and raises


def test_note_html_greys_what_the_model_did_not_read():
    note = "first second " + "z" * 5000
    out = charts.note_html(note, [0, 6], [5, 12], [1.0, 1.0], read_until=12)
    assert "more characters" in out
    assert out.count('class="amff-word"') == 2


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(0.3 * y + 0.7 * rng.random(400), 0, 1)
    return y, p


def test_roc_and_pr_curves_one_trace_per_model(scored):
    y, p = scored
    roc = charts.roc_figure({"AMFF-HT": (y, p), "Early fusion": (y, 1 - p)})
    assert [t.name.split(" (")[0] for t in roc.data] == ["Chance", "AMFF-HT", "Early fusion"]
    assert "AUROC" in roc.data[1].name
    assert roc.data[1].line.color == charts.MODEL_COLORS["AMFF-HT"]
    assert "(%)" in roc.layout.xaxis.title.text and "(%)" in roc.layout.yaxis.title.text
    pr = charts.pr_figure({"AMFF-HT": (y, p)})
    assert pr.data[-1].name.startswith("Event rate")
    assert np.isclose(pr.data[-1].y[0], 100 * y.mean())


def test_calibration_table_and_figure(scored):
    y, p = scored
    table = charts.calibration_table(y, p, bins=10)
    assert table["n"].sum() == len(y)
    assert ((table["predicted"] >= 0) & (table["predicted"] <= 1)).all()
    fig = charts.calibration_figure({"AMFF-HT": (y, p)})
    assert fig.data[0].name == "Perfect calibration"
    assert len(fig.data[1].x) == len(table)


def test_confusion_counts_and_figure():
    y = np.array([0, 0, 1, 1, 1])
    p = np.array([0.1, 0.6, 0.7, 0.2, 0.9])
    counts = charts.confusion_counts(y, p, 0.5)
    assert counts.tolist() == [[1, 1], [1, 2]]
    fig = charts.confusion_figure(y, p, 0.5)
    assert "50%" in fig.layout.title.text
    assert fig.data[0].text[1][1].startswith("2<br>events caught")


def test_subsets_heatmap_marks_the_current_subset():
    table = pd.DataFrame(
        {"AUROC": [0.6, 0.7], "F1 score": [0.5, 0.55]}, index=["record", "record + image"]
    )
    fig = charts.subsets_figure(table, current="record + image")
    assert list(fig.data[0].y) == ["record", "\u25b6 record + image"]
    assert list(fig.data[0].x) == ["AUROC", "F1 score"]


def test_models_figure_one_bar_trace_per_model():
    table = pd.DataFrame(
        {"AUROC": [0.7, 0.65], "F1 score": [0.6, 0.5]}, index=["AMFF-HT", "Late fusion"]
    )
    fig = charts.models_figure(table)
    assert [t.name for t in fig.data] == ["AMFF-HT", "Late fusion"]
    assert fig.data[1].marker.color == charts.MODEL_COLORS["Late fusion"]
    assert fig.layout.barmode == "group"


def test_history_figure_train_and_validation_and_late_fusion_members():
    history = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "train_auroc": 0.6, "val_auroc": 0.5}
        for e in (1, 2, 3)
    ]
    fig = charts.history_figure(history, "loss")
    assert [t.name for t in fig.data] == ["training", "validation"]
    assert fig.data[0].line.dash == "dash" and fig.data[1].line.dash == "solid"
    assert fig.layout.xaxis.title.text == "Epoch"
    late = [{**r, "member": m} for m in ("tabular", "image") for r in history]
    fig = charts.history_figure(late, "auroc")
    assert [t.name for t in fig.data] == [
        "clinical record member, training",
        "clinical record member, validation",
        "medical image member, training",
        "medical image member, validation",
    ]
    assert charts.history_figure([], "loss").data == ()


def test_architecture_dot_names_every_source_and_both_levels():
    dot = charts.architecture_dot()
    assert dot.startswith("digraph")
    for word in ("Clinical record", "Clinical note", "Medical image", "RNA-seq", "Level 2"):
        assert word in dot


def test_palette_is_okabe_ito():
    assert set(charts.MODALITY_COLORS.values()) <= set(charts.OKABE_ITO.values())
    assert set(charts.MODEL_COLORS.values()) <= set(charts.OKABE_ITO.values())


def test_generic_attribution_bars_sort_by_size_and_keep_the_sign():
    frame = pd.DataFrame(
        {"label": ["a", "b", "c"], "value": [1.0, 2.5, "x"], "attribution": [0.1, -0.3, 0.2]}
    )
    fig = charts.attribution_bars_figure(frame, "Proteins", k=2)
    (bars,) = fig.data
    assert list(bars.y) == ["b = 2.5", "c = x"]
    assert list(bars.marker.color) == [charts.RISK_DOWN, charts.RISK_UP]
    assert fig.layout.title.text.startswith("Proteins")
    unsigned = charts.attribution_bars_figure(frame, "Proteins", signed=False).data[0]
    assert set(unsigned.marker.color) == {charts.SENSITIVITY}


def test_every_modality_has_its_panel_and_any_other_gets_the_generic_one():
    from types import SimpleNamespace

    from app import panels

    for m in amff.MODALITIES:
        assert panels.panel(m.value) is panels.PANELS[m.value]
        assert panels.panel(m.value) is not panels.GENERIC
    assert panels.panel("proteomics") is panels.GENERIC
    frame = pd.DataFrame({"label": ["p1", "p2"], "value": [3.0, 4.0], "attribution": [0.5, -1.0]})
    found = SimpleNamespace(modality="proteomics", method="saliency", frame=lambda: frame)
    part = panels.GENERIC.report(None, None, found)
    assert part.html is None and part.table is None
    assert list(part.figure.data[0].y) == ["p2 = 4", "p1 = 3"]
    assert "proteomics" in part.figure.layout.title.text
