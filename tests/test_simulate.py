"""The simulator: determinism, the folder round trip, where the signal lives, the oracles,
missingness, visible quality, and test-time corruption."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal
from PIL import Image
from scipy import ndimage
from scipy.special import ndtr
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from amff import read_cohort
from amff.errors import InputError
from amff.modalities import MODALITIES, Modality
from amff.simulator import (
    SimConfig,
    corrupt,
    drop_modalities,
    oracle_report,
    simulate,
)

LATENTS = ["s", "u_tab", "u_txt", "u_img", "u_rna", "a", "b"]
SMALL = dict(image_size=24, n_genes=300, programme_size=20)  # fast rendering, same latents
FAST = dict(image_size=16, n_genes=250, programme_size=20)


@pytest.fixture(scope="module")
def cohort():
    """Defaults on 4,000 patients; fewer genes than the default changes no latent or label."""
    return simulate(SimConfig(n=4000, seed=0, n_genes=500))


@pytest.fixture(scope="module")
def small():
    return simulate(SimConfig(n=80, seed=3, **SMALL))


def _files(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _auroc_by_cv(features: np.ndarray, labels: np.ndarray, model) -> np.ndarray:
    """Out-of-fold probabilities (5 folds): every patient is scored by a model that never saw it."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    return cross_val_predict(model, features, labels, cv=folds, method="predict_proba")[:, 1]


def _logistic(c: float = 0.1):
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))


# -- determinism and the folder ----------------------------------------------------------------
def test_same_seed_gives_byte_identical_folders_and_another_seed_differs(tmp_path):
    config = SimConfig(n=40, seed=11, **SMALL)
    simulate(config).write(tmp_path / "a")
    simulate(SimConfig.from_dict(config.to_dict())).write(tmp_path / "b")
    simulate(dataclasses.replace(config, seed=12)).write(tmp_path / "c")
    first, second, other = (_files(tmp_path / x) for x in "abc")
    assert {"clinical.csv", "notes.csv", "rnaseq.csv", "truth.csv", "truth.json"} <= set(first)
    assert any(name.startswith("images/") for name in first)
    assert first == second
    assert first["clinical.csv"] != other["clinical.csv"]
    assert first["rnaseq.csv"] != other["rnaseq.csv"]


# sha256 (first 16 hex digits) of a small cohort's folder; a change here means the simulator
# draws different patients: fine on purpose (say so in the commit), a bug by accident
PINNED_FOLDER_HASH = "db5fd2970419b4ae"


def test_a_small_cohort_folder_is_pinned(tmp_path):
    """Refactors keep the output: the written files (images as decoded pixels, so a different
    zlib cannot change the hash) match a hash recorded when the simulator last changed."""
    simulate(SimConfig(n=24, seed=5, **FAST)).write(tmp_path / "c")
    digest = hashlib.sha256()
    for name, data in sorted(_files(tmp_path / "c").items()):
        if name.startswith("images/"):
            data = np.asarray(Image.open(io.BytesIO(data))).tobytes()
        digest.update(name.encode() + b"\0" + data)
    assert digest.hexdigest()[:16] == PINNED_FOLDER_HASH


def test_write_then_read_gives_the_same_cohort(tmp_path, small):
    small.write(tmp_path / "c")
    back = read_cohort(tmp_path / "c")
    assert_frame_equal(back.clinical, small.clinical)
    for column in ("sex", "admission_type"):
        assert pd.api.types.is_string_dtype(small.clinical[column])
    assert_series_equal(back.labels, small.labels)
    assert back.notes == small.notes
    assert sorted(back.images) == sorted(small.images)
    for pid, image in small.images.items():
        assert back.images[pid].dtype == np.float32
        assert np.array_equal(back.images[pid], image)
    assert_frame_equal(back.rnaseq, small.rnaseq)
    assert_frame_equal(back.truth, small.truth)
    assert back.meta == json.loads(json.dumps(small.meta))
    assert np.array_equal(back.present_matrix(), small.present_matrix())


def test_shapes_units_and_pixel_values(small):
    assert small.ids[0] == "P00001" and small.ids == sorted(small.ids)
    assert small.rnaseq.shape[1] == 300 and small.genes[0] == "GENE0001"
    counts = small.rnaseq.to_numpy()
    assert counts.dtype == np.float64 and np.array_equal(counts, np.rint(counts))
    for image in small.images.values():
        assert image.shape == (24, 24) and image.dtype == np.float32
        assert image.min() >= 0.0 and image.max() <= 1.0
        levels = image.astype(np.float64) * 255.0
        assert np.allclose(levels, np.rint(levels), atol=1e-3)  # exact multiples of 1/255
    numeric = small.clinical.drop(columns=["sex", "admission_type"])
    assert (numeric.dtypes == np.float64).all()
    assert numeric["spo2"].max() <= 100 and numeric["gcs"].dropna().between(3, 15).all()
    assert set(small.clinical["sex"].dropna()) <= {"F", "M"}
    signal = small.meta["tabular_signal_columns"]
    assert sorted(sum(signal.values(), [])) == sorted(small.features)
    assert len(small.meta["rna_programme_u_rna"]) == 20
    assert len(small.meta["rna_nuisance_programmes"]) == 3


def test_progress_reaches_the_total():
    calls = []
    simulate(SimConfig(n=30, seed=1, **FAST), progress=lambda done, total: calls.append(done))
    assert calls == sorted(calls) and calls[-1] == 30


@pytest.mark.parametrize("size", [16, 33])
def test_any_image_size_from_16_renders(size):
    cohort = simulate(SimConfig(n=12, seed=2, image_size=size, n_genes=250, programme_size=20))
    assert {image.shape for image in cohort.images.values()} == {(size, size)}


# -- where the signal lives ----------------------------------------------------------------------
def test_each_modality_alone_beats_chance_and_the_image_leads(cohort):
    labels = cohort.labels.to_numpy()
    present = cohort.present_matrix()
    ids = np.array(cohort.ids)
    scores = {}

    record = pd.get_dummies(cohort.clinical, dtype=float)
    record = record.fillna(record.median())
    scores[Modality.TABULAR] = (record.to_numpy(), _logistic())

    notes = [cohort.notes.get(pid, "") for pid in ids]
    words = TfidfVectorizer(min_df=3, ngram_range=(1, 2), sublinear_tf=True).fit_transform(notes)
    scores[Modality.TEXT] = (words, LogisticRegression(C=0.03, max_iter=3000))

    # image: intensity quantiles inside the (average) lung fields: opacity lifts the middle
    # quantiles, a nodule the top ones
    pixels = np.stack([cohort.images.get(pid, np.zeros((64, 64), np.float32)) for pid in ids])
    mean = pixels[present[:, 2]].mean(axis=0)
    lungs = (mean > 0.2) & (mean < np.quantile(mean[mean > 0.2], 0.3))
    levels = [0.25, 0.5, 0.75, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995]
    scores[Modality.IMAGE] = (np.quantile(pixels[:, lungs], levels, axis=1).T, _logistic())

    counts = cohort.rnaseq.reindex(ids).fillna(0.0).to_numpy()
    log_cpm = np.log1p(counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0) * 1e6)
    scores[Modality.RNA] = (log_cpm, _logistic(0.001))

    auroc = {}
    everything = present.all(axis=1)
    paired = {}
    for m, (features, model) in scores.items():
        has = present[:, MODALITIES.index(m)]
        prob = np.full(len(ids), np.nan)
        prob[has] = _auroc_by_cv(features[has], labels[has], model)
        auroc[m] = roc_auc_score(labels[has], prob[has])
        paired[m] = roc_auc_score(labels[everything], prob[everything])
    for m in (Modality.TABULAR, Modality.TEXT, Modality.IMAGE):
        assert auroc[m] > 0.6, (m, auroc)
    # the rna outcome signal is small by design (w_rna = 0.4 on a 15% subtype: its ceiling on
    # the true latent is about 0.55); its stronger check is the subtype test below
    assert auroc[Modality.RNA] > 0.51, auroc
    best = max(paired, key=paired.get)
    assert best is Modality.IMAGE, paired
    assert paired[Modality.IMAGE] > max(paired[Modality.TABULAR], paired[Modality.TEXT]) + 0.01


def test_rna_carries_the_subtype_and_predicts_when_its_weight_is_larger():
    config = SimConfig(n=2000, seed=4, w_rna=2.0, **FAST)
    cohort = simulate(config)
    counts = cohort.rnaseq.to_numpy()
    log_cpm = np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e6)
    truth = cohort.truth.loc[cohort.rnaseq.index]
    subtype = (truth["u_rna"] > 1.0).to_numpy().astype(int)
    assert roc_auc_score(subtype, _auroc_by_cv(log_cpm, subtype, _logistic(0.01))) > 0.85
    labels = cohort.labels.loc[cohort.rnaseq.index].to_numpy()
    assert roc_auc_score(labels, _auroc_by_cv(log_cpm, labels, _logistic(0.001))) > 0.6
    # the programme genes named in meta are the ones that move with the subtype
    programme = cohort.meta["rna_programme_u_rna"]
    rest = [
        g for g in cohort.genes if g not in set(sum(cohort.meta["rna_nuisance_programmes"], []))
    ]
    frame = pd.DataFrame(log_cpm, columns=cohort.genes)
    shift = (frame[subtype == 1].mean() - frame[subtype == 0].mean()).abs()
    assert shift[programme].median() > 3 * shift[[g for g in rest if g not in programme]].median()


def test_record_columns_follow_their_factor_and_noise_columns_do_not(cohort):
    truth = cohort.truth.loc[cohort.clinical.index]
    signal = cohort.meta["tabular_signal_columns"]
    for column in ("heart_rate", "lactate", "resp_rate"):
        assert cohort.clinical[column].corr(truth["s"], method="spearman") > 0.4
    assert cohort.clinical["spo2"].corr(truth["s"], method="spearman") < -0.3
    assert cohort.clinical["creatinine"].corr(truth["u_tab"], method="spearman") > 0.4
    for column in signal["noise"]:
        if column == "sex":
            continue
        for latent in ("s", "u_tab"):
            assert abs(cohort.clinical[column].corr(truth[latent], method="spearman")) < 0.06


def _latent_auroc(truth: pd.DataFrame, labels: pd.Series, interaction: bool) -> float:
    features = truth[LATENTS].to_numpy()
    if interaction:
        features = np.column_stack([features, truth["a"] * truth["b"]])
    prob = _auroc_by_cv(features, labels.to_numpy(), LogisticRegression(max_iter=2000))
    return roc_auc_score(labels, prob)


def test_synergy_needs_the_product_and_vanishes_at_gamma_zero(cohort):
    with_gamma = _latent_auroc(cohort.truth, cohort.labels, True)
    assert with_gamma > _latent_auroc(cohort.truth, cohort.labels, False) + 0.03
    flat = simulate(SimConfig(n=4000, seed=0, gamma=0.0, **FAST))
    gap = _latent_auroc(flat.truth, flat.labels, True) - _latent_auroc(
        flat.truth, flat.labels, False
    )
    assert abs(gap) < 0.01


def test_synergy_is_invisible_to_each_factor_alone():
    only = dict(w_s=0.0, w_tab=0.0, w_txt=0.0, w_img=0.0, w_rna=0.0, gamma=1.0)
    cohort = simulate(SimConfig(n=4000, seed=5, **only, **FAST))
    labels, truth = cohort.labels, cohort.truth
    for factor in ("a", "b"):
        assert abs(roc_auc_score(labels, truth[factor]) - 0.5) < 0.03
    assert roc_auc_score(labels, truth["a"] * truth["b"]) > 0.7


# -- the oracles ---------------------------------------------------------------------------------
def test_bayes_auroc_at_defaults_and_the_noisy_ceiling_below_it(cohort):
    report = oracle_report(cohort)
    assert 0.80 <= report["bayes_auroc"] <= 0.92
    assert 0.6 < report["noisy_ceiling_auroc"] < report["bayes_auroc"] - 0.03
    assert report["n"] == 4000 and abs(report["prevalence"] - 0.3) < 0.03
    assert cohort.meta["oracle"] == report
    truth = cohort.truth
    assert np.allclose(truth["p_true"], ndtr(truth["eta"].to_numpy()))


@pytest.mark.parametrize("column", ["p_true", "p_noisy_ceiling"])
def test_oracle_probabilities_are_calibrated(cohort, column):
    """A wrong posterior (a missing term, a wrong variance) shows up as miscalibration."""
    prob = cohort.truth[column].to_numpy()
    labels = cohort.labels.to_numpy()
    bins = np.quantile(prob, np.linspace(0, 1, 6))
    which = np.clip(np.searchsorted(bins, prob, side="right") - 1, 0, 4)
    for k in range(5):
        inside = which == k
        assert abs(labels[inside].mean() - prob[inside].mean()) < 0.05, (k, column)


def test_noisy_ceiling_is_p_true_when_every_reading_is_exact():
    """Known answer: noiseless readings of every modality pin every latent, a*b included."""
    exact = {f"noise_{m.value}": 0.0 for m in MODALITIES}
    nothing_missing = {f"missing_{m.value}": 0.0 for m in MODALITIES}
    cohort = simulate(SimConfig(n=300, seed=8, **exact, **nothing_missing, **FAST))
    assert np.allclose(cohort.truth["p_noisy_ceiling"], cohort.truth["p_true"], atol=1e-9)


def test_noisy_ceiling_is_the_prevalence_when_readings_are_useless():
    """Known answer: readings with noise sd 10 say almost nothing, so P(y | readings) is about
    the prevalence; dropping a variance term (the a*b one moves it by ~0.03) would show here."""
    useless = {f"noise_{m.value}": 10.0 for m in MODALITIES}
    cohort = simulate(SimConfig(n=2000, seed=8, kappa=1.0, **useless, **FAST))
    ceiling = cohort.truth["p_noisy_ceiling"]
    assert abs(ceiling.mean() - 0.3) < 0.015
    assert ceiling.std() < 0.05


def test_oracle_needs_truth(small):
    bare = dataclasses.replace(small, truth=None)
    with pytest.raises(InputError, match="no truth"):
        oracle_report(bare)


# -- missingness and quality ---------------------------------------------------------------------
def test_missing_rates_follow_the_knobs(cohort):
    missing = 1.0 - cohort.present_matrix().mean(axis=0)
    config = SimConfig()
    for m, rate in zip(MODALITIES, missing):
        assert abs(rate - getattr(config, f"missing_{m.value}")) < 0.025, (m, rate)
    assert cohort.present_matrix().any(axis=1).all()


def test_sicker_patients_miss_more_at_about_the_same_rate():
    cohort = simulate(SimConfig(n=4000, seed=6, missing_mechanism="sicker", **FAST))
    present = cohort.present_matrix()
    severity = cohort.truth["s"].to_numpy()
    config = SimConfig()
    for i, m in enumerate(MODALITIES):
        assert severity[~present[:, i]].mean() > severity[present[:, i]].mean() + 0.2, m
        assert abs((1 - present[:, i].mean()) - getattr(config, f"missing_{m.value}")) < 0.03
    assert present.any(axis=1).all()


def test_every_patient_keeps_a_modality_when_almost_everything_is_missing():
    rates = dict(missing_tabular=0.9, missing_text=0.9, missing_image=1.0, missing_rna=0.9)
    cohort = simulate(SimConfig(n=300, seed=7, **rates, **FAST))
    present = cohort.present_matrix()
    assert present.any(axis=1).all() and not present[:, 2].any()


def test_poor_quality_is_visible_in_every_modality(cohort):
    truth = cohort.truth
    ids = sorted(cohort.images)
    pixels = ndimage.gaussian_filter(
        np.stack([cohort.images[p] for p in ids]).astype(np.float64), sigma=(0, 1, 1)
    )  # smoothing first, so pixel noise does not count as sharpness
    rows, cols = np.gradient(pixels, axis=(1, 2))
    sharpness = np.hypot(rows, cols).mean(axis=(1, 2))
    poor = truth.loc[ids, "quality_image"].to_numpy() == 1
    assert sharpness[poor].mean() < 0.95 * sharpness[~poor].mean()

    for pid, note in cohort.notes.items():
        assert ("limited" in note.lower()) == bool(truth.loc[pid, "quality_text"])

    library = cohort.rnaseq.sum(axis=1)
    poor_rna = truth.loc[library.index, "quality_rna"] == 1
    assert library[poor_rna].median() < 0.2 * library[~poor_rna].median()

    has_record = cohort.present(Modality.TABULAR)
    blank = cohort.clinical[has_record].isna().mean(axis=1)
    poor_tab = truth.loc[blank.index, "quality_tabular"] == 1
    assert blank[poor_tab].mean() > 3 * blank[~poor_tab].mean()


# -- corruption and dropping ---------------------------------------------------------------------
def _assert_same(a, b):
    assert_frame_equal(a.clinical, b.clinical)
    assert a.notes == b.notes
    assert sorted(a.images) == sorted(b.images)
    assert all(np.array_equal(a.images[p], b.images[p]) for p in a.images)
    assert_frame_equal(a.rnaseq, b.rnaseq)
    assert_frame_equal(a.truth, b.truth)


@pytest.mark.parametrize("modality", list(MODALITIES))
def test_corrupt_at_zero_is_a_copy_and_at_one_changes_only_that_modality(small, modality):
    before = copy.deepcopy(small)
    same = corrupt(small, modality, 0.0, seed=1)
    _assert_same(same, small)
    assert same.images is not small.images and same.clinical is not small.clinical
    worse = corrupt(small, modality, 1.0, seed=1)
    _assert_same(small, before)  # the input is never mutated
    assert np.array_equal(worse.present_matrix(), small.present_matrix())
    changed = {
        Modality.TABULAR: not worse.clinical.equals(small.clinical),
        Modality.TEXT: worse.notes != small.notes,
        Modality.IMAGE: any(
            not np.array_equal(worse.images[p], small.images[p]) for p in small.images
        ),
        Modality.RNA: not worse.rnaseq.equals(small.rnaseq),
    }
    assert changed[modality]
    assert not any(v for m, v in changed.items() if m is not modality)
    if modality is Modality.RNA:
        assert worse.rnaseq.to_numpy().sum() < 0.3 * small.rnaseq.to_numpy().sum()
    if modality is Modality.IMAGE:
        for image in worse.images.values():
            assert np.allclose(image * 255.0, np.rint(image * 255.0), atol=1e-3)


def test_corrupt_is_deterministic_and_validates(small):
    a = corrupt(small, "text", 0.5, seed=3)
    assert a.notes == corrupt(small, Modality.TEXT, 0.5, seed=3).notes
    assert a.notes != corrupt(small, Modality.TEXT, 0.5, seed=4).notes
    with pytest.raises(InputError, match="severity"):
        corrupt(small, "text", 1.5, seed=0)
    with pytest.raises(InputError, match="unknown modality"):
        corrupt(small, "audio", 0.5, seed=0)


def test_drop_modalities_keeps_one_and_matches_the_rate(cohort):
    before = cohort.present_matrix()
    dropped = drop_modalities(cohort, 0.5, seed=0)
    after = dropped.present_matrix()
    assert after.any(axis=1).all()
    assert not (after & ~before).any()  # nothing appears
    removed = (before & ~after).sum() / before.sum()
    assert 0.42 < removed < 0.52  # a little under 0.5: the last modality is always kept
    assert np.array_equal(cohort.present_matrix(), before)  # the input is unchanged
    assert dropped.clinical.index.equals(cohort.clinical.index)  # rows and labels stay
    everything = drop_modalities(cohort, 1.0, seed=0).present_matrix()
    assert (everything.sum(axis=1) == 1).all()
    _assert_same(drop_modalities(cohort, 0.0, seed=0), cohort)


# -- the settings --------------------------------------------------------------------------------
def test_config_round_trips_through_json_and_documents_every_knob():
    config = SimConfig(n=50, seed=9, gamma=0.0, missing_mechanism="sicker")
    assert SimConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    for f in dataclasses.fields(SimConfig):
        assert f.metadata.get("help", "").endswith("."), f.name


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(n=5), "n must be at least 10"),
        (dict(prevalence=1.0), "prevalence"),
        (dict(kappa=0.5), "kappa"),
        (dict(missing_text=1.2), "missing_text"),
        (dict(missing_mechanism="mnar"), "missing_mechanism"),
        (dict(image_size=8), "image_size"),
        (dict(n_genes=100), "n_genes"),
        (dict(n=10.5), "whole number"),
        (dict(noise_image=float("nan")), "finite"),
    ],
)
def test_config_refuses_bad_values_with_a_clear_message(bad, message):
    with pytest.raises(InputError, match=message):
        SimConfig(**bad)


def test_from_dict_names_unknown_settings():
    with pytest.raises(InputError, match="unknown simulator setting"):
        SimConfig.from_dict({"n": 100, "sigma": 1})
