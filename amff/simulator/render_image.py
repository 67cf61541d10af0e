"""The image: chest-like phantoms whose opacity, nodule and texture follow the image readings."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from scipy.special import expit

_LUNGS = ((-0.37, -0.02, 0.27, 0.62), (0.37, -0.02, 0.25, 0.58))  # cx, cy, half-width, half-height


def _soft_ellipse(
    x: np.ndarray, y: np.ndarray, cx: Any, cy: Any, ax: Any, ay: Any, sharp: float
) -> np.ndarray:
    d = np.sqrt(((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2)
    return expit((1.0 - d) * sharp)


def _lung(
    x: np.ndarray, y: np.ndarray, cx: float, cy: float, ax: float, ay: float, sharp: float
) -> np.ndarray:
    """A lung field: an ellipse that narrows towards the apex."""
    taper = 0.7 + 0.3 * np.clip((y - cy + ay) / (1.2 * ay), 0.0, 1.0)
    return _soft_ellipse(x, y, cx, cy, ax * taper, ay, sharp)


def _cos_sum(along_x: np.ndarray, along_y: np.ndarray) -> np.ndarray:
    """cos(along_x + along_y) for (B, 1, S) and (B, S, 1) terms, without a (B, S, S) cos."""
    return np.cos(along_x) * np.cos(along_y) - np.sin(along_x) * np.sin(along_y)


def nodule_radius(image_reading: np.ndarray, size: int) -> np.ndarray:
    """Nodule radius in pixels from the image reading of u_img (0: no nodule)."""
    return np.round(np.clip(1.8 * (image_reading + 1.2), 0.0, 8.0) * size / 64.0, 2)


def render_images(
    rng: np.random.Generator,
    severity: np.ndarray,
    lesion: np.ndarray,
    pattern: np.ndarray,
    poor: np.ndarray,
    size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Chest-like phantoms (B, S, S) uint8, and each nodule's row, column and radius (pixels).

    Lung fields are dark, mediastinum, spine and ribs bright; a diffuse lower-zone opacity
    follows severity, a bright nodule's radius follows lesion burden, and a cross-hatched
    reticular texture's amplitude follows the pattern factor. Poor quality is blurred and noisier.
    The steps draw from rng in a fixed order: pose, opacity, texture, nodule, film.
    """
    b = len(poor)
    centre = ((np.arange(size) + 0.5) / size * 2.0 - 1.0).astype(np.float32)
    y = centre[None, :, None]  # (1, S, 1): rows, top = -1
    x = centre[None, None, :]  # (1, 1, S)
    sharp = 0.35 * size
    jitter = (0.03 * rng.standard_normal((b, 3))).astype(np.float32)  # position and size
    dx, dy = jitter[:, 0, None, None], jitter[:, 1, None, None]
    scale = 1.0 + jitter[:, 2, None, None]
    xs, ys = (x - dx) / scale, (y - dy) / scale  # (B, 1, S), (B, S, 1) patient-centred

    image, field = _anatomy(xs, ys, sharp)
    image = image + _opacity(rng, severity, field, xs, ys)
    image = image + _reticular(rng, pattern, field, x, y, size)
    radius = nodule_radius(lesion, size)
    disc, row, col = _nodule(rng, radius, dx, dy, scale, size)
    image = image + 0.32 * disc
    pixels = _film(rng, image, poor, size)
    truth_row = np.where(radius > 0, np.round(row, 2), np.nan)
    truth_col = np.where(radius > 0, np.round(col, 2), np.nan)
    return pixels, truth_row, truth_col, radius


def _anatomy(xs: np.ndarray, ys: np.ndarray, sharp: float) -> tuple[np.ndarray, np.ndarray]:
    """The normal film (B, S, S) and the lung field seen past the heart (B, S, S)."""
    thorax = _soft_ellipse(xs, ys, 0.0, 0.1, 0.88, 0.98, sharp)
    lungs = sum(_lung(xs, ys, *lung, sharp) for lung in _LUNGS)
    heart = _soft_ellipse(xs, ys, 0.12, 0.36, 0.32, 0.26, sharp)
    mediastinum = expit((0.12 - np.abs(xs)) * sharp) * thorax
    spine = expit((0.06 - np.abs(xs)) * sharp * 2.0) * thorax
    rib_phase = (ys + 0.35 * xs**2) / 0.19
    ribs = np.maximum(np.cos(2 * np.pi * rib_phase), 0.0) ** 4 * thorax * (1.0 - mediastinum)
    image = 0.04 + 0.42 * thorax + 0.08 * mediastinum + 0.08 * spine + 0.08 * ribs
    field = lungs * (1.0 - 0.9 * heart)  # the lung field seen past the heart
    image = image - 0.30 * field + 0.06 * heart * thorax
    return image, field


def _opacity(
    rng: np.random.Generator,
    severity: np.ndarray,
    field: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
) -> np.ndarray:
    """Diffuse opacity to add (B, S, S): lower zones first, patchy, strength follows severity."""
    b = len(severity)
    strength = (0.38 * expit(1.4 * (severity - 0.3)))[:, None, None].astype(np.float32)
    waves = rng.uniform(0.0, 2 * np.pi, (b, 3, 3)).astype(np.float32)
    patch = 1.0 + 0.4 * sum(
        _cos_sum(waves[:, k, 0, None, None] * xs + waves[:, k, 2, None, None],
                 waves[:, k, 1, None, None] * ys)
        for k in range(3)
    )  # fmt: skip
    lower = np.clip(0.35 + 0.65 * (ys + 0.5) / 1.1, 0.15, 1.2)
    return strength * field * np.clip(lower * patch, 0.1, 1.3)


def _reticular(
    rng: np.random.Generator,
    pattern: np.ndarray,
    field: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    size: int,
) -> np.ndarray:
    """Reticular (honeycomb) texture to add (B, S, S): three gratings 60 degrees apart,
    amplitude follows the pattern factor."""
    b = len(pattern)
    period = np.float32(max(4.0, size / 12.0) * 2.0 / size)  # in coordinate units
    turn = rng.uniform(0.0, np.pi / 3, b)[:, None, None] + np.arange(3) * np.pi / 3
    turn = turn.astype(np.float32)  # (B, 1, 3)
    phase = rng.uniform(0.0, 2 * np.pi, (b, 3)).astype(np.float32)
    honeycomb = sum(
        _cos_sum(2 * np.pi * x * np.cos(turn[:, :, k, None]) / period + phase[:, k, None, None],
                 2 * np.pi * y * np.sin(turn[:, :, k, None]) / period)
        for k in range(3)
    ) / 3.0  # fmt: skip
    amplitude = (0.10 * expit(1.5 * pattern))[:, None, None].astype(np.float32)
    return amplitude * honeycomb * field


def _nodule(
    rng: np.random.Generator,
    radius: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    scale: np.ndarray,
    size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A bright disc (B, S, S) somewhere in one lung, and its centre's row and column (B,)."""
    b = len(radius)
    side = (rng.random(b) < 0.5).astype(int)
    angle = rng.uniform(0.0, 2 * np.pi, b)
    reach = 0.7 * np.sqrt(rng.random(b))
    lung = np.array(_LUNGS)[side]  # (B, 4)
    nx = (lung[:, 0] + reach * lung[:, 2] * np.cos(angle)) * scale[:, 0, 0] + dx[:, 0, 0]
    ny = (lung[:, 1] + reach * lung[:, 3] * np.sin(angle)) * scale[:, 0, 0] + dy[:, 0, 0]
    col, row = (nx + 1.0) / 2.0 * size - 0.5, (ny + 1.0) / 2.0 * size - 0.5
    rows = np.arange(size, dtype=np.float32)[None, :, None]
    cols = np.arange(size, dtype=np.float32)[None, None, :]
    centre_row, centre_col = (v.astype(np.float32)[:, None, None] for v in (row, col))
    dist = np.sqrt((rows - centre_row) ** 2 + (cols - centre_col) ** 2)
    disc = expit((radius[:, None, None].astype(np.float32) - dist) * 2.5) * (
        radius[:, None, None] > 0
    )
    return disc, row, col


def _film(rng: np.random.Generator, image: np.ndarray, poor: np.ndarray, size: int) -> np.ndarray:
    """The exposed film as uint8: exposure varies a little between films; poor quality is
    blurred and noisier."""
    b = len(poor)
    exposure = rng.standard_normal((b, 2)).astype(np.float32)
    image = image * (1.0 + 0.04 * exposure[:, 0, None, None]) + 0.015 * exposure[:, 1, None, None]
    if poor.any():
        sigma = 1.6 * size / 64.0
        image[poor] = ndimage.gaussian_filter(image[poor], sigma=(0, sigma, sigma), mode="nearest")
    noise_sd = np.where(poor, 0.045, 0.025).astype(np.float32)[:, None, None]
    image = image + noise_sd * rng.standard_normal(image.shape, dtype=np.float32)
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
