"""The simulator's knobs (SimConfig), the population constants, and its seeded random streams."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from amff.errors import InputError
from amff.modalities import MODALITIES

SUBTYPE_RATE = 0.15  # share of patients in the high-risk RNA subtype
SUBTYPE_MEAN, SUBTYPE_SD = 2.0, 0.5
N_NUISANCE = 3  # RNA programmes that follow latents unrelated to the outcome
_STREAMS = ("latents", "quality", "readings", "missing", "tabular", "genes", "render")


def stream(seed: int, name: str, *more: int) -> np.random.Generator:
    """An independent generator for one purpose (and chunk): same seed, same numbers."""
    key = (_STREAMS.index(name), *more)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _knob(default: Any, text: str) -> Any:
    """A settings field whose help text the CLI turns into --flag help."""
    return field(default=default, metadata={"help": text})


@dataclass
class SimConfig:
    """The simulator's knobs. Defaults were fixed for plausibility before any model was run."""

    n: int = _knob(2000, "Number of patients to simulate (at least 10).")
    seed: int = _knob(0, "Random seed; the same settings and seed give identical cohorts (>= 0).")
    prevalence: float = _knob(0.3, "Expected share of positive outcomes, in (0, 1).")
    gamma: float = _knob(0.8, "Weight of the synergy term a*b (image pattern x RNA programme).")
    w_s: float = _knob(0.6, "Outcome weight of severity s, seen by tabular, text and image.")
    w_tab: float = _knob(0.5, "Outcome weight of u_tab, the factor only the clinical record sees.")
    w_txt: float = _knob(0.4, "Outcome weight of u_txt, the factor only the clinical note sees.")
    w_img: float = _knob(0.7, "Outcome weight of u_img (lesion burden), seen only by the image.")
    w_rna: float = _knob(0.4, "Outcome weight of u_rna (high-risk subtype), seen only by RNA-seq.")
    # Reading noise, in latent standard deviations. Fixed before any model was run: the note is
    # the most subjective reading, the image the most direct measurement.
    noise_tabular: float = _knob(0.5, "Reading noise sd of the clinical record (latent sd units).")
    noise_text: float = _knob(0.6, "Reading noise sd of the clinical note (latent sd units).")
    noise_image: float = _knob(0.4, "Reading noise sd of the image (latent sd units).")
    noise_rna: float = _knob(0.5, "Reading noise sd of RNA-seq (latent sd units).")
    poor_quality_rate: float = _knob(
        0.2, "Probability that a patient's modality is of poor quality, in [0, 1]."
    )
    kappa: float = _knob(3.0, "Noise multiplier of a poor-quality reading (>= 1).")
    missing_tabular: float = _knob(0.05, "Probability that the clinical record is missing.")
    missing_text: float = _knob(0.15, "Probability that the clinical note is missing.")
    missing_image: float = _knob(0.15, "Probability that the image is missing.")
    missing_rna: float = _knob(0.25, "Probability that RNA-seq is missing.")
    missing_mechanism: str = _knob(
        "mcar", "How modalities go missing: mcar (at random) or sicker (more often when severe)."
    )
    image_size: int = _knob(64, "Image side in pixels (16 to 512).")
    n_genes: int = _knob(2000, "Number of genes in RNA-seq (at least 5 x programme_size).")
    programme_size: int = _knob(50, "Genes per RNA expression programme (at least 5).")

    def __post_init__(self) -> None:
        self._coerce_types()
        self._check_outcome_and_readings()
        self._check_rendering()

    def _coerce_types(self) -> None:
        """Whole floats to int, ints to float; anything else of the wrong kind is refused."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = f.type if isinstance(f.type, str) else f.type.__name__
            if kind == "int":
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InputError(f"{f.name} must be a whole number, got {value!r}")
            elif kind == "float":
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise InputError(f"{f.name} must be a number, got {value!r}")
                value = float(value)
                if not math.isfinite(value):
                    raise InputError(f"{f.name} must be finite, got {value!r}")
            elif not isinstance(value, str):
                raise InputError(f"{f.name} must be text, got {value!r}")
            setattr(self, f.name, value)

    def _check_outcome_and_readings(self) -> None:
        _require(self.n >= 10, f"n must be at least 10, got {self.n}")
        _require(self.n <= 10_000_000, f"n must be at most 10,000,000, got {self.n}")
        _require(self.seed >= 0, f"seed must be 0 or more, got {self.seed}")
        _require(
            0.0 < self.prevalence < 1.0, f"prevalence must be in (0, 1), got {self.prevalence}"
        )
        for name in ("gamma", "w_s", "w_tab", "w_txt", "w_img", "w_rna"):
            value = getattr(self, name)
            _require(0.0 <= value <= 5.0, f"{name} must be in [0, 5], got {value}")
        for modality in MODALITIES:
            value = getattr(self, f"noise_{modality.value}")
            _require(
                0.0 <= value <= 10.0, f"noise_{modality.value} must be in [0, 10], got {value}"
            )
            value = getattr(self, f"missing_{modality.value}")
            _require(
                0.0 <= value <= 1.0, f"missing_{modality.value} must be in [0, 1], got {value}"
            )
        _require(
            min(self.missing_rates) < 1.0,
            "at least one missing_* rate must be below 1, or no patient has any modality",
        )
        _require(
            0.0 <= self.poor_quality_rate <= 1.0,
            f"poor_quality_rate must be in [0, 1], got {self.poor_quality_rate}",
        )
        _require(1.0 <= self.kappa <= 100.0, f"kappa must be in [1, 100], got {self.kappa}")
        _require(
            self.missing_mechanism in ("mcar", "sicker"),
            f"missing_mechanism must be 'mcar' or 'sicker', got {self.missing_mechanism!r}",
        )

    def _check_rendering(self) -> None:
        _require(
            16 <= self.image_size <= 512, f"image_size must be in [16, 512], got {self.image_size}"
        )
        _require(
            self.programme_size >= 5,
            f"programme_size must be at least 5, got {self.programme_size}",
        )
        need = (2 + N_NUISANCE) * self.programme_size
        _require(
            need <= self.n_genes <= 60_000,
            f"n_genes must be in [{need}, 60000] (5 programmes of {self.programme_size} genes), "
            f"got {self.n_genes}",
        )

    @property
    def missing_rates(self) -> tuple[float, float, float, float]:
        return tuple(getattr(self, f"missing_{m.value}") for m in MODALITIES)  # type: ignore[return-value]

    @property
    def noise(self) -> tuple[float, float, float, float]:
        return tuple(getattr(self, f"noise_{m.value}") for m in MODALITIES)  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimConfig:
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise InputError(f"unknown simulator setting(s) {unknown}; known: {names}")
        return cls(**data)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InputError(message)
