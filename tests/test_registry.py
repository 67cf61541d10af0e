"""The modality registry: names, order, errors, and a fifth modality added from this file alone.

`LabsModality` below is everything a new modality needs (a CSV of lab summaries per patient,
a standardising preprocessor, a small encoder); registering it must be enough to read, train,
save, load, predict (CSV with weight_labs) and explain it through the public API, without
touching any other file of amff/.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import amff
from amff.data.tables import ID, check_ids, check_known, read_bytes, read_table, write_csv
from amff.modalities import (
    MODALITIES,
    NAMES,
    Modality,
    ModalitySpec,
    all_subsets,
    parse_modalities,
    register,
    registered,
)

LAB_COLUMNS = ("crp_mean", "lactate_max", "wbc_trend")


# -- a fifth modality, defined here only ---------------------------------------------------------
@dataclass
class LabsPreprocessor:
    features: list[str] = field(default_factory=list)
    means: list[float] = field(default_factory=list)
    sds: list[float] = field(default_factory=list)

    def check_cohort(self, cohort: amff.Cohort) -> None:
        labs = cohort.extra.get("labs")
        missing = [f for f in self.features if labs is not None and f not in labs.columns]
        if missing:
            raise amff.InputError(f"labs.csv: columns {missing} are missing; add them")

    def inputs(self, cohort: amff.Cohort) -> tuple[np.ndarray]:
        out = np.zeros((len(cohort), len(self.features)), dtype=np.float32)
        labs = cohort.extra.get("labs")
        if labs is not None:
            rows = [i for i, pid in enumerate(cohort.ids) if pid in labs.index]
            values = labs.loc[[cohort.ids[i] for i in rows], self.features].to_numpy(float)
            out[rows] = (values - np.array(self.means)) / np.array(self.sds)
        return (out,)

    def usable(self) -> bool:
        return bool(self.features)

    def schema(self) -> dict[str, Any]:
        return {"n_labs": len(self.features)}

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__

    def problem(self) -> tuple[str, str] | None:
        return None


class LabsEncoder(nn.Module):
    """Lab summaries (B, F) -> 2 tokens (B, 2, D)."""

    def __init__(self, n_inputs: int, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_inputs, 32), nn.GELU(), nn.Linear(32, 2 * dim))
        self.dim = dim

    def forward(self, labs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.net(labs).view(-1, 2, self.dim)  # (B, 2, D)
        return tokens, torch.ones(tokens.shape[:2], dtype=torch.bool)


@dataclass
class _LabsFile:
    labs: pd.DataFrame

    def load(self, keep: set[str]) -> pd.DataFrame:
        return self.labs.loc[self.labs.index.isin(keep)]


class LabsModality(ModalitySpec):
    name = "labs"
    label = "lab summaries"
    files = "labs.csv (patient_id, then one column per lab summary)"

    def open(self, folder: Path, known: set[str], stream: bool = False) -> _LabsFile | None:
        path = folder / "labs.csv"
        if not path.is_file():
            return None
        frame = read_table(read_bytes(path), str(path))
        ids = check_ids(frame, str(path))
        check_known(ids, frame.index, known, str(path))
        values = frame.drop(columns=[ID]).apply(pd.to_numeric).astype(float)
        values.index = pd.Index(ids, name=ID)
        return _LabsFile(values)

    def write(self, data: pd.DataFrame | None, folder: Path) -> None:
        if data is not None:
            write_csv(data.rename_axis(ID), folder / "labs.csv")

    def fit(self, cohort: amff.Cohort, **options: Any) -> LabsPreprocessor:
        labs = cohort.extra["labs"]
        sds = labs.std().replace(0, 1.0)
        return LabsPreprocessor(list(labs.columns), labs.mean().tolist(), sds.tolist())

    def preprocessor_from_dict(self, data: dict[str, Any], files: dict[str, str]) -> Any:
        return LabsPreprocessor(**data)

    def build_encoder(self, config: amff.ModelConfig, schema: dict[str, Any]) -> nn.Module:
        return LabsEncoder(schema["n_labs"], config.dim)


def _with_labs(cohort: amff.Cohort, seed: int = 0) -> amff.Cohort:
    """The cohort plus lab summaries for 90% of patients; crp_mean follows the label."""
    rng = np.random.default_rng(seed)
    ids = [i for i in cohort.ids if rng.random() < 0.9]
    labels = cohort.labels.loc[ids].to_numpy()
    labs = pd.DataFrame(
        {
            "crp_mean": 20 + 15 * labels + rng.normal(0, 8, len(ids)),
            "lactate_max": rng.normal(2, 0.5, len(ids)),
            "wbc_trend": rng.normal(0, 1, len(ids)),
        },
        index=pd.Index(ids, name=ID),
    )
    extra = {**cohort.extra, "labs": labs}
    return amff.Cohort(
        cohort.clinical,
        cohort.labels,
        cohort.notes,
        cohort.images,
        cohort.rnaseq,
        cohort.truth,
        cohort.meta,
        extra,
    )


@pytest.fixture
def labs():
    with registered(LabsModality()) as member:
        yield member


def test_a_fifth_modality_end_to_end(labs, toy_cohort, tmp_path):
    from amff.cli import main

    assert list(NAMES) == ["tabular", "text", "image", "rna", "labs"]
    folder = tmp_path / "cohort"
    _with_labs(toy_cohort).write(folder)
    assert (folder / "labs.csv").is_file()
    cohort = amff.read_cohort(folder)
    assert cohort.present("labs").mean() > 0.8
    assert cohort.patient(cohort.ids[0]).modalities[-1] in (labs, "rna")

    trained = amff.train(cohort, amff.ModelConfig(kind="amff"), amff.TrainConfig(epochs=2))
    assert "encoders.encoders.labs.net.0.weight" in trained.model.state_dict()
    ckpt = tmp_path / "ckpt"
    trained.save(ckpt)
    predictor = amff.load(ckpt)
    assert predictor.modalities == ("tabular", "text", "image", "rna", "labs")
    frame = predictor.predict(cohort)
    assert frame["weight_labs"].notna().mean() > 0.8
    only_labs = predictor.predict(cohort, modalities=["labs"])
    assert set(only_labs["modalities"].dropna()) <= {"labs", ""}

    out = tmp_path / "preds.csv"
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(ckpt),
                "--data",
                str(folder),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    written = pd.read_csv(out)
    assert "weight_labs" in written.columns
    assert written["weight_labs"].notna().mean() > 0.8

    patient = cohort.patient(next(i for i in cohort.ids if cohort.patient(i).has("labs")))
    found = amff.explain.attribute_all(predictor, patient, n_steps=8)
    assert list(found["labs"].labels) == list(LAB_COLUMNS)
    assert found["labs"].values.shape == (3,)
    assert np.isfinite(found["labs"].values).all()


def test_a_model_keeps_its_modalities_when_another_is_registered(labs, trained_toy_checkpoint):
    from support.toy import make_toy_cohort

    predictor = amff.load(trained_toy_checkpoint)  # trained on the built-in four
    assert predictor.modalities == ("tabular", "text", "image", "rna")
    frame = predictor.predict(make_toy_cohort(n=20, seed=3))
    assert "weight_labs" not in frame.columns
    assert frame["probability"].notna().all()


# -- names, order and errors -------------------------------------------------------------------
def test_built_in_order_and_labels() -> None:
    assert list(NAMES) == ["tabular", "text", "image", "rna"]
    assert [m.label for m in MODALITIES] == [
        "clinical record",
        "clinical note",
        "medical image",
        "RNA-seq",
    ]
    assert Modality("image") is Modality.IMAGE and Modality.IMAGE == "image"
    assert len(all_subsets()) == 15


def test_unknown_modality_is_an_error_never_rna() -> None:
    with pytest.raises(ValueError, match="unknown modality 'genome'"):
        Modality("genome")
    with pytest.raises(ValueError, match="unknown modality"):
        parse_modalities("tabular,genome")
    with pytest.raises(ValueError, match="unknown modality"):
        amff.Patient("P1").has("genome")


def test_names_must_be_new_and_built_ins_stay() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(LabsModality.__new__(type("X", (LabsModality,), {"name": "image"})))
    with pytest.raises(ValueError, match="cannot be unregistered"):
        amff.modalities.unregister("rna")


def test_a_modality_pickles_to_the_same_member() -> None:
    assert pickle.loads(pickle.dumps(Modality.RNA)) is Modality.RNA


# -- quality signals, computed from the data itself ------------------------------------------
@pytest.mark.parametrize(
    ("modality", "signal", "sign"),
    [
        ("tabular", "blank_share", 1),
        ("text", "hedges", 1),
        ("image", "sharpness", -1),
        ("rna", "log10_library", -1),
    ],
)
def test_quality_signals_separate_poor_readings(sim_cohort, modality, signal, sign) -> None:
    """The simulator marks poor readings in truth.csv (hidden from the model); the signal each
    modality computes from its own data must tell them apart."""
    quality = Modality(modality).spec.quality(sim_cohort)
    assert list(quality.columns) == list(Modality(modality).spec.quality_signals)
    poor = sim_cohort.truth.loc[quality.index, f"quality_{modality}"].to_numpy()
    assert 0 < poor.mean() < 1
    assert amff.metrics.auroc(poor, sign * quality[signal].to_numpy()) > 0.8


@pytest.fixture(scope="module")
def sim_cohort():
    return amff.simulate(amff.SimConfig(n=300, seed=1))


def test_public_functions_are_not_shadowed_by_submodules() -> None:
    """A package attribute and a submodule of the same name collide once the submodule is
    imported (`amff.train` the function vs amff/train.py): no public function or class may
    share its name with a submodule of amff."""
    import pkgutil

    submodules = {m.name for m in pkgutil.iter_modules(amff.__path__)}
    clashes = [n for n in amff.__all__ if n in submodules and callable(getattr(amff, n))]
    assert clashes == []
