"""Decode medical images (PNG, JPEG, DICOM) by their content into grayscale float arrays."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from amff.errors import InputError

MAX_PIXELS = 50_000_000  # larger images are refused as possible decompression bombs
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".dcm")


def sniff_format(data: bytes) -> str | None:
    """'png', 'jpeg' or 'dicom' from the file's first bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "dicom"
    return None


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Decode image bytes into a (H, W) float32 array in [0, 1].

    RGB, RGBA, palette, CMYK and 16-bit images are made grayscale; DICOM is scaled by its
    stored bit depth. `name` is used in error messages only.
    """
    kind = sniff_format(data)
    if kind is None:
        raise InputError(
            f"{name}: not a PNG, JPEG or DICOM file by its content; "
            "export the image as PNG, JPEG or DICOM"
        )
    if kind == "dicom":
        return _decode_dicom(data, name)
    return _decode_pillow(data, name, kind)


def _decode_pillow(data: bytes, name: str, kind: str) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > MAX_PIXELS or width < 1 or height < 1:
                    raise InputError(
                        f"{name}: {width}x{height} pixels is too large (limit {MAX_PIXELS:,} "
                        "pixels, a guard against decompression bombs); downscale the image"
                    )
                img.load()
                array = _pillow_to_gray(img)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"{name}: the image claims too many pixels (a possible decompression bomb); "
            "downscale the image"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(
            f"{name}: the {kind.upper()} file cannot be decoded ({_short(exc)}); "
            "it may be truncated or damaged: export it again"
        ) from None
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name}: the image has non-finite pixel values; export it again")
    return array


def _pillow_to_gray(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(img, dtype=np.float64)
        top = 65535.0 if array.max(initial=0) <= 65535 else float(array.max())
        return np.clip(array / top, 0.0, 1.0).astype(np.float32)
    if mode == "F":
        array = np.asarray(img, dtype=np.float64)
        lo, hi = float(np.nanmin(array)), float(np.nanmax(array))
        return ((array - lo) / (hi - lo) if hi > lo else np.zeros_like(array)).astype(np.float32)
    if mode == "CMYK":
        img = img.convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA").convert("RGB")
    gray = img.convert("L")
    return np.asarray(gray, dtype=np.float32) / 255.0


def _decode_dicom(data: bytes, name: str) -> np.ndarray:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{name}: the DICOM file cannot be read ({_short(exc)}); it may be truncated: "
            "export it again"
        ) from None
    if "PixelData" not in ds:
        raise InputError(
            f"{name}: the DICOM file has no pixel data (a report or structured document?); "
            "give a DICOM image"
        )
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError):
        raise InputError(f"{name}: the DICOM file lacks Rows/Columns; export it again") from None
    if rows * cols > MAX_PIXELS:
        raise InputError(
            f"{name}: {cols}x{rows} pixels is too large (limit {MAX_PIXELS:,}); downscale it"
        )
    try:
        pixels = np.asarray(ds.pixel_array, dtype=np.float64)
    except Exception as exc:  # pydicom raises many kinds for damaged or compressed pixel data
        raise InputError(
            f"{name}: the DICOM pixel data cannot be decoded ({_short(exc)}); "
            "export it uncompressed (Explicit VR Little Endian)"
        ) from None
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):  # colour DICOM
        pixels = pixels[..., :3].mean(axis=-1)
    elif pixels.ndim == 3:  # multi-frame: the first frame
        pixels = pixels[0]
    if pixels.ndim != 2:
        raise InputError(f"{name}: the DICOM image has shape {pixels.shape}; give a 2-D image")
    bits = int(getattr(ds, "BitsStored", 0) or 0)
    signed = int(getattr(ds, "PixelRepresentation", 0) or 0) == 1
    if bits and not signed and pixels.min() >= 0:
        array = pixels / float(2**bits - 1)
    else:
        lo, hi = float(pixels.min()), float(pixels.max())
        array = (pixels - lo) / (hi - lo) if hi > lo else np.zeros_like(pixels)
    if str(getattr(ds, "PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        array = 1.0 - array
    return np.clip(array, 0.0, 1.0).astype(np.float32)


def encode_png(image: np.ndarray) -> bytes:
    """A (H, W) float image in [0, 1] as 8-bit grayscale PNG bytes (deterministic)."""
    pixels = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]
