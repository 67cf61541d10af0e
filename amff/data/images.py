"""Decode medical images (PNG, JPEG, DICOM) by their content into grayscale float arrays."""

from __future__ import annotations

import io
import struct
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps

from amff.errors import InputError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

MAX_PIXELS = 50_000_000  # larger images are refused as possible decompression bombs
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".dcm")

# formats that users send by mistake, named in the message: (magic bytes, offset, what it is)
_OTHER_FORMATS: tuple[tuple[bytes, int, str], ...] = (
    (b"%!PS", 0, "a PostScript (EPS) file"),
    (b"\xc5\xd0\xd3\xc6", 0, "a PostScript (EPS) file"),
    (b"%PDF", 0, "a PDF document"),
    (b"GIF87a", 0, "a GIF image"),
    (b"GIF89a", 0, "a GIF image"),
    (b"BM", 0, "a BMP image"),
    (b"II*\x00", 0, "a TIFF image"),
    (b"MM\x00*", 0, "a TIFF image"),
    (b"WEBP", 8, "a WebP image"),
    (b"ftypheic", 4, "a HEIC image"),
    (b"ftypmif1", 4, "a HEIF image"),
    (b"\x00\x00\x00\x0cjP  ", 0, "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", 0, "a JPEG 2000 image"),
    (b"PK\x03\x04", 0, "a ZIP archive"),
    (b"\x1f\x8b", 0, "a gzip archive"),
    (b"<svg", 0, "an SVG drawing"),
    (b"<?xml", 0, "an XML (perhaps SVG) file"),
)


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

    RGB, RGBA, palette, CMYK and 16-bit images are made grayscale (ITU-R 601 luma); a JPEG's
    EXIF orientation is applied; DICOM is scaled by its stored bit depth (MONOCHROME1 is
    inverted). `name` is used in error messages only; every failure is an InputError.
    """
    if not data:
        raise InputError(f"{name}: the file is empty (0 bytes); export the image again")
    kind = sniff_format(data)
    if kind is None:
        raise InputError(f"{name}: {_describe(data)}; export the image as PNG, JPEG or DICOM")
    if kind == "dicom":
        return _decode_dicom(data, name)
    return _decode_pillow(data, name, kind)


def _describe(data: bytes) -> str:
    """What a file that is not PNG, JPEG or DICOM seems to be, for the message."""
    head = data[:64].lstrip()
    for magic, offset, what in _OTHER_FORMATS:
        if data[offset : offset + len(magic)] == magic or head.startswith(magic):
            return f"this is {what}, not a PNG, JPEG or DICOM file"
    try:
        data[:4096].decode("utf-8")
        looks = " (it is text)"
    except UnicodeDecodeError as exc:
        looks = " (it is text)" if exc.start > 4090 else ""
    return f"not a PNG, JPEG or DICOM file by its content{looks}"


def _too_large(name: str, width: int, height: int) -> InputError:
    return InputError(
        f"{name}: {width}x{height} pixels is over the limit of {MAX_PIXELS:,} pixels (a guard "
        "against decompression bombs); downscale the image"
    )


def _header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) read from a PNG's IHDR or a JPEG's SOF marker, or None.

    Checked before Pillow opens the file, so an oversized image is refused without Pillow's
    DecompressionBombWarning (and without touching the process-wide warning filters, which
    are not thread-safe to change).
    """
    if kind == "png":
        if len(data) >= 24 and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
        elif marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            at += 2
        elif marker in _SOF_MARKERS:
            if at + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        else:
            at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    return None


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _decode_pillow(data: bytes, name: str, kind: str) -> np.ndarray:
    size = _header_size(data, kind)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise _too_large(name, *size)
    try:
        with Image.open(io.BytesIO(data), formats=[kind.upper()]) as img:
            width, height = img.size
            if width < 1 or height < 1:
                raise InputError(f"{name}: the image has no pixels; export it again")
            if width * height > MAX_PIXELS:
                raise _too_large(name, width, height)
            img.load()
            if kind == "jpeg" and img.getexif().get(0x0112, 1) != 1:  # show it upright
                img = ImageOps.exif_transpose(img)
            array = _pillow_to_gray(img)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"{name}: the image claims more pixels than the limit of {MAX_PIXELS:,} (a guard "
            "against decompression bombs); downscale the image"
        ) from None
    except Exception as exc:  # Pillow raises many kinds for damaged files
        raise InputError(
            f"{name}: the {kind.upper()} file cannot be decoded ({_short(exc)}); it may be "
            "truncated or damaged: export it again"
        ) from None
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name}: the image has non-finite pixel values; export it again")
    return array


def _pillow_to_gray(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        array = np.asarray(img).astype(np.float32)
        lo, hi = float(array.min(initial=0)), float(array.max(initial=0))
        if lo >= 0 and hi <= 65535:  # 16-bit data: scale by the depth, not by the maximum
            return array / np.float32(65535.0)
        return _stretch(array)
    if mode == "F":
        array = np.asarray(img, dtype=np.float32)
        if not np.all(np.isfinite(array)):
            return array  # refused by the caller
        return _stretch(array)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA").convert("RGB")  # alpha dropped: medical images are opaque
    elif mode not in ("L", "RGB", "1", "P"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, ...
    gray = img.convert("L")
    return np.asarray(gray, dtype=np.float32) / np.float32(255.0)


def _stretch(array: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1]; a constant image is all zeros."""
    lo, hi = float(array.min()), float(array.max())
    if hi <= lo:
        return np.zeros(array.shape, dtype=np.float32)
    return ((array - lo) / (hi - lo)).astype(np.float32)


def _decode_dicom(data: bytes, name: str) -> np.ndarray:
    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except Exception as exc:  # pydicom raises many kinds for damaged files
        raise InputError(
            f"{name}: the DICOM file cannot be read ({_short(exc)}); it may be truncated or "
            "damaged: export it again"
        ) from None
    try:
        return _dicom_pixels(ds, name)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"{name}: the DICOM pixel data cannot be decoded ({_short(exc)}); the file may be "
            "truncated, or compressed in a way that cannot be read here: export it again, "
            "uncompressed (Explicit VR Little Endian)"
        ) from None


def _dicom_pixels(ds: Dataset, name: str) -> np.ndarray:
    if "PixelData" not in ds:
        raise InputError(
            f"{name}: the DICOM file has no pixel data (truncated, or a report rather than an "
            "image?); give a complete DICOM image"
        )
    rows, cols = int(ds.Rows), int(ds.Columns)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if rows < 1 or cols < 1:
        raise InputError(f"{name}: the DICOM image has no pixels ({cols}x{rows}); export it again")
    if rows * cols > MAX_PIXELS or rows * cols * max(frames, 1) * max(samples, 1) > 4 * MAX_PIXELS:
        raise _too_large(name, cols, rows)
    if frames > 1:
        ds.pixel_array_options(index=0)  # decode the first frame only
    pixels = np.asarray(ds.pixel_array, dtype=np.float64)
    if samples > 1 and pixels.ndim == 3:  # colour: (H, W, samples) -> luma
        pixels = pixels[..., :3] @ np.array([0.299, 0.587, 0.114])[: pixels[..., :3].shape[-1]]
    if pixels.ndim != 2 or pixels.size == 0:
        raise InputError(
            f"{name}: the DICOM image has shape {pixels.shape}; give a 2-D grayscale image"
        )
    if not np.all(np.isfinite(pixels)):
        raise InputError(f"{name}: the DICOM image has non-finite pixel values; export it again")
    bits = int(ds.get("BitsStored", 0) or 0)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    if 1 <= bits <= 32 and not signed and pixels.min() >= 0:
        array = pixels / float(2**bits - 1)  # scale by the stored depth, not by the maximum
    else:
        array = _stretch(pixels)
    if str(ds.get("PhotometricInterpretation", "")).strip().upper() == "MONOCHROME1":
        array = 1.0 - array  # MONOCHROME1: the lowest value is white
    return np.clip(array, 0.0, 1.0).astype(np.float32)


def encode_png(image: np.ndarray) -> bytes:
    """A (H, W) float image in [0, 1] as 8-bit grayscale PNG bytes (deterministic)."""
    array = np.asarray(image, dtype=np.float64)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"encode_png needs a non-empty (H, W) image, not shape {array.shape}")
    pixels = np.clip(np.rint(np.nan_to_num(array) * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    return text if len(text) <= 100 else text[:97] + "..."
