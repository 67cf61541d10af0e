"""amff.explain: completeness, known answers, randomisation, drop-one, hooks, threads, CLI."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

import amff
from amff import explain
from amff.config import ModelConfig
from amff.errors import InputError
from amff.modalities import MODALITIES, Modality
from amff.nn.models import build_model
from amff.predictor import Predictor

NAMES = [m.value for m in MODALITIES]
METHODS_CHEAP = ("integrated_gradients", "occlusion", "input_x_gradient")


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def predictor(trained_toy_checkpoint):
    return amff.load(trained_toy_checkpoint)


@pytest.fixture(scope="module")
def full_ids(toy_cohort):
    """Patients with all four modalities (and a recorded marker_a)."""
    ids = [i for i in toy_cohort.ids if len(toy_cohort.patient(i).modalities) == 4]
    return [i for i in ids if not np.isnan(toy_cohort.clinical.loc[i, "marker_a"])]


@pytest.fixture(scope="module")
def patient(toy_cohort, full_ids):
    return toy_cohort.patient(full_ids[0])


def _fresh(trained_toy_checkpoint) -> Predictor:
    """A predictor of its own, for tests that change the model."""
    return amff.load(trained_toy_checkpoint)


def _untrained(kind: str, preprocessor) -> Predictor:
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind=kind), preprocessor.schema())
    return Predictor(model, preprocessor, {"kind": kind, "threshold": 0.5})


def _tolerance(found: explain.Attribution) -> float:
    return 0.05 * abs(found.logit - found.baseline_logit) + 1e-3


def _assert_no_hooks(model: nn.Module) -> None:
    for name, module in model.named_modules():
        assert not module._forward_hooks, f"forward hook left on {name!r}"
        assert not module._forward_pre_hooks, f"forward pre-hook left on {name!r}"
        assert not module._backward_hooks, f"backward hook left on {name!r}"
    assert not torch.nn.modules.module._global_forward_hooks


# -- completeness --------------------------------------------------------------------------
@pytest.mark.parametrize("modality", NAMES)
def test_integrated_gradients_are_complete(predictor, toy_cohort, full_ids, modality):
    """IG attributions sum to f(x) - f(baseline): |delta| < 5% of the gap + 1e-3 (64 steps)."""
    for pid in full_ids[:2]:
        found = explain.attribute(predictor, toy_cohort.patient(pid), modality, n_steps=64)
        gap = found.logit - found.baseline_logit
        assert found.delta is not None
        assert abs(found.delta) < _tolerance(found)
        # the per-feature/word/gene values (after merging) keep the sum too
        assert abs(found.values.sum() - gap) < _tolerance(found) + 1e-5
        assert np.isfinite(found.values).all()


@pytest.mark.parametrize("kind", ["early", "late"])
def test_baselines_complete_and_explain_their_own_logit(
    kind, toy_preprocessor, toy_cohort, full_ids
):
    predictor = _untrained(kind, toy_preprocessor)
    patient = toy_cohort.patient(full_ids[0])
    chosen = ["tabular", "image", "rna"]
    arrays = predictor.predict_arrays(predictor.encode(patient), chosen)
    for modality in chosen:
        found = explain.attribute(predictor, patient, modality, modalities=chosen, n_steps=64)
        # the logit explained is the model's own for exactly this subset
        assert found.logit == pytest.approx(arrays["logit"][0], abs=1e-5)
        assert abs(found.delta) < _tolerance(found)
    frame = explain.modality_importance(predictor, patient, chosen)
    if kind == "early":
        assert frame["weight"].isna().all()  # early fusion has no modality weights
    else:
        assert frame.loc[frame["used"], "weight"].to_numpy() == pytest.approx([1 / 3] * 3)
    maps = explain.attention_maps(predictor, patient)
    assert maps["image"].weights.sum() == pytest.approx(1.0, abs=1e-5)
    assert maps["text"].weights.sum() == pytest.approx(1.0, abs=1e-5)
    _assert_no_hooks(predictor.model)


def test_attribution_explains_the_chosen_subset(predictor, patient):
    for chosen in (["tabular", "text"], ["text", "image", "rna"], NAMES):
        logit = predictor.predict_arrays(predictor.encode(patient), chosen)["logit"][0]
        found = explain.attribute(predictor, patient, "text", modalities=chosen)
        assert found.logit == pytest.approx(logit, abs=1e-5)


# -- absent and masked modalities ----------------------------------------------------------
def test_absent_or_unchosen_modality_raises_and_weighs_zero(predictor, toy_cohort, patient):
    lacking = next(toy_cohort.patient(i) for i in toy_cohort.ids if i not in toy_cohort.images)
    with pytest.raises(InputError, match="image modality is absent for this patient"):
        explain.attribute(predictor, lacking, "image")
    with pytest.raises(InputError, match="rna modality is not among the chosen"):
        explain.attribute(predictor, patient, "rna", modalities=["tabular", "image"])
    with pytest.raises(InputError, match="unknown modality"):
        explain.attribute(predictor, patient, "genome")
    with pytest.raises(InputError, match="unknown attribution method"):
        explain.attribute(predictor, patient, "image", method="lime")

    frame = explain.modality_importance(predictor, patient, ["tabular", "image"])
    unused = frame[~frame["used"]]
    assert set(unused["modality"]) == {"text", "rna"}
    assert (unused["weight"] == 0).all()
    assert (unused["drop_one_logit"] == 0).all()
    result = explain.explain_patient(predictor, patient, ["tabular", "image"], n_steps=8)
    assert result["attributions"]["rna"] is None and result["attributions"]["text"] is None
    assert result["weights"]["rna"] == 0.0


def test_masked_modality_has_no_influence_on_attributions(predictor, patient):
    """Changing a masked modality's input leaves every attribution bit-identical."""
    from dataclasses import replace

    chosen = ["tabular", "text", "rna"]
    other = replace(patient, image=1.0 - patient.image)
    for modality in chosen:
        a = explain.attribute(predictor, patient, modality, modalities=chosen, n_steps=8)
        b = explain.attribute(predictor, other, modality, modalities=chosen, n_steps=8)
        assert np.array_equal(a.values, b.values)
        assert a.logit == b.logit


# -- known answers on hand-built models ----------------------------------------------------
def test_known_answer_only_one_record_feature_matters(trained_toy_checkpoint, patient):
    predictor = _fresh(trained_toy_checkpoint)
    encoder = predictor.model.encoders.encoders["tabular"]
    k = predictor.features.index("marker_a")
    with torch.no_grad():
        keep = encoder.mlp[0].weight[:, k].clone()
        encoder.mlp[0].weight.zero_()
        encoder.mlp[0].weight[:, k] = keep
    for method in explain.METHODS:
        found = explain.attribute(predictor, patient, "tabular", method=method, n_steps=64)
        others = np.delete(found.values, k)
        # occlusion compares batched forwards with a single one: float noise only
        assert np.abs(others).max() <= (1e-6 if method == "occlusion" else 0.0), method
        assert found.values[k] != 0.0, method
    found = explain.attribute(predictor, patient, "tabular", n_steps=64)
    assert found.values[k] == pytest.approx(found.logit - found.baseline_logit, abs=1e-3)
    assert found.top(1)["label"].iloc[0] == "marker_a"


class RegionMean(nn.Module):
    """An image encoder that only sees the mean of one rectangle of the image."""

    def __init__(self, dim: int, rows: slice, cols: slice) -> None:
        super().__init__()
        self.rows, self.cols = rows, cols
        self.tokens = nn.Parameter(torch.randn(1, 16, dim))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = image[:, :, self.rows, self.cols].mean(dim=(1, 2, 3))  # (B,)
        tokens = torch.tanh(3.0 * mean)[:, None, None] * self.tokens  # (B, 16, D)
        return tokens, torch.ones(tokens.shape[:2], dtype=torch.bool)


def test_known_answer_image_model_that_reads_one_region(trained_toy_checkpoint, patient):
    predictor = _fresh(trained_toy_checkpoint)
    size = predictor.image_size
    rows, cols = slice(4, 12), slice(size - 14, size - 4)
    torch.manual_seed(0)
    predictor.model.encoders.encoders["image"] = RegionMean(predictor.model.config.dim, rows, cols)
    inside = np.zeros((size, size), dtype=bool)
    inside[rows, cols] = True

    found = explain.attribute(predictor, patient, "image", n_steps=64)
    assert found.values.shape == (size, size)
    assert np.all(found.values[~inside] == 0.0)
    assert np.abs(found.values[inside]).sum() > 0
    assert abs(found.delta) < _tolerance(found)
    # occlusion: windows overlapping the region spill at most a window's width beyond it
    occluded = explain.attribute(predictor, patient, "image", method="occlusion")
    window = size // 8
    near = np.zeros_like(inside)
    near[max(0, 4 - window) : 12 + window, max(0, size - 14 - window) : size - 4 + window] = True
    mass = np.abs(occluded.values)
    assert mass.sum() > 0 and mass[near].sum() / mass.sum() == pytest.approx(1.0, abs=1e-3)
    for method in ("saliency", "input_x_gradient"):
        cheap = explain.attribute(predictor, patient, "image", method=method)
        assert np.all(cheap.values[~inside] == 0.0)


def test_known_answer_one_word_drives_the_logit(trained_toy_checkpoint, toy_cohort):
    predictor = _fresh(trained_toy_checkpoint)
    word = "fever"
    patient = next(
        toy_cohort.patient(i) for i in toy_cohort.ids if word in (toy_cohort.notes.get(i) or "")
    )
    token = predictor.preprocessor.text._tokenizer.token_to_id(word)
    assert token is not None
    embedding = predictor.model.encoders.encoders["text"].token_embedding
    with torch.no_grad():
        keep = embedding.weight[token].clone()
        embedding.weight.zero_()
        embedding.weight[token] = 4.0 * keep
    found = explain.attribute(predictor, patient, "text", n_steps=64)
    frame = found.frame()
    is_word = frame["label"].str.lower() == word
    assert is_word.any() and not is_word.all()
    assert np.all(frame.loc[~is_word, "attribution"] == 0.0)
    assert frame.loc[is_word, "attribution"].sum() == pytest.approx(
        found.logit - found.baseline_logit, abs=_tolerance(found)
    )
    assert found.top(1)["label"].iloc[0].lower() == word
    # the words carry their character offsets in the note
    note = patient.note
    assert all(note[s:e] == w for w, s, e in zip(frame["label"], frame["start"], frame["end"]))


def test_known_answer_one_gene_drives_the_logit(trained_toy_checkpoint, patient):
    predictor = _fresh(trained_toy_checkpoint)
    linear = predictor.model.encoders.encoders["rna"].net[1]
    k = predictor.genes.index("g3")
    with torch.no_grad():
        keep = linear.weight[:, k].clone()
        linear.weight.zero_()
        linear.weight[:, k] = keep
    found = explain.attribute(predictor, patient, "rna", n_steps=64)
    assert found.labels[k] == "g3" and found.labels[-1] == explain.LIBRARY_LABEL
    assert np.all(np.delete(found.values, k) == 0.0)
    assert found.values[k] == pytest.approx(found.logit - found.baseline_logit, abs=1e-3)
    row = found.top(1).iloc[0]
    assert row["label"] == "g3" and row["value"] == patient.rna["g3"]  # the raw count beside


def test_rna_when_the_model_reads_a_gene_selection(toy_cohort, toy_preprocessor, patient):
    """CPM is computed over every training gene; the model reads the most variable ones."""
    from amff.data.preprocess import Preprocessor
    from amff.modalities.rna import RnaPreprocessor

    rna = RnaPreprocessor.fit(toy_cohort.rnaseq, top_genes=10)
    assert len(rna.genes) == 10 and len(rna.library_genes) == 30
    predictor = _untrained("amff", Preprocessor({**toy_preprocessor.parts, "rna": rna}))
    found = explain.attribute(predictor, patient, "rna", n_steps=32)
    assert found.labels[:-1] == rna.genes
    standardised = (
        predictor.batch(toy_cohort.subset([patient.patient_id])).inputs("rna")[0][0].numpy()
    )
    assert found.extra["standardised"] == pytest.approx(standardised)
    counts = patient.rna[rna.library_genes].to_numpy(dtype=float)
    expected = np.log2(counts / counts.sum() * 1e6 + 1.0)[
        [rna.library_genes.index(g) for g in rna.genes]
    ]
    assert found.extra["log_cpm"][:-1] == pytest.approx(expected)
    assert (
        list(found.inputs[:-1]) == list(patient.rna[rna.genes]) and found.inputs[-1] == counts.sum()
    )
    assert abs(found.delta) < _tolerance(found)


# -- model randomisation (Adebayo et al. 2018) ---------------------------------------------
def _randomise(model: nn.Module) -> None:
    torch.manual_seed(123)
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "reset_parameters") and module is not model:
                module.reset_parameters()
        for name, parameter in model.named_parameters():
            if name.endswith(("position", "query", "missing_value", "tokens")):
                parameter.normal_(0.0, 0.5)


def test_randomising_the_model_changes_the_attributions(
    trained_toy_checkpoint, toy_cohort, full_ids
):
    trained = _fresh(trained_toy_checkpoint)
    randomised = _fresh(trained_toy_checkpoint)
    _randomise(randomised.model)
    for modality in ("text", "image", "rna"):
        correlations = []
        for pid in full_ids[:3]:
            patient = toy_cohort.patient(pid)
            a = explain.attribute(trained, patient, modality, n_steps=16).values.ravel()
            b = explain.attribute(randomised, patient, modality, n_steps=16).values.ravel()
            correlations.append(spearmanr(a, b).statistic)
        assert np.mean(correlations) < 0.5, (modality, correlations)


# -- modality level ------------------------------------------------------------------------
def test_drop_one_equals_prediction_without_the_modality(predictor, toy_cohort):
    cohort = toy_cohort.subset(toy_cohort.ids[:40])
    encoded = predictor.encode(cohort)
    for chosen in (NAMES, ["tabular", "image", "rna"]):
        frame = explain.modality_importance(predictor, encoded, chosen)
        full = predictor.predict_arrays(encoded, chosen)
        for modality in chosen:
            rows = frame[frame["modality"] == modality]
            without = predictor.predict_arrays(encoded, [m for m in chosen if m != modality])
            expected_logit = full["logit"] - without["logit"]
            expected_prob = full["probability"] - without["probability"]
            used = rows["used"].to_numpy()
            alone = used & np.isnan(without["logit"])
            check = used & ~alone
            got = rows["drop_one_logit"].to_numpy()
            assert got[check] == pytest.approx(expected_logit[check], abs=1e-5)
            got = rows["drop_one_probability"].to_numpy()
            assert got[check] == pytest.approx(expected_prob[check], abs=1e-6)
            assert np.isnan(rows["drop_one_logit"].to_numpy()[alone]).all()
            j = MODALITIES.index(Modality(modality))
            assert rows["weight"].to_numpy() == pytest.approx(full["weights"][:, j], abs=1e-6)
    summary = explain.average_importance(frame)
    assert list(summary.index) == NAMES
    assert summary.loc["text", "n_used"] == 0
    assert summary.loc["tabular", "n_used"] == frame[frame["modality"] == "tabular"]["used"].sum()


def test_importance_of_one_patient_from_cache_or_patient(predictor, patient):
    from_patient = explain.modality_importance(predictor, patient)
    from_cache = explain.modality_importance(predictor, predictor.encode(patient))
    assert from_patient.equals(from_cache)
    assert from_patient["weight"].sum() == pytest.approx(1.0)
    assert list(from_patient["modality"]) == NAMES


# -- attention -----------------------------------------------------------------------------
def test_attention_maps_sum_to_one_and_cover_the_words(predictor, patient):
    maps = explain.attention_maps(predictor, patient)
    assert set(maps) == {"text", "image"}
    text, image = maps["text"], maps["image"]
    words = explain.attribute(predictor, patient, "text", n_steps=4).labels
    assert text.labels == words and text.weights.shape == (len(words),)
    assert text.weights.sum() == pytest.approx(1.0, abs=1e-5)
    assert image.weights.shape == (4, 4) and image.weights.sum() == pytest.approx(1.0, abs=1e-5)
    assert image.upsampled.shape == (predictor.image_size,) * 2
    assert explain.attention_maps(predictor, patient, ["tabular", "rna"]) == {}


def test_known_answer_uniform_attention(trained_toy_checkpoint, patient):
    """With a constant query-key score the pooling attends uniformly: each word gets its
    share of the WordPiece tokens, each image cell 1/16."""
    predictor = _fresh(trained_toy_checkpoint)
    for name in ("text", "image"):
        attn = predictor.model.encoders.pools[name].attn
        with torch.no_grad():
            attn.to_q.weight.zero_()
            attn.to_q.bias.zero_()
    maps = explain.attention_maps(predictor, patient)
    ids = predictor.batch(patient).trim().inputs("text")[0][0].tolist()
    _, _, _, token_word = explain.note_words(predictor, patient.note, ids)
    expected = np.bincount(token_word) / len(token_word)
    assert maps["text"].weights == pytest.approx(expected, abs=1e-6)
    assert maps["image"].weights == pytest.approx(np.full((4, 4), 1 / 16), abs=1e-6)


# -- hooks, state, threads -----------------------------------------------------------------
def test_no_hooks_or_state_left_behind(trained_toy_checkpoint, patient):
    predictor = _fresh(trained_toy_checkpoint)
    model = predictor.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for method in explain.METHODS:
        explain.attribute_all(predictor, patient, method=method, n_steps=4)
    explain.attention_maps(predictor, patient)
    explain.explain_patient(predictor, patient, n_steps=4)
    with pytest.raises(InputError):
        explain.attribute(predictor, patient, "rna", modalities=["text"])
    _assert_no_hooks(model)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


def test_works_under_the_callers_no_grad_or_inference_mode(predictor, patient):
    expected = explain.attribute_all(predictor, patient, n_steps=8)
    for mode in (torch.no_grad, torch.inference_mode):
        with mode():
            found = explain.attribute_all(predictor, patient, n_steps=8)
            maps = explain.attention_maps(predictor, patient)
            assert torch.is_inference_mode_enabled() == (mode is torch.inference_mode)
        for name, attribution in found.items():
            assert np.array_equal(attribution.values, expected[name].values), name
        assert set(maps) == {"text", "image"}
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


def test_hooks_never_touch_other_threads(predictor, toy_cohort, patient):
    """A prediction running in another thread during an attribution is unchanged."""
    batch = predictor.batch(toy_cohort.subset(toy_cohort.ids[:16])).trim()
    with torch.inference_mode():
        reference = predictor.model.encode(batch)
    done, results, errors = threading.Event(), [], []

    def predict_meanwhile() -> None:
        try:
            while not done.is_set():
                with torch.inference_mode():
                    results.append(predictor.model.encode(batch))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    worker = threading.Thread(target=predict_meanwhile)
    worker.start()
    try:
        for _ in range(3):
            explain.attribute_all(predictor, patient, n_steps=16)
            explain.attention_maps(predictor, patient)
    finally:
        done.set()
        worker.join()
    assert not errors
    assert results and all(torch.equal(r, reference) for r in results)


def test_concurrent_explanations_agree_with_sequential(predictor, toy_cohort, full_ids):
    patients = [toy_cohort.patient(i) for i in full_ids[:3]]
    expected = [explain.attribute(predictor, p, "text", n_steps=8).values for p in patients]
    got: dict[int, np.ndarray] = {}

    def run(i: int) -> None:
        got[i] = explain.attribute(predictor, patients[i], "text", n_steps=8).values

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(got[i], expected[i]) for i in range(3))


# -- results -------------------------------------------------------------------------------
def test_every_method_gives_the_documented_shapes(predictor, patient):
    size = predictor.image_size
    for method in explain.METHODS:
        found = explain.attribute_all(predictor, patient, method=method, n_steps=4)
        assert set(found) == set(NAMES)
        assert found["tabular"].values.shape == (len(predictor.features),)
        assert found["image"].values.shape == (size, size)
        assert found["rna"].values.shape == (len(predictor.genes) + 1,)
        assert len(found["text"].labels) == len(found["text"].values)
        assert (found["image"].delta is not None) == (method == "integrated_gradients")
        if method == "saliency":
            assert all((a.values >= 0).all() for a in found.values())
    frame = found["tabular"].frame()
    assert list(frame.columns[:3]) == ["label", "value", "attribution"]
    assert len(found["image"].frame()) == size * size
    assert len(found["rna"].top(5)) == 5


def test_image_baselines(predictor, patient):
    # 64 steps: the path from a black image is long, and at 32 steps the integration error of
    # the black baseline was 0.0061 against a tolerance of 0.0046 on this machine
    for kind in explain.IMAGE_BASELINES:
        found = explain.attribute(predictor, patient, "image", n_steps=64, image_baseline=kind)
        assert found.baseline == explain.IMAGE_BASELINES[kind]
        assert abs(found.delta) < _tolerance(found)
    with pytest.raises(InputError, match="unknown image baseline"):
        explain.attribute(predictor, patient, "image", image_baseline="grey")


def test_generic_adapter_for_a_modality_without_its_own(predictor, patient, monkeypatch):
    """A modality with no adapter of its own is attributed through its encoder's one float
    input, against zeros: on RNA (whose own adapter does exactly that) the same numbers."""
    from amff.explain import adapters

    own = {m: explain.attribute(predictor, patient, "rna", m, n_steps=16) for m in METHODS_CHEAP}
    monkeypatch.delitem(adapters.ADAPTERS, "rna")
    assert adapters.adapter_for("rna") is adapters.GENERIC
    for method, expected in own.items():
        found = explain.attribute(predictor, patient, "rna", method, n_steps=16)
        np.testing.assert_array_equal(found.values, expected.values)
        assert (found.logit, found.baseline_logit) == (expected.logit, expected.baseline_logit)
        assert found.delta == expected.delta
        assert found.baseline == adapters.GenericAdapter.baseline
        # G genes + the library size: no name list of that length, so f0..f{G}
        assert found.labels == [f"f{i}" for i in range(len(expected.labels))]
        np.testing.assert_array_equal(found.inputs, expected.extra["standardised"])
    monkeypatch.delitem(adapters.ADAPTERS, "tabular")  # three tensors: values, flags, categories
    with pytest.raises(InputError, match="not one float tensor"):
        explain.attribute(predictor, patient, "tabular")


def test_adapter_lookup_and_feature_names():
    from amff.explain import adapters

    assert adapters.adapter_for("image").keeps_shape
    assert adapters.adapter_for("image").window_occlusion
    assert adapters.adapter_for("genome") is adapters.GENERIC
    assert not adapters.GENERIC.keeps_shape and not adapters.GENERIC.window_occlusion

    class Named:
        feature_names = ("a", "b")

    assert adapters.feature_names(Named(), 2) == ["a", "b"]
    assert adapters.feature_names(Named(), 3) == ["f0", "f1", "f2"]
    assert adapters.feature_names(None, 2) == ["f0", "f1"]


def test_missing_record_values_get_no_attribution(predictor, toy_cohort):
    pid = next(i for i in toy_cohort.ids if np.isnan(toy_cohort.clinical.loc[i, "marker_b"]))
    patient = toy_cohort.patient(pid)
    k = predictor.features.index("marker_b")
    for method in explain.METHODS:
        found = explain.attribute(predictor, patient, "tabular", method=method, n_steps=16)
        assert found.values[k] == 0.0
        assert found.frame()["missing"].iloc[k]


def test_explain_patient_is_json(predictor, patient):
    result = explain.explain_patient(predictor, patient, n_steps=8, top_genes=7)
    text = json.dumps(result, allow_nan=False)
    again = json.loads(text)
    assert set(again) >= {"prediction", "weights", "drop_one", "attributions", "attention"}
    assert again["modalities"] == NAMES
    assert len(again["attributions"]["rna"]["features"]) == 7
    assert (
        np.asarray(again["attributions"]["image"]["heatmap"]).shape == (predictor.image_size,) * 2
    )
    assert sum(again["weights"].values()) == pytest.approx(1.0)
    direct = predictor.predict_one(patient)
    assert again["prediction"]["probability"] == pytest.approx(direct["probability"], abs=1e-6)


# -- command line --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cohort_folder(tmp_path_factory, toy_cohort, full_ids):
    folder = tmp_path_factory.mktemp("explain") / "cohort"
    toy_cohort.subset(list(dict.fromkeys(full_ids[:3] + toy_cohort.ids[:6]))).write(folder)
    return folder


def test_cli_writes_json_and_four_pngs(trained_toy_checkpoint, cohort_folder, full_ids, tmp_path):
    from amff.cli import main

    out = tmp_path / "why"
    args = ["explain", "--checkpoint", str(trained_toy_checkpoint), "--data", str(cohort_folder)]
    assert main([*args, "--patient", full_ids[0], "--out", str(out), "--steps", "8"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["explanation.json", "image.png", "rna.png", "tabular.png", "text.png"]
    result = json.loads((out / "explanation.json").read_text())
    assert result["patient_id"] == full_ids[0] and result["modalities"] == NAMES
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a subset and another method
    out2 = tmp_path / "why2"
    extra = ["--modalities", "tabular,image", "--method", "occlusion"]
    assert main([*args, "--patient", full_ids[0], "--out", str(out2), *extra]) == 0
    result = json.loads((out2 / "explanation.json").read_text())
    assert result["modalities"] == ["tabular", "image"] and result["attributions"]["rna"] is None
    assert len(list(out2.glob("*.png"))) == 4


def test_write_explanation_writes_what_the_cli_writes(
    trained_toy_checkpoint, cohort_folder, full_ids, tmp_path
):
    from amff.cli import main
    from amff.data.folder import read_cohort

    args = ["explain", "--checkpoint", str(trained_toy_checkpoint), "--data", str(cohort_folder)]
    args += ["--patient", full_ids[0], "--steps", "8"]
    assert main([*args, "--out", str(tmp_path / "cli")]) == 0
    predictor = amff.load(trained_toy_checkpoint)
    patient = read_cohort(cohort_folder, ids=[full_ids[0]]).patient(full_ids[0])
    parts = explain.explain_parts(predictor, patient, None, "integrated_gradients", 8, 50)
    (tmp_path / "api").mkdir()  # an empty folder is replaced, like a new one
    explain.write_explanation(tmp_path / "api", patient, *parts)
    written = sorted(p.name for p in (tmp_path / "api").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "cli").iterdir())
    for name in written:
        assert (tmp_path / "api" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api", "cli"]  # no staging left


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--patient", "NOBODY"], "patient 'NOBODY' is not in the file"),
        (["--modalities", "tabular,genome"], "unknown modality 'genome'"),
    ],
)
def test_cli_bad_input_exits_2_and_writes_nothing(
    trained_toy_checkpoint, cohort_folder, full_ids, tmp_path, capsys, extra, message
):
    from amff.cli import main

    out = tmp_path / "why"
    args = ["explain", "--checkpoint", str(trained_toy_checkpoint), "--data", str(cohort_folder)]
    args += ["--out", str(out)]
    if "--patient" not in extra:
        args += ["--patient", full_ids[0]]
    assert main(args + extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no staging folder left either


def test_cli_refuses_bad_folders(trained_toy_checkpoint, cohort_folder, full_ids, tmp_path, capsys):
    from amff.cli import main

    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    base = ["explain", "--checkpoint", str(trained_toy_checkpoint), "--patient", full_ids[0]]
    assert main([*base, "--data", str(cohort_folder), "--out", str(taken)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]
    assert main([*base, "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert not (tmp_path / "o").exists()
