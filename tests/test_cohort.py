"""The cohort folder: each bad input is one clear InputError, odd ones load, writes round-trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.corpus import BAD_CASES, CASES, ODD_CASES, Case, gray_png, load_target, write_cohort

from amff.data.cohort import Cohort, Patient
from amff.data.folder import read_cohort
from amff.errors import InputError
from amff.modalities import MODALITIES, Modality
from amff.modalities import image as image_module
from amff.modalities.tabular import parse_clinical


def _named(path: Path, case: Case) -> str:
    """The name the message must mention: the file at fault, else the folder."""
    return Path(case.file).name if case.file else path.name


def _assert_clear(error: InputError, case: Case, name: str) -> None:
    message = str(error)
    assert name in message, f"message does not name {name!r}: {message}"
    assert case.expect is not None and case.expect.lower() in message.lower(), message
    assert "\n" not in message and len(message) < 400, message
    assert ";" in message, f"message gives no fix: {message}"
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_corpus_is_large_and_names_are_unique() -> None:
    assert len(BAD_CASES) >= 40 and len(ODD_CASES) >= 25
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert all(c.kind == "bad" and c.expect for c in BAD_CASES)
    assert all(c.kind == "odd" and c.check for c in ODD_CASES)


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda c: c.name)
def test_bad_input_is_one_clear_input_error(case: Case, tmp_path: Path) -> None:
    path = case.build(tmp_path)
    with pytest.raises(InputError) as info:
        read_cohort(path)
    _assert_clear(info.value, case, _named(path, case))


@pytest.mark.parametrize(
    "case", [c for c in BAD_CASES if c.alone and c.target != "cohort"], ids=lambda c: c.name
)
def test_bad_file_alone_gives_the_same_error(case: Case, tmp_path: Path) -> None:
    folder = case.build(tmp_path)
    with pytest.raises(InputError) as info:
        load_target(case, folder)
    _assert_clear(info.value, case, Path(case.file).name)


@pytest.mark.parametrize("case", ODD_CASES, ids=lambda c: c.name)
def test_odd_input_loads(case: Case, tmp_path: Path) -> None:
    folder = case.build(tmp_path)
    cohort = read_cohort(folder)
    case.check(cohort)
    if case.file is not None and case.alone:
        load_target(case, folder)  # the upload path takes it as well


def test_read_only_some_ids(tmp_path: Path) -> None:
    folder = write_cohort(
        tmp_path,
        notes="patient_id,text\np1,a\np3,b\n",
        rnaseq="patient_id,G1\np1,1\np4,2\n",
        images={"p3.png": gray_png()},
    )
    cohort = read_cohort(folder, ids=["p3", "p1"])
    assert cohort.ids == ["p3", "p1"]
    assert set(cohort.notes) == {"p1", "p3"} and set(cohort.images) == {"p3"}
    assert cohort.rnaseq.index.tolist() == ["p1"]
    with pytest.raises(InputError, match="'zz' is not in"):
        read_cohort(folder, ids=["p1", "zz"])


def test_bad_image_of_an_unread_patient_is_still_reported(tmp_path: Path) -> None:
    folder = write_cohort(tmp_path, images={"p2.png": b"not an image"})
    with pytest.raises(InputError, match="p2.png"):
        read_cohort(folder)


def test_many_images_decode_and_the_first_bad_one_is_named(tmp_path: Path) -> None:
    ids = [f"p{i:03d}" for i in range(80)]  # enough to decode on several threads
    clinical = "patient_id,age\n" + "".join(f"{pid},{i}\n" for i, pid in enumerate(ids))
    images = {f"{pid}.png": gray_png(6, 4 + i % 3, seed=i) for i, pid in enumerate(ids)}
    folder = write_cohort(tmp_path, clinical=clinical, images=images)
    cohort = read_cohort(folder)
    assert list(cohort.images) == ids
    assert [cohort.images[pid].shape for pid in ids[:3]] == [(6, 4), (6, 5), (6, 6)]
    for pid in ("p050", "p020", "p070"):
        (folder / "images" / f"{pid}.png").write_bytes(b"broken")
    for _ in range(3):
        with pytest.raises(InputError, match="p020.png"):
            read_cohort(folder)


def test_truth_and_meta_are_read(tmp_path: Path) -> None:
    folder = write_cohort(tmp_path)
    (folder / "truth.csv").write_text("patient_id,p_oracle,poor,note\np1,0.25,0,x\np2,0.5,1,y\n")
    (folder / "truth.json").write_text('{"auroc_oracle": 0.9}')
    cohort = read_cohort(folder)
    assert cohort.truth.loc["p2", "p_oracle"] == 0.5
    assert cohort.truth["poor"].dtype == np.int64 and cohort.truth["p_oracle"].dtype == np.float64
    assert cohort.meta == {"auroc_oracle": 0.9}
    (folder / "truth.json").write_text("[1, 2")
    with pytest.raises(InputError, match="truth.json"):
        read_cohort(folder)


# -- writing -------------------------------------------------------------------------------------
def _rich_cohort() -> Cohort:
    ids = ["p1", "p2", "p3", "007"]
    clinical = pd.DataFrame(
        {
            "age": [70.5, np.nan, 61.0, 0.1 + 0.2],
            "lactate": [2.123456789012345, 1e-12, np.nan, -3.0],
            "sex": ["F", "M", np.nan, "F"],
            "ward": ["ICU, bed 3", 'say "hi"', "café ☕\rward", np.nan],
        },
        index=pd.Index(ids, name="patient_id"),
    )
    labels = pd.Series([1, 0, 1, 0], index=clinical.index, name="label")
    rng = np.random.default_rng(3)
    images = {
        "p1": (rng.integers(0, 256, (16, 16)) / 255.0).astype(np.float32),
        "007": (rng.integers(0, 256, (9, 31)) / 255.0).astype(np.float32),
    }
    notes = {
        "p1": 'Cough, fever; "worse" at night.\nPlan: CXR, labs',
        "p3": "unicode: 发烧 🤒 – naïve\r\nsecond line",
        "007": "<b>html</b> & stuff, commas,,, a lone\rcarriage return",
    }
    rnaseq = pd.DataFrame(
        rng.integers(0, 10_000, size=(3, 5)).astype(np.float64),
        index=pd.Index(["p1", "p2", "007"], name="patient_id"),
        columns=[f"GENE-{i}" for i in range(5)],
    )
    return Cohort(clinical, labels, notes, images, rnaseq, meta={"seed": 1, "gamma": 0.5})


def _assert_same(a: Cohort, b: Cohort) -> None:
    assert a.ids == b.ids and a.features == b.features and a.genes == b.genes
    pd.testing.assert_frame_equal(a.clinical, b.clinical, check_exact=True)
    pd.testing.assert_series_equal(a.labels, b.labels, check_dtype=False)
    assert a.notes == b.notes
    assert a.images.keys() == b.images.keys()
    for pid, image in a.images.items():
        np.testing.assert_array_equal(image, b.images[pid])
    pd.testing.assert_frame_equal(a.rnaseq, b.rnaseq, check_exact=True)
    assert a.meta == b.meta
    np.testing.assert_array_equal(a.present_matrix(), b.present_matrix())


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    cohort = _rich_cohort()
    folder = cohort.write(tmp_path / "out")
    again = read_cohort(folder)
    _assert_same(cohort, again)
    # and once more: what was read writes the same files
    second = again.write(tmp_path / "out2")
    for file in ("clinical.csv", "notes.csv", "rnaseq.csv"):
        assert (folder / file).read_bytes() == (second / file).read_bytes()


def test_write_does_not_change_the_cohort(tmp_path: Path) -> None:
    cohort = _rich_cohort()
    cohort.rnaseq.index.name = None
    before = cohort.clinical.copy()
    cohort.write(tmp_path / "out")
    assert cohort.rnaseq.index.name is None
    pd.testing.assert_frame_equal(cohort.clinical, before)


def test_write_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    with pytest.raises(InputError, match="not empty"):
        _rich_cohort().write(target)
    assert [p.name for p in target.iterdir()] == ["mine.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_over_with_overwrite_replaces_everything(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "stale.csv").write_text("old")
    _rich_cohort().write(target, overwrite=True)
    assert not (target / "stale.csv").exists()
    assert (target / "clinical.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_into_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    _rich_cohort().write(tmp_path / "out")
    assert read_cohort(tmp_path / "out").ids == ["p1", "p2", "p3", "007"]


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(image: np.ndarray) -> bytes:
        raise RuntimeError("disk full")

    monkeypatch.setattr(image_module, "encode_png", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        _rich_cohort().write(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_old_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _rich_cohort().write(tmp_path / "out")
    before = {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()}

    def broken(image: np.ndarray) -> bytes:
        raise RuntimeError("disk full")

    monkeypatch.setattr(image_module, "encode_png", broken)
    with pytest.raises(RuntimeError):
        _rich_cohort().write(target, overwrite=True)
    assert {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_refuses_a_colour_image(tmp_path: Path) -> None:
    cohort = _rich_cohort()
    cohort.images["p1"] = np.zeros((4, 4, 3), dtype=np.float32)
    with pytest.raises(InputError, match="'p1' has shape"):
        cohort.write(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_reserved_feature_names(tmp_path: Path) -> None:
    cohort = _rich_cohort()
    cohort.clinical = cohort.clinical.rename(columns={"age": "label"})
    with pytest.raises(InputError, match="'label'"):
        cohort.write(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_written_files_are_plain_csv(tmp_path: Path) -> None:
    cohort = _rich_cohort()
    cohort.clinical["ward"] = cohort.clinical["ward"].str.replace("\r", " ")
    folder = cohort.write(tmp_path / "out")
    header = (folder / "clinical.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "patient_id,label,age,lactate,sex,ward"
    assert (folder / "rnaseq.csv").read_text().splitlines()[1].startswith("p1,")
    assert "." not in (folder / "rnaseq.csv").read_text().splitlines()[1]  # integer counts


# -- looking -------------------------------------------------------------------------------------
def test_present_matrix_and_patient() -> None:
    cohort = _rich_cohort()
    matrix = cohort.present_matrix()
    assert matrix.shape == (4, len(MODALITIES)) and matrix.dtype == bool
    assert matrix.tolist() == [
        [True, True, True, True],
        [True, False, False, True],
        [True, True, False, False],
        [True, True, True, True],
    ]
    patient = cohort.patient("p2")
    assert patient.label == 0 and patient.note is None and patient.image is None
    assert patient.modalities == (Modality.TABULAR, Modality.RNA)
    assert patient.record["sex"] == "M"
    with pytest.raises(KeyError, match="zz"):
        cohort.patient("zz")


def test_subset_keeps_order_and_modalities() -> None:
    cohort = _rich_cohort()
    part = cohort.subset(["007", "p2"])
    assert part.ids == ["007", "p2"]
    assert part.labels.tolist() == [0, 0]
    assert set(part.notes) == {"007"} and set(part.images) == {"007"}
    assert part.rnaseq.index.tolist() == ["007", "p2"]
    np.testing.assert_array_equal(part.present_matrix(), cohort.present_matrix()[[3, 1]])
    with pytest.raises(KeyError, match="zz"):
        cohort.subset(["p1", "zz"])
    with pytest.raises(ValueError, match="more than once"):
        cohort.subset(["p1", "p1"])


def test_from_patients_round_trips_the_cohort() -> None:
    cohort = _rich_cohort()
    rebuilt = Cohort.from_patients(
        [cohort.patient(i) for i in cohort.ids], features=cohort.features, genes=cohort.genes
    )
    rebuilt.meta = cohort.meta
    _assert_same(cohort, rebuilt)
    assert rebuilt.clinical["sex"].dtype == cohort.clinical["sex"].dtype


def test_from_patients_validates() -> None:
    with pytest.raises(InputError, match="more than once"):
        Cohort.from_patients([Patient("p1"), Patient("p1")])
    with pytest.raises(InputError, match="file name"):
        Cohort.from_patients([Patient("a/b")])
    with pytest.raises(InputError, match="0 or 1"):
        Cohort.from_patients([Patient("p1", label=3)])
    one = pd.Series([1.0, 2.0], index=["G1", "G2"])
    other = pd.Series([1.0], index=["G1"])
    with pytest.raises(InputError, match="G2"):
        Cohort.from_patients([Patient("p1", rna=one), Patient("p2", rna=other)])


def test_from_patients_one_upload() -> None:
    record = pd.Series({"age": " 70", "sex": "F"}, dtype=object)  # as typed into a form
    cohort = Cohort.from_patients([Patient("u1", record=record, note="cough")])
    assert cohort.features == ["age", "sex"]
    assert cohort.clinical["age"].dtype == np.float64
    assert cohort.labels is None
    assert cohort.present_matrix().tolist() == [[True, True, False, False]]


def test_reprs_hold_no_patient_values() -> None:
    cohort = _rich_cohort()
    text = repr(cohort) + str(cohort)
    patient = cohort.patient("p1")
    text += repr(patient) + str(patient)
    for secret in ("70.5", "Cough", "ICU", "GENE-0", "café", "label=1"):
        assert secret not in text
    assert "n=4" in repr(cohort)


def test_parse_clinical_dtypes_are_plain() -> None:
    clinical, labels = parse_clinical(b"patient_id,label,a,b\np1,1,1.5,x\np2,0,,\n", "c.csv")
    assert clinical["a"].dtype == np.float64
    assert pd.api.types.is_string_dtype(clinical["b"].dtype)
    assert clinical["b"].isna().tolist() == [False, True]
    assert labels.dtype == np.int64
    assert clinical.index.name == "patient_id" and labels.index.equals(clinical.index)


def test_read_large_cohort_is_lazy_about_nothing_unknown(tmp_path: Path) -> None:
    # a folder that the user keeps other things in is fine: unknown files are ignored
    folder = write_cohort(tmp_path)
    (folder / "README.txt").write_text("my notes")
    (folder / "images").mkdir()
    (folder / "images" / "Thumbs.db").write_bytes(b"\x00\x01")
    assert read_cohort(folder).ids == ["p1", "p2", "p3", "p4"]


@pytest.mark.parametrize("path", ["bad\x00path", "x" * 5000])
def test_unusable_path_is_an_input_error(path: str) -> None:
    with pytest.raises(InputError, match="path"):
        read_cohort(path)


def test_unreadable_file_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_cohort(tmp_path, notes="patient_id,text\np1,a\n")
    read_bytes = Path.read_bytes

    def refuse(path: Path) -> bytes:
        if path.name == "notes.csv":
            raise PermissionError(13, "Permission denied")
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(InputError, match="notes.csv: cannot be read \\(Permission denied\\)"):
        read_cohort(folder)
