"""A corpus of bad and odd cohort inputs, for the reader, the CLI and the dashboard upload path.

Every case writes a cohort folder (or a path that is not one) into a scratch folder and says
what reading it must do::

    from support.corpus import BAD_CASES, ODD_CASES, CASES, load_target

    folder = case.build(tmp_path)      # a cohort folder (or a bad path)
    read_cohort(folder)                # bad: InputError naming case.file, containing case.expect
                                       # odd: loads; case.check(cohort) asserts what it must hold

`target` says which part of the folder the case is about ("cohort" for the folder itself);
`file` is that file's path inside the folder (None for folder-level cases); `alone` says whether
the problem shows when that one file is parsed on its own, as an upload is (`load_target`).
Images are built small on disk: the decompression bombs are crafted headers, not big images.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from PIL import Image

Kind = Literal["bad", "odd"]
Target = Literal["cohort", "clinical", "notes", "rnaseq", "image"]

CLINICAL = "patient_id,label,age,sex\np1,1,70,F\np2,0,55,M\np3,1,,F\np4,0,61,\n"
IDS = ("p1", "p2", "p3", "p4")
NOTES = "patient_id,text\np1,cough and fever\np2,no acute distress\n"
RNASEQ = "patient_id,GENE1,GENE2,GENE3\np1,10,0,5\np2,3,7,0\n"


@dataclass(frozen=True)
class Case:
    """One input and what reading it must do."""

    name: str
    kind: Kind
    build: Callable[[Path], Path]  # scratch folder -> the path to read (a cohort folder)
    expect: str | None  # bad: a fragment of the message (compared case-insensitively)
    target: Target
    file: str | None = None  # the file at fault (or the odd one), relative to the folder
    alone: bool = True  # the file parsed on its own shows the same problem
    check: Callable[..., None] | None = None  # odd: assertions on the loaded Cohort

    def __repr__(self) -> str:
        return f"Case({self.name!r}, {self.kind})"


# -- builders ----------------------------------------------------------------------------------
def write_cohort(
    tmp: Path,
    clinical: str | bytes | None = CLINICAL,
    notes: str | bytes | None = None,
    rnaseq: str | bytes | None = None,
    images: dict[str, bytes] | None = None,
    name: str = "cohort",
) -> Path:
    """Write a cohort folder from raw file contents (str is written as UTF-8)."""
    folder = tmp / name
    folder.mkdir(parents=True, exist_ok=True)
    for file, content in (("clinical.csv", clinical), ("notes.csv", notes), ("rnaseq.csv", rnaseq)):
        if content is not None:
            data = content.encode("utf-8") if isinstance(content, str) else content
            (folder / file).write_bytes(data)
    if images is not None:
        (folder / "images").mkdir(exist_ok=True)
        for file, data in images.items():
            (folder / "images" / file).write_bytes(data)
    return folder


def png_bytes(image: Image.Image) -> bytes:
    """A Pillow image as PNG bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image, **options: object) -> bytes:
    """A Pillow image as JPEG bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Random 8-bit grayscale pixels: they compress badly, so truncation hits pixel data."""
    return np.random.default_rng(seed).integers(0, 256, size=(height, width), dtype=np.uint8)


def gray_png(height: int = 16, width: int = 16, seed: int = 0) -> bytes:
    return png_bytes(Image.fromarray(noise(height, width, seed), mode="L"))


def gray_jpeg(height: int = 32, width: int = 32, seed: int = 0) -> bytes:
    return jpeg_bytes(Image.fromarray(noise(height, width, seed), mode="L"), quality=95)


def crafted_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height 1-bit pixels, with a tiny (short) IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def dicom_bytes(
    pixels: np.ndarray | None,
    bits_stored: int = 16,
    photometric: str = "MONOCHROME2",
    signed: bool = False,
) -> bytes:
    """A DICOM Part 10 file (Explicit VR Little Endian) holding 16-bit pixels, or none."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.PatientID = "anon"
    if pixels is not None:
        ds.Rows, ds.Columns = (int(n) for n in pixels.shape)
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = 16
        ds.BitsStored = bits_stored
        ds.HighBit = bits_stored - 1
        ds.PixelRepresentation = 1 if signed else 0
        ds.PixelData = pixels.astype("<i2" if signed else "<u2").tobytes()
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def ramp(height: int, width: int, top: int) -> np.ndarray:
    """A 16-bit ramp from 0 (first pixel) to `top` (last pixel)."""
    values = np.linspace(0, top, height * width).round().astype(np.uint16)
    return values.reshape(height, width)


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nnewpath 0 0 moveto showpage\n%%EOF\n"
XLSX = b"PK\x03\x04\x14\x00\x06\x00\x08\x00" + b"\x00" * 20 + b"[Content_Types].xml" + b"\x00" * 64
XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def _with(**files: object) -> Callable[[Path], Path]:
    """A builder that writes a cohort with these files (the default clinical.csv unless given)."""

    def build(tmp: Path) -> Path:
        return write_cohort(tmp, **files)  # type: ignore[arg-type]

    return build


def _with_images(images: dict[str, bytes], clinical: str = CLINICAL) -> Callable[[Path], Path]:
    return _with(clinical=clinical, images=images)


def _clinical(text: str | bytes) -> Callable[[Path], Path]:
    return _with(clinical=text)


# -- bad cases ---------------------------------------------------------------------------------
def _missing_folder(tmp: Path) -> Path:
    return tmp / "no_such_cohort"


def _path_is_file(tmp: Path) -> Path:
    path = tmp / "cohort.csv"
    path.write_text(CLINICAL, encoding="utf-8")
    return path


def _no_clinical(tmp: Path) -> Path:
    return write_cohort(tmp, clinical=None, notes=NOTES)


def _images_is_file(tmp: Path) -> Path:
    folder = write_cohort(tmp)
    (folder / "images").write_bytes(gray_png())
    return folder


def _two_images(tmp: Path) -> Path:
    return write_cohort(tmp, images={"p1.png": gray_png(), "p1.jpg": gray_jpeg()})


def _truncated_dicom_header(tmp: Path) -> Path:
    data = dicom_bytes(ramp(8, 8, 4095), bits_stored=12)
    return write_cohort(tmp, images={"p1.dcm": data[:200]})


def _truncated_dicom_pixels(tmp: Path) -> Path:
    data = dicom_bytes(ramp(32, 32, 4095), bits_stored=12)
    return write_cohort(tmp, images={"p1.dcm": data[:-700]})


def _utf16(text: str) -> bytes:
    return text.encode("utf-16")  # with its byte order mark


def _latin1_notes(tmp: Path) -> Path:
    notes = "patient_id,text\np1,fièvre et toux\n".encode("latin-1")
    return write_cohort(tmp, notes=notes)


BAD_CASES: list[Case] = [
    # the folder
    Case("missing_folder", "bad", _missing_folder, "no such folder", "cohort"),
    Case("path_is_a_file", "bad", _path_is_file, "not a folder", "cohort"),
    Case("no_clinical_csv", "bad", _no_clinical, "no clinical.csv", "cohort"),
    Case("images_is_a_file", "bad", _images_is_file, "not a folder", "cohort", "images", False),
    # clinical.csv: the file as a whole
    Case("clinical_empty_file", "bad", _clinical(b""), "empty", "clinical", "clinical.csv"),
    Case("clinical_blank_lines", "bad", _clinical("\n \n\n"), "empty", "clinical", "clinical.csv"),
    Case(
        "clinical_header_only",
        "bad",
        _clinical("patient_id,label,age\n"),
        "no rows",
        "clinical",
        "clinical.csv",
    ),
    Case("clinical_xlsx", "bad", _clinical(XLSX), "Excel", "clinical", "clinical.csv"),
    Case("clinical_old_xls", "bad", _clinical(XLS), "Excel", "clinical", "clinical.csv"),
    Case(
        "clinical_nul_bytes",
        "bad",
        _clinical(b"patient_id,age\np1,7\x00\x00\x01\x02\np2,5\n"),
        "binary",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_utf16",
        "bad",
        _clinical(_utf16(CLINICAL)),
        "UTF-16",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_latin1",
        "bad",
        _clinical("patient_id,label,city\np1,1,Orléans\n".encode("latin-1")),
        "UTF-8",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_semicolons",
        "bad",
        _clinical("patient_id;label;age\np1;1;70\n"),
        "semicolon",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_unclosed_quote",
        "bad",
        _clinical('patient_id,label,sex\np1,1,"F\np2,0,M\n'),
        "quote",
        "clinical",
        "clinical.csv",
    ),
    # clinical.csv: columns
    Case(
        "clinical_no_patient_id",
        "bad",
        _clinical("id,label,age\np1,1,70\n"),
        "no 'patient_id' column",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_patient_id_misspelt",
        "bad",
        _clinical("Patient ID,label,age\np1,1,70\n"),
        "rename",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_label_capitalised",
        "bad",
        _clinical("patient_id,Label,age\np1,1,70\n"),
        "'label'",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_duplicate_columns",
        "bad",
        _clinical("patient_id,label,age,age\np1,1,70,71\n"),
        "appears twice",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_unnamed_column",
        "bad",
        _clinical("patient_id,label,,age\np1,1,x,70\n"),
        "no name",
        "clinical",
        "clinical.csv",
    ),
    # clinical.csv: rows
    Case(
        "clinical_duplicate_ids",
        "bad",
        _clinical("patient_id,label,age\np1,1,70\np2,0,50\np1,0,60\n"),
        "more than once",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_empty_id",
        "bad",
        _clinical("patient_id,label,age\np1,1,70\n ,0,50\n"),
        "empty patient_id",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_id_with_slash",
        "bad",
        _clinical("patient_id,label,age\nward3/p1,1,70\n"),
        "file name",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_ragged_first_row",
        "bad",
        _clinical("patient_id,label,age\np1,1,70,F\np2,0,55\n"),
        "row 2 has 4 cells",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_ragged_later_row",
        "bad",
        _clinical("patient_id,label,age\np1,1,70\np2,0,55\np3,1,80,extra\n"),
        "row 4 has 4 cells",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_ragged_after_blank_rows",
        "bad",
        _clinical("\n\npatient_id,label,age\np1,1,70\n\np2,0,55,9\n"),
        "row 6 has 4 cells",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_inf",
        "bad",
        _clinical("patient_id,label,lactate\np1,1,2.1\np2,0,inf\n"),
        "infinite",
        "clinical",
        "clinical.csv",
    ),
    # clinical.csv: labels
    *(
        Case(
            f"clinical_label_{slug}",
            "bad",
            _clinical(f"patient_id,label,age\np1,1,70\np2,{value},55\n"),
            "0 or 1",
            "clinical",
            "clinical.csv",
        )
        for slug, value in (("2", "2"), ("yes", "yes"), ("minus_1", "-1"), ("half", "0.5"))
    ),
    Case(
        "clinical_label_partly_empty",
        "bad",
        _clinical("patient_id,label,age\np1,1,70\np2,,55\np3,0,61\n"),
        "row 3 has no label",
        "clinical",
        "clinical.csv",
    ),
    # notes.csv
    Case("notes_latin1", "bad", _latin1_notes, "UTF-8", "notes", "notes.csv"),
    Case(
        "notes_no_text_column",
        "bad",
        _with(notes="patient_id,note\np1,cough\n"),
        "no 'text' column",
        "notes",
        "notes.csv",
    ),
    Case(
        "notes_unknown_id",
        "bad",
        _with(notes="patient_id,text\np1,cough\nzz9,fever\n"),
        "'zz9' is not in clinical.csv",
        "notes",
        "notes.csv",
    ),
    Case(
        "notes_duplicate_id",
        "bad",
        _with(notes="patient_id,text\np1,cough\np1,fever\n"),
        "more than once",
        "notes",
        "notes.csv",
    ),
    Case("notes_empty_file", "bad", _with(notes=b""), "empty", "notes", "notes.csv"),
    # rnaseq.csv
    Case(
        "rnaseq_unknown_id",
        "bad",
        _with(rnaseq="patient_id,G1,G2\np1,1,2\nzz9,3,4\n"),
        "'zz9' is not in clinical.csv",
        "rnaseq",
        "rnaseq.csv",
    ),
    Case(
        "rnaseq_negative",
        "bad",
        _with(rnaseq="patient_id,G1,G2\np1,1,2\np2,3,-4\n"),
        "negative",
        "rnaseq",
        "rnaseq.csv",
    ),
    Case(
        "rnaseq_text_count",
        "bad",
        _with(rnaseq="patient_id,G1,G2\np1,1,two\np2,3,4\n"),
        "'two'",
        "rnaseq",
        "rnaseq.csv",
    ),
    Case(
        "rnaseq_inf",
        "bad",
        _with(rnaseq="patient_id,G1,G2\np1,1,2\np2,inf,4\n"),
        "finite",
        "rnaseq",
        "rnaseq.csv",
    ),
    Case(
        "rnaseq_nan",
        "bad",
        _with(rnaseq="patient_id,G1,G2\np1,1,NaN\np2,3,4\n"),
        "not a number",
        "rnaseq",
        "rnaseq.csv",
    ),
    Case(
        "rnaseq_empty_cell",
        "bad",
        _with(rnaseq="patient_id,G1,G2\np1,1,\np2,3,4\n"),
        "empty",
        "rnaseq",
        "rnaseq.csv",
    ),
    Case(
        "rnaseq_no_genes",
        "bad",
        _with(rnaseq="patient_id\np1\np2\n"),
        "no gene columns",
        "rnaseq",
        "rnaseq.csv",
    ),
    Case(
        "rnaseq_duplicate_gene",
        "bad",
        _with(rnaseq="patient_id,G1,G1\np1,1,2\n"),
        "appears twice",
        "rnaseq",
        "rnaseq.csv",
    ),
    # images
    Case(
        "image_unknown_id",
        "bad",
        _with_images({"zz9.png": gray_png()}),
        "'zz9' is not in clinical.csv",
        "image",
        "images/zz9.png",
        False,
    ),
    Case(
        "image_truncated_png",
        "bad",
        _with_images({"p1.png": gray_png(64, 64)[:2000]}),
        "truncated",
        "image",
        "images/p1.png",
    ),
    Case(
        "image_truncated_jpeg",
        "bad",
        _with_images({"p1.jpg": gray_jpeg(64, 64)[:1500]}),
        "truncated",
        "image",
        "images/p1.jpg",
    ),
    Case(
        "image_empty_file",
        "bad",
        _with_images({"p1.png": b""}),
        "empty",
        "image",
        "images/p1.png",
    ),
    Case(
        "image_text_named_png",
        "bad",
        _with_images({"p1.png": b"chest x-ray: see report\n"}),
        "not a PNG, JPEG or DICOM",
        "image",
        "images/p1.png",
    ),
    Case(
        "image_eps_named_png",
        "bad",
        _with_images({"p1.png": EPS}),
        "PostScript",
        "image",
        "images/p1.png",
    ),
    Case(
        "image_gif_named_png",
        "bad",
        _with_images({"p1.png": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"}),
        "GIF",
        "image",
        "images/p1.png",
    ),
    Case(
        "image_bomb_30000",
        "bad",
        _with_images({"p1.png": crafted_png(30_000, 30_000)}),
        "decompression bomb",
        "image",
        "images/p1.png",
    ),
    Case(
        "image_bomb_8000",
        "bad",
        _with_images({"p1.png": crafted_png(8_000, 8_000)}),
        "decompression bomb",
        "image",
        "images/p1.png",
    ),
    Case(
        "dicom_no_pixel_data",
        "bad",
        _with_images({"p1.dcm": dicom_bytes(None)}),
        "no pixel data",
        "image",
        "images/p1.dcm",
    ),
    Case(
        "dicom_truncated_header",
        "bad",
        _truncated_dicom_header,
        "truncated",
        "image",
        "images/p1.dcm",
    ),
    Case(
        "dicom_truncated_pixels",
        "bad",
        _truncated_dicom_pixels,
        "truncated",
        "image",
        "images/p1.dcm",
    ),
    Case(
        "image_bmp_extension",
        "bad",
        _with_images({"p1.bmp": b"BM" + b"\x00" * 60}),
        "unsupported extension",
        "image",
        "images/p1.bmp",
        False,
    ),
    Case(
        "image_no_extension",
        "bad",
        _with_images({"p1": gray_png()}),
        "unsupported extension",
        "image",
        "images/p1",
        False,
    ),
    Case("image_two_for_one", "bad", _two_images, "two images", "image", "images/p1.png", False),
]


# -- odd but valid cases: each check gets the loaded Cohort --------------------------------------
def _image(cohort, pid: str = "p1") -> np.ndarray:
    image = cohort.images[pid]
    assert image.dtype == np.float32 and image.ndim == 2
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    return image


def _check_rgb(cohort) -> None:
    image = _image(cohort)
    assert image.shape == (8, 12)
    # ITU-R 601 luma: pure red 0.299, pure green 0.587, pure blue 0.114
    assert abs(float(image[0, 0]) - 0.299) < 0.01
    assert abs(float(image[0, 4]) - 0.587) < 0.01
    assert abs(float(image[0, 8]) - 0.114) < 0.01


def _rgb_bands() -> Image.Image:
    pixels = np.zeros((8, 12, 3), dtype=np.uint8)
    pixels[:, 0:4, 0] = pixels[:, 4:8, 1] = pixels[:, 8:12, 2] = 255
    return Image.fromarray(pixels, mode="RGB")


def _check_rgba(cohort) -> None:
    image = _image(cohort)
    assert image.shape == (10, 10)
    assert abs(float(image.mean()) - 0.5) < 0.01  # gray 128 whatever the alpha


def _rgba() -> Image.Image:
    pixels = np.full((10, 10, 4), 128, dtype=np.uint8)
    pixels[..., 3] = np.linspace(0, 255, 10, dtype=np.uint8)
    return Image.fromarray(pixels, mode="RGBA")


def _check_palette(cohort) -> None:
    image = _image(cohort)
    assert image.shape == (6, 6)
    assert abs(float(image[0, 0]) - 1.0) < 0.01 and float(image[5, 5]) < 0.01


def _palette() -> Image.Image:
    pixels = np.zeros((6, 6), dtype=np.uint8)
    pixels[:3] = 1
    image = Image.fromarray(pixels, mode="P")
    image.putpalette([0, 0, 0, 255, 255, 255] + [0, 0, 0] * 254)
    return image


def _check_16bit(cohort) -> None:
    image = _image(cohort)
    assert image.shape == (32, 32)
    assert float(image.max()) > 0.999 and float(image.min()) == 0.0
    assert len(np.unique(image)) > 256  # the 16-bit depth survives


def _check_cmyk(cohort) -> None:
    image = _image(cohort)
    assert image.shape == (16, 16)
    assert float(image[:, :8].mean()) > 0.95  # CMYK (0, 0, 0, 0) is white
    assert float(image[:, 8:].mean()) < 0.05  # full black ink


def _cmyk() -> Image.Image:
    image = Image.new("CMYK", (16, 16), (0, 0, 0, 0))
    image.paste((0, 0, 0, 255), (8, 0, 16, 16))
    return image


def _check_large(cohort) -> None:
    assert _image(cohort).shape == (3000, 3000)


def _check_tiny(cohort) -> None:
    assert _image(cohort).shape == (5, 8)


def _check_dicom_top(cohort) -> None:
    image = _image(cohort)
    assert image.shape == (16, 16)
    assert float(image.flat[0]) == 0.0 and float(image.flat[-1]) > 0.999


def _check_dicom_12bit_half(cohort) -> None:
    image = _image(cohort)
    assert abs(float(image.max()) - 2047 / 4095) < 1e-3  # scaled by the stored depth, not max


def _check_monochrome1(cohort) -> None:
    image = _image(cohort)
    assert float(image.flat[0]) > 0.999 and float(image.flat[-1]) < 1e-3  # 0 is white


def _check_signed_dicom(cohort) -> None:
    image = _image(cohort)
    assert float(image.min()) == 0.0 and float(image.max()) == 1.0


def _signed_ct() -> np.ndarray:
    return np.linspace(-1000, 1000, 64).round().astype(np.int16).reshape(8, 8)


def _check_exif_rotated(cohort) -> None:
    assert _image(cohort).shape == (12, 6)  # stored 12 wide, 6 high, with "rotate 90"


def _exif_rotated_jpeg() -> bytes:
    image = Image.fromarray(noise(6, 12), mode="L")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    return jpeg_bytes(image, exif=exif.tobytes())


def _check_default(cohort) -> None:
    assert cohort.ids == list(IDS)
    assert cohort.features == ["age", "sex"]
    assert cohort.labels is not None and cohort.labels.tolist() == [1, 0, 1, 0]
    assert cohort.clinical["age"].dtype == np.float64
    assert np.isnan(cohort.clinical.loc["p3", "age"])
    assert cohort.clinical.loc["p1", "sex"] == "F"
    assert cohort.clinical["sex"].isna().tolist() == [False, False, False, True]


def _check_no_notes(cohort) -> None:
    _check_default(cohort)
    assert cohort.notes == {} and cohort.rnaseq is None and cohort.images == {}
    assert cohort.present_matrix()[:, 1:].sum() == 0


def _check_empty_cells(cohort) -> None:
    assert cohort.ids == ["p1", "p2", "p3"]
    assert cohort.clinical["hr"].isna().tolist() == [False, True, True]
    assert cohort.clinical["sex"].isna().tolist() == [True, False, True]
    assert cohort.present_matrix()[:, 0].tolist() == [True, True, False]  # p3 has no record


def _check_na_cells(cohort) -> None:
    assert cohort.clinical["hr"].dtype == np.float64
    assert cohort.clinical["hr"].isna().tolist() == [False, True, True, True]


def _check_categorical(cohort) -> None:
    column = cohort.clinical["smoker"]
    assert not pd.api.types.is_numeric_dtype(column.dtype)
    assert column.tolist()[:3] == ["never", "former", "current"]
    assert column.isna().tolist() == [False, False, False, True]


def _check_no_label(cohort) -> None:
    assert cohort.labels is None
    assert cohort.features == ["age", "sex"]


def _check_ids_only(cohort) -> None:
    assert cohort.labels is None and cohort.features == []
    assert not cohort.present_matrix()[:, 0].any()


def _check_shuffled(cohort) -> None:
    assert cohort.features == ["sex", "age"]
    assert cohort.labels.tolist() == [1, 0]
    assert cohort.clinical.loc["p2", "age"] == 55.0


def _check_quoted_notes(cohort) -> None:
    assert cohort.notes["p1"] == 'BP 120/80, HR 90; "stable",\nplan: discharge'
    assert cohort.notes["p2"] == "line one\r\nline two, ok"


def _check_html_note(cohort) -> None:
    assert cohort.notes["p1"] == '<script>alert("x")</script><b>bold</b> &amp;'


def _check_big_note(cohort) -> None:
    assert len(cohort.notes["p1"]) == 5_000_000


def _check_unicode_note(cohort) -> None:
    assert cohort.notes["p1"] == "fièvre 发烧 🤒 – ‘quoted’"


def _check_whitespace_ids(cohort) -> None:
    assert cohort.ids == ["p1", "p2"]
    assert set(cohort.notes) == {"p1"} and set(cohort.images) == {"p2"}
    assert cohort.rnaseq.index.tolist() == ["p1"]


def _check_leading_zero_ids(cohort) -> None:
    assert cohort.ids == ["007", "010"]
    assert set(cohort.images) == {"007"}


def _check_float_labels(cohort) -> None:
    assert cohort.labels.tolist() == [1, 0]


def _check_trailing_blank_rows(cohort) -> None:
    assert cohort.ids == ["p1", "p2"]
    assert cohort.features == ["age"] and cohort.labels.tolist() == [1, 0]


def _check_rnaseq_floats(cohort) -> None:
    assert cohort.genes == ["G1", "G2"]
    assert cohort.rnaseq.loc["p1"].tolist() == [1.5, 1e9]
    assert cohort.rnaseq.dtypes.tolist() == [np.float64, np.float64]


def _check_one_image(cohort) -> None:
    assert set(cohort.images) == {"p1"}


BIG_NOTE = ("word " * 999_999 + "word.").encode("utf-8")  # 5,000,000 characters
ZERO_3000 = png_bytes(Image.new("L", (3000, 3000), 0))

ODD_CASES: list[Case] = [
    # images
    Case(
        "image_rgb",
        "odd",
        _with_images({"p1.png": png_bytes(_rgb_bands())}),
        None,
        "image",
        "images/p1.png",
        check=_check_rgb,
    ),
    Case(
        "image_rgba",
        "odd",
        _with_images({"p1.png": png_bytes(_rgba())}),
        None,
        "image",
        "images/p1.png",
        check=_check_rgba,
    ),
    Case(
        "image_palette",
        "odd",
        _with_images({"p1.png": png_bytes(_palette())}),
        None,
        "image",
        "images/p1.png",
        check=_check_palette,
    ),
    Case(
        "image_16bit_png",
        "odd",
        _with_images({"p1.png": png_bytes(Image.fromarray(ramp(32, 32, 65535)))}),
        None,
        "image",
        "images/p1.png",
        check=_check_16bit,
    ),
    Case(
        "image_cmyk_jpeg",
        "odd",
        _with_images({"p1.jpg": jpeg_bytes(_cmyk(), quality=95)}),
        None,
        "image",
        "images/p1.jpg",
        check=_check_cmyk,
    ),
    Case(
        "image_large_3000",
        "odd",
        _with_images({"p1.png": ZERO_3000}),
        None,
        "image",
        "images/p1.png",
        check=_check_large,
    ),
    Case(
        "image_tiny_8x5",
        "odd",
        _with_images({"p1.png": png_bytes(Image.new("L", (8, 5)))}),
        None,
        "image",
        "images/p1.png",
        check=_check_tiny,
    ),
    Case(
        "image_bilevel",
        "odd",
        _with_images({"p1.png": png_bytes(Image.new("1", (8, 5), 1))}),
        None,
        "image",
        "images/p1.png",
        check=_check_tiny,
    ),
    Case(
        "image_gray_alpha",
        "odd",
        _with_images({"p1.png": png_bytes(Image.new("LA", (8, 5), (200, 0)))}),
        None,
        "image",
        "images/p1.png",
        check=_check_tiny,
    ),
    Case(
        "image_jpeg_named_png",
        "odd",
        _with_images({"p1.png": gray_jpeg(5, 8)}),
        None,
        "image",
        "images/p1.png",
        check=_check_tiny,
    ),
    Case(
        "image_upper_case_extension",
        "odd",
        _with_images({"p1.JPEG": gray_jpeg(5, 8)}),
        None,
        "image",
        "images/p1.JPEG",
        check=_check_tiny,
    ),
    Case(
        "image_exif_rotated_jpeg",
        "odd",
        _with_images({"p1.jpg": _exif_rotated_jpeg()}),
        None,
        "image",
        "images/p1.jpg",
        check=_check_exif_rotated,
    ),
    Case(
        "image_hidden_files_ignored",
        "odd",
        _with_images({"p1.png": gray_png(), ".DS_Store": b"\x00\x00\x00\x01Bud1"}),
        None,
        "image",
        "images/p1.png",
        check=_check_one_image,
    ),
    Case(
        "dicom_12bit",
        "odd",
        _with_images({"p1.dcm": dicom_bytes(ramp(16, 16, 4095), bits_stored=12)}),
        None,
        "image",
        "images/p1.dcm",
        check=_check_dicom_top,
    ),
    Case(
        "dicom_12bit_half_range",
        "odd",
        _with_images({"p1.dcm": dicom_bytes(ramp(16, 16, 2047), bits_stored=12)}),
        None,
        "image",
        "images/p1.dcm",
        check=_check_dicom_12bit_half,
    ),
    Case(
        "dicom_16bit",
        "odd",
        _with_images({"p1.dcm": dicom_bytes(ramp(16, 16, 65535), bits_stored=16)}),
        None,
        "image",
        "images/p1.dcm",
        check=_check_dicom_top,
    ),
    Case(
        "dicom_monochrome1",
        "odd",
        _with_images({"p1.dcm": dicom_bytes(ramp(16, 16, 4095), 12, "MONOCHROME1")}),
        None,
        "image",
        "images/p1.dcm",
        check=_check_monochrome1,
    ),
    Case(
        "dicom_signed_ct",
        "odd",
        _with_images({"p1.dcm": dicom_bytes(_signed_ct(), 16, signed=True)}),
        None,
        "image",
        "images/p1.dcm",
        check=_check_signed_dicom,
    ),
    # clinical.csv
    Case(
        "clinical_plain",
        "odd",
        _clinical(CLINICAL),
        None,
        "clinical",
        "clinical.csv",
        check=_check_default,
    ),
    Case(
        "clinical_utf8_bom",
        "odd",
        _clinical(b"\xef\xbb\xbf" + CLINICAL.encode()),
        None,
        "clinical",
        "clinical.csv",
        check=_check_default,
    ),
    Case(
        "clinical_crlf",
        "odd",
        _clinical(CLINICAL.replace("\n", "\r\n")),
        None,
        "clinical",
        "clinical.csv",
        check=_check_default,
    ),
    Case(
        "clinical_no_final_newline",
        "odd",
        _clinical(CLINICAL.rstrip("\n")),
        None,
        "clinical",
        "clinical.csv",
        check=_check_default,
    ),
    Case(
        "clinical_spaces_around_cells",
        "odd",
        _clinical(CLINICAL.replace(",", " , ").replace("\n", " \n")),
        None,
        "clinical",
        "clinical.csv",
        check=_check_default,
    ),
    Case(
        "clinical_empty_cells",
        "odd",
        _clinical("patient_id,label,hr,sex\np1,1,80,\np2,0,,M\np3,1,,\n"),
        None,
        "clinical",
        "clinical.csv",
        check=_check_empty_cells,
    ),
    Case(
        "clinical_na_cells",
        "odd",
        _clinical("patient_id,hr\np1,80\np2,NA\np3,n/a\np4,NaN\n"),
        None,
        "clinical",
        "clinical.csv",
        check=_check_na_cells,
    ),
    Case(
        "clinical_categorical",
        "odd",
        _clinical("patient_id,smoker,age\np1,never,1\np2,former,2\np3,current,3\np4,,4\n"),
        None,
        "clinical",
        "clinical.csv",
        check=_check_categorical,
    ),
    Case(
        "clinical_no_label_column",
        "odd",
        _clinical("patient_id,age,sex\np1,70,F\np2,55,M\np3,,F\np4,61,\n"),
        None,
        "clinical",
        "clinical.csv",
        check=_check_no_label,
    ),
    Case(
        "clinical_ids_only",
        "odd",
        _clinical("patient_id\np1\np2\n"),
        None,
        "clinical",
        "clinical.csv",
        check=_check_ids_only,
    ),
    Case(
        "clinical_label_last",
        "odd",
        _clinical("sex,age,patient_id,label\nF,70,p1,1\nM,55,p2,0\n"),
        None,
        "clinical",
        "clinical.csv",
        check=_check_shuffled,
    ),
    Case(
        "clinical_float_labels",
        "odd",
        _clinical("patient_id,label\np1,1.0\np2,0.0\n"),
        None,
        "clinical",
        "clinical.csv",
        check=_check_float_labels,
    ),
    Case(
        "clinical_trailing_empty_rows",
        "odd",
        _clinical("patient_id,label,age\np1,1,70\n\np2,0,55\n,,\n , ,\n"),
        None,
        "clinical",
        "clinical.csv",
        check=_check_trailing_blank_rows,
    ),
    Case(
        "clinical_leading_blank_rows",
        "odd",
        _clinical("\n,,\npatient_id,label,age\np1,1,70\np2,0,55\n"),
        None,
        "clinical",
        "clinical.csv",
        check=_check_trailing_blank_rows,
    ),
    Case(
        "clinical_trailing_commas",
        "odd",
        _clinical("patient_id,label,age,,\np1,1,70,,\np2,0,55,,\n"),
        None,
        "clinical",
        "clinical.csv",
        check=_check_trailing_blank_rows,
    ),
    Case(
        "clinical_leading_zero_ids",
        "odd",
        _with_images({"007.png": gray_png()}, clinical="patient_id,age\n007,1\n010,2\n"),
        None,
        "clinical",
        "clinical.csv",
        check=_check_leading_zero_ids,
    ),
    Case(
        "ids_with_whitespace",
        "odd",
        _with(
            clinical="patient_id,age\n p1 ,1\np2\t,2\n",
            notes="patient_id,text\n p1,hi\n",
            rnaseq="patient_id,G1\np1 ,3\n",
            images={"p2.png": gray_png()},
        ),
        None,
        "clinical",
        "clinical.csv",
        check=_check_whitespace_ids,
    ),
    # notes.csv
    Case("no_notes_csv", "odd", _with(), None, "notes", None, check=_check_no_notes),
    Case(
        "notes_quoted_commas_newlines",
        "odd",
        _with(
            notes='patient_id,text\np1,"BP 120/80, HR 90; ""stable"",\nplan: discharge"\n'
            'p2,"line one\r\nline two, ok"\n'
        ),
        None,
        "notes",
        "notes.csv",
        check=_check_quoted_notes,
    ),
    Case(
        "notes_html_script",
        "odd",
        _with(notes='patient_id,text\np1,"<script>alert(""x"")</script><b>bold</b> &amp;"\n'),
        None,
        "notes",
        "notes.csv",
        check=_check_html_note,
    ),
    Case(
        "notes_5mb",
        "odd",
        _with(notes=b"patient_id,text\np1," + BIG_NOTE + b"\n"),
        None,
        "notes",
        "notes.csv",
        check=_check_big_note,
    ),
    Case(
        "notes_unicode",
        "odd",
        _with(notes="patient_id,text\np1,fièvre 发烧 🤒 – ‘quoted’\n"),
        None,
        "notes",
        "notes.csv",
        check=_check_unicode_note,
    ),
    # rnaseq.csv
    Case(
        "rnaseq_float_and_large_counts",
        "odd",
        _with(rnaseq="patient_id,G1,G2\np1,1.5,1e9\np2,0,3\n"),
        None,
        "rnaseq",
        "rnaseq.csv",
        check=_check_rnaseq_floats,
    ),
]


# -- more cases (issue 7: hardening) ------------------------------------------------------------
def crafted_jpeg(width: int, height: int) -> bytes:
    """A JPEG whose SOF header claims width x height pixels, with no scan data."""
    sof = struct.pack(">BHHB", 8, height, width, 1) + bytes([1, 0x11, 0])
    return b"\xff\xd8\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9"


def crafted_dicom(rows: int, columns: int) -> bytes:
    """A small DICOM whose header claims rows x columns pixels."""
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(ramp(8, 8, 4095), bits_stored=12)))
    ds.Rows, ds.Columns = rows, columns
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _progressive_jpeg() -> bytes:
    return jpeg_bytes(Image.fromarray(noise(5, 8), mode="L"), quality=90, progressive=True)


def _palette_with_transparency() -> bytes:
    image = _palette()
    image.info["transparency"] = 0  # palette entry 0 (black) is transparent
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0)
    return buffer.getvalue()


def _check_notes_bom_crlf(cohort) -> None:
    assert cohort.notes == {"p1": "cough and fever", "p2": "no acute distress"}


def _check_notes_empty_text(cohort) -> None:
    assert set(cohort.notes) == {"p1"}
    assert cohort.present_matrix()[:, 1].tolist() == [True, False, False, False]


def _check_rnaseq_id_not_first(cohort) -> None:
    assert cohort.genes == ["G1", "G2"]
    assert cohort.rnaseq.loc["p2"].tolist() == [3.0, 7.0]


def _check_rnaseq_default(cohort) -> None:
    assert cohort.genes == ["GENE1", "GENE2", "GENE3"]
    assert cohort.rnaseq.loc["p1"].tolist() == [10.0, 0.0, 5.0]


def _check_palette_transparency(cohort) -> None:
    _check_palette(cohort)  # transparency is ignored: the gray levels are kept


BAD_CASES += [
    Case(
        "clinical_minus_inf",
        "bad",
        _clinical("patient_id,label,lactate\np1,1,-inf\np2,0,2.0\n"),
        "infinite",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_overflow_1e400",
        "bad",
        _clinical("patient_id,label,lactate\np1,1,2.0\np2,0,1e400\n"),
        "infinite",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_label_nan",
        "bad",
        _clinical("patient_id,label,age\np1,1,70\np2,NaN,55\n"),
        "0 or 1",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_duplicate_label_column",
        "bad",
        _clinical("patient_id,label,age,label\np1,1,70,0\n"),
        "appears twice",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_id_dot_dot",
        "bad",
        _clinical("patient_id,label,age\n..,1,70\np2,0,55\n"),
        "file name",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "clinical_id_too_long",
        "bad",
        _clinical("patient_id,label,age\n" + "p" * 200 + ",1,70\np2,0,55\n"),
        "file name",
        "clinical",
        "clinical.csv",
    ),
    Case(
        "notes_header_only",
        "bad",
        _with(notes="patient_id,text\n"),
        "no rows",
        "notes",
        "notes.csv",
    ),
    Case(
        "notes_utf16",
        "bad",
        _with(notes=_utf16(NOTES)),
        "UTF-16",
        "notes",
        "notes.csv",
    ),
    Case(
        "rnaseq_header_only",
        "bad",
        _with(rnaseq="patient_id,G1,G2\n"),
        "no rows",
        "rnaseq",
        "rnaseq.csv",
    ),
    Case("rnaseq_xlsx", "bad", _with(rnaseq=XLSX), "Excel", "rnaseq", "rnaseq.csv"),
    Case(
        "rnaseq_overflow_1e400",
        "bad",
        _with(rnaseq="patient_id,G1,G2\np1,1,2\np2,1e400,4\n"),
        "infinite",
        "rnaseq",
        "rnaseq.csv",
    ),
    Case(
        "rnaseq_ragged_row",
        "bad",
        _with(rnaseq="patient_id,G1,G2\np1,1,2\np2,3,4,5\n"),
        "row 3 has 4 cells",
        "rnaseq",
        "rnaseq.csv",
    ),
    Case(
        "image_jpeg_bomb",
        "bad",
        _with_images({"p1.jpg": crafted_jpeg(65_000, 65_000)}),
        "decompression bomb",
        "image",
        "images/p1.jpg",
    ),
    Case(
        "dicom_bomb_header",
        "bad",
        _with_images({"p1.dcm": crafted_dicom(60_000, 60_000)}),
        "decompression bomb",
        "image",
        "images/p1.dcm",
    ),
    Case(
        "image_binary_eps_named_png",
        "bad",
        _with_images({"p1.png": b"\xc5\xd0\xd3\xc6" + b"\x00" * 28 + EPS}),
        "PostScript",
        "image",
        "images/p1.png",
    ),
    Case(
        "image_pdf_named_jpg",
        "bad",
        _with_images({"p1.jpg": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"}),
        "PDF",
        "image",
        "images/p1.jpg",
    ),
    Case(
        "image_html_named_png",
        "bad",
        _with_images({"p1.png": b"<html><script>alert(1)</script></html>\n"}),
        "not a PNG, JPEG or DICOM",
        "image",
        "images/p1.png",
    ),
    Case(
        "image_zip_named_png",
        "bad",
        _with_images({"p1.png": XLSX}),
        "ZIP",
        "image",
        "images/p1.png",
    ),
    Case(
        "dicom_preamble_only",
        "bad",
        _with_images({"p1.dcm": b"\x00" * 128 + b"DICM"}),
        "DICOM",
        "image",
        "images/p1.dcm",
    ),
]

ODD_CASES += [
    Case(
        "clinical_bom_and_crlf",
        "odd",
        _clinical(b"\xef\xbb\xbf" + CLINICAL.replace("\n", "\r\n").encode()),
        None,
        "clinical",
        "clinical.csv",
        check=_check_default,
    ),
    Case(
        "clinical_quoted_header_and_cells",
        "odd",
        _clinical(
            '"patient_id","label","age","sex"\n"p1","1","70","F"\n"p2","0","55","M"\n'
            '"p3","1","","F"\n"p4","0","61",""\n'
        ),
        None,
        "clinical",
        "clinical.csv",
        check=_check_default,
    ),
    Case(
        "notes_bom_and_crlf",
        "odd",
        _with(notes=b"\xef\xbb\xbf" + NOTES.replace("\n", "\r\n").encode()),
        None,
        "notes",
        "notes.csv",
        check=_check_notes_bom_crlf,
    ),
    Case(
        "notes_empty_text_cells",
        "odd",
        _with(notes="patient_id,text\np1,cough\np2,\np3,   \n"),
        None,
        "notes",
        "notes.csv",
        check=_check_notes_empty_text,
    ),
    Case(
        "rnaseq_bom_and_crlf",
        "odd",
        _with(rnaseq=b"\xef\xbb\xbf" + RNASEQ.replace("\n", "\r\n").encode()),
        None,
        "rnaseq",
        "rnaseq.csv",
        check=_check_rnaseq_default,
    ),
    Case(
        "rnaseq_id_not_first_column",
        "odd",
        _with(rnaseq="G1,patient_id,G2\n10,p1,0\n3,p2,7\n"),
        None,
        "rnaseq",
        "rnaseq.csv",
        check=_check_rnaseq_id_not_first,
    ),
    Case(
        "image_progressive_jpeg",
        "odd",
        _with_images({"p1.jpg": _progressive_jpeg()}),
        None,
        "image",
        "images/p1.jpg",
        check=_check_tiny,
    ),
    Case(
        "image_palette_transparency",
        "odd",
        _with_images({"p1.png": _palette_with_transparency()}),
        None,
        "image",
        "images/p1.png",
        check=_check_palette_transparency,
    ),
]

# Cases that show a problem still open (see docs/hardening.md, "fixes needed elsewhere"): kept
# out of BAD_CASES until the fix lands, and run as strict xfails by tests/test_cli_inputs.py,
# so the day the fix lands they fail loudly and move into BAD_CASES.
PENDING_CASES: list[Case] = [
    Case(
        "rnaseq_absurd_count_1e308",
        "bad",
        _with(rnaseq="patient_id,G1,G2\np1,1.7e308,1.7e308\np2,3,4\n"),
        "read count",
        "rnaseq",
        "rnaseq.csv",
    ),
]


CASES: list[Case] = BAD_CASES + ODD_CASES


def load_target(case: Case, folder: Path) -> object:
    """Parse the case's one file on its own, as an upload would be, and return the result.

    clinical -> parse_clinical; notes / rnaseq -> parse_notes / parse_rnaseq with the ids of
    the folder's clinical.csv; image -> decode_image. Cohort-level cases have no one file.
    """
    from amff.data.images import decode_image
    from amff.modalities.rna_file import parse_rnaseq
    from amff.modalities.tabular import parse_clinical
    from amff.modalities.text import parse_notes

    if case.file is None or case.target == "cohort":
        raise ValueError(f"case {case.name!r} is about the folder, not one file")
    path = folder / case.file
    data = path.read_bytes()
    if case.target == "clinical":
        return parse_clinical(data, path.name)
    if case.target == "image":
        return decode_image(data, path.name)
    clinical, _ = parse_clinical((folder / "clinical.csv").read_bytes(), "clinical.csv")
    known = set(clinical.index)
    if case.target == "notes":
        return parse_notes(data, path.name, known)
    return parse_rnaseq(data, path.name, known)


__all__ = [
    "BAD_CASES",
    "CASES",
    "Case",
    "ODD_CASES",
    "PENDING_CASES",
    "load_target",
    "write_cohort",
]
