"""`python -m amff explain --checkpoint C --data DIR --patient ID --out DIR`: one patient's
explanation as explanation.json and four PNG panels."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from amff.cli.common import add_modalities_flag, say, writing
from amff.errors import InputError


def add_parser(subparsers: Any) -> None:
    """Add `explain` (its choices are amff.explain's, so this imports torch)."""
    from amff import explain

    p = subparsers.add_parser(
        "explain", help="explain one patient's prediction: JSON and four PNG panels"
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint folder")
    p.add_argument("--data", required=True, help="cohort folder that holds the patient")
    p.add_argument("--patient", required=True, help="the patient_id to explain")
    p.add_argument("--out", required=True, help="folder to write (must be new or empty)")
    add_modalities_flag(p)
    p.add_argument("--method", choices=explain.METHODS, default="integrated_gradients")
    p.add_argument("--steps", type=int, default=32, help="integration steps (default 32)")
    p.add_argument(
        "--image-baseline",
        choices=tuple(explain.IMAGE_BASELINES),
        default="mean",
        help="what the image attributions are measured against (default: the training mean)",
    )
    p.set_defaults(func=run)


def _check_flags(args: argparse.Namespace) -> list[str] | None:
    """Refuse a used --out, a missing parent folder, too few steps; the chosen modalities."""
    from amff.predictor import as_modalities

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out {out}: already exists and is not empty; choose a new folder")
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: folder {out.parent} does not exist; create it first")
    if args.steps < 2:
        raise InputError(f"--steps {args.steps}: use at least 2 integration steps")
    if not args.modalities:
        return None
    names = [part.strip() for part in args.modalities.split(",") if part.strip()]
    try:
        return [m.value for m in as_modalities(names)]
    except InputError as exc:
        raise InputError(f"--modalities: {exc}") from None


def run(args: argparse.Namespace) -> int:
    """Explain the patient and write the folder at once (staged beside it, then renamed)."""
    import amff
    from amff import explain
    from amff.data.folder import read_cohort

    names = _check_flags(args)
    out = Path(args.out)
    predictor = amff.load(args.checkpoint)
    cohort = read_cohort(args.data, ids=[args.patient])  # an unknown id is an InputError
    patient = cohort.patient(args.patient)
    result, attributions, attention = explain.explain_parts(
        predictor, patient, names, args.method, args.steps, 50, args.image_baseline
    )
    with writing(out):  # staged beside out and renamed: all files or none
        explain.write_explanation(out, patient, result, attributions, attention)
    say(f"wrote the explanation of patient {args.patient} to {out}")
    return 0
