"""The medical image: images/<patient_id>.png|.jpg|.jpeg|.dcm, grayscale resized to a square
and normalised, a ResNet-18 encoder."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from PIL import Image

from amff.data.images import IMAGE_EXTENSIONS, decode_image, encode_png
from amff.data.tables import read_bytes
from amff.errors import InputError
from amff.modalities.spec import NOT_FINITE, ModalitySpec

if TYPE_CHECKING:
    from torch import Tensor, nn

    from amff.config import ModelConfig
    from amff.data.cohort import Cohort, Patient


# files that file managers drop into folders; never images
_JUNK_FILES = {"thumbs.db", "desktop.ini"}


def _image_files(folder: Path, known: set[str]) -> dict[str, Path]:
    """<patient_id> -> image file, checked: supported extension, known patient, one each."""
    files: dict[str, Path] = {}
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise InputError(
            f"{folder}: cannot be listed ({exc.strerror or exc}); check its permissions"
        ) from None
    for file in entries:
        if file.name.startswith(".") or file.name.lower() in _JUNK_FILES or file.is_dir():
            continue
        ext = file.suffix.lower()
        if ext not in IMAGE_EXTENSIONS:
            raise InputError(
                f"{file}: unsupported extension {file.suffix!r}; name images <patient_id> "
                f"plus one of {', '.join(IMAGE_EXTENSIONS)}"
            )
        pid = file.name[: -len(file.suffix)]
        if pid not in known:
            raise InputError(
                f"{file}: patient_id {pid!r} is not in clinical.csv; name the image after a "
                "patient_id or add the patient"
            )
        if pid in files:
            raise InputError(
                f"{file}: patient {pid!r} has two images ({files[pid].name} too); keep one"
            )
        files[pid] = file
    return files


def _decode_images(files: dict[str, Path]) -> dict[str, np.ndarray]:
    """Decode image files, on a few threads when there are many (Pillow and zlib release the
    GIL). The error reported is the first failing file in `files` order, as when serial."""

    def load(file: Path) -> np.ndarray:
        return decode_image(read_bytes(file), str(file))

    if len(files) < 64:
        return {pid: load(file) for pid, file in files.items()}
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        try:
            arrays = list(pool.map(load, files.values()))
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    return dict(zip(files, arrays))


@dataclass
class ImagePreprocessor:
    size: int = 64
    mean: float = 0.0
    sd: float = 1.0

    @classmethod
    def fit(cls, images: list[np.ndarray], size: int = 64) -> ImagePreprocessor:
        if not images:
            return cls(size)
        resized = np.stack([resize_image(img, size) for img in images])
        sd = float(resized.std())
        return cls(size, float(resized.mean()), sd if sd > 1e-6 else 1.0)

    def transform(self, images: list[np.ndarray | None]) -> np.ndarray:
        out = np.zeros((len(images), 1, self.size, self.size), dtype=np.float32)
        for i, img in enumerate(images):
            if img is not None:
                out[i, 0] = (resize_image(img, self.size) - self.mean) / self.sd
        return out

    # -- the ModalityPreprocessor protocol -------------------------------------------------
    def check_cohort(self, cohort: Cohort) -> None:
        return None

    def inputs(self, cohort: Cohort) -> tuple[np.ndarray]:
        return (self.transform([cohort.images.get(i) for i in cohort.ids]),)

    def usable(self) -> bool:
        return True

    def schema(self) -> dict[str, Any]:
        return {"image_size": self.size}

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__

    def problem(self) -> tuple[str, str] | None:
        numbers = np.array([self.mean, self.sd], dtype=np.float64)
        if not np.isfinite(numbers).all() or not self.sd > 0:
            return (
                "preprocess.json",
                NOT_FINITE,
            )
        size = self.size
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 4096:
            return (
                "preprocess.json",
                f"image size {str(size)[:20]!r} is not a whole number of pixels up to 4096",
            )
        return None


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """A (H, W) float image resized to (size, size) with bilinear filtering (float32)."""
    image = np.asarray(image, dtype=np.float32)
    if image.shape == (size, size):
        return image
    resized = Image.fromarray(image, mode="F").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32)


@dataclass
class _ImageFiles:
    """images/, listed and checked on opening; `load` decodes only the patients asked for."""

    files: dict[str, Path]

    def load(self, keep: set[str]) -> dict[str, np.ndarray]:
        return _decode_images({pid: f for pid, f in self.files.items() if pid in keep})


class ImageModality(ModalitySpec):
    name = "image"
    label = "medical image"
    files = "images/<patient_id>.png|.jpg|.jpeg|.dcm"
    attribution = "image"
    quality_signals = ("sharpness", "noise", "exposure")

    def open(self, folder: Path, known: set[str], stream: bool = False) -> _ImageFiles | None:
        images_dir = folder / "images"
        if images_dir.exists() and not images_dir.is_dir():
            raise InputError(
                f"{images_dir}: not a folder; images/ must be a folder of <patient_id>.png, "
                ".jpg, .jpeg or .dcm files"
            )
        if not images_dir.is_dir():
            return None
        return _ImageFiles(_image_files(images_dir, known))

    def write(self, data: dict[str, np.ndarray], folder: Path) -> None:
        if data:
            (folder / "images").mkdir()
            for pid, image in data.items():
                (folder / "images" / f"{pid}.png").write_bytes(encode_png(image))

    def data(self, cohort: Cohort) -> dict[str, np.ndarray]:
        return cohort.images

    def with_data(self, cohort: Cohort, data: Any) -> dict[str, Any]:
        return {"images": data or {}}

    def present(self, cohort: Cohort) -> np.ndarray:
        return np.array([i in cohort.images for i in cohort.clinical.index], dtype=bool)

    def patient_value(self, patient: Patient) -> np.ndarray | None:
        return patient.image

    def collect(self, patients: Any, **schema: Any) -> dict[str, np.ndarray]:
        return {str(p.patient_id): p.image for p in patients if p.image is not None}

    def fit(self, cohort: Cohort, **options: Any) -> ImagePreprocessor:
        return ImagePreprocessor.fit(list(cohort.images.values()), options.get("image_size", 64))

    def preprocessor_from_dict(
        self, data: dict[str, Any], files: dict[str, str]
    ) -> ImagePreprocessor:
        return ImagePreprocessor(**data)

    def build_encoder(self, config: ModelConfig, schema: dict[str, Any]) -> nn.Module:
        from amff.nn.encoders import ImageEncoder

        return ImageEncoder(width=config.image_width, dim=config.dim)

    def augment(self, inputs: tuple[Tensor, ...], flips: Tensor) -> tuple[Tensor, ...]:
        """Left-right flips of the patients in `flips` (a chest image's mirror is plausible)."""
        import torch

        (image,) = inputs  # (B, 1, S, S)
        return (torch.where(flips[:, None, None, None], image.flip(-1), image),)

    def quality(self, cohort: Cohort) -> pd.DataFrame:
        """sharpness: the variance of the Laplacian of Gaussian at 2 px (edges of structures;
        low = blurred); noise: the variance of the plain Laplacian (pixel-level noise);
        exposure: the mean intensity in [0, 1]."""
        from scipy import ndimage

        ids = [i for i, ok in zip(cohort.ids, self.present(cohort)) if ok]
        images = [np.asarray(cohort.images[i], dtype=np.float64) for i in ids]
        return pd.DataFrame(
            {
                "sharpness": [float(ndimage.gaussian_laplace(img, 2.0).var()) for img in images],
                "noise": [float(ndimage.laplace(img).var()) for img in images],
                "exposure": [float(img.mean()) for img in images],
            },
            index=pd.Index(ids, name="patient_id"),
        )
