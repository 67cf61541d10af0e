"""`python -m amff reproduce`: plan, run (resumably), analyse, draw and report.

    plan (plan.py) -> runs in worker processes (runner.py) -> numbers (analysis/)
    -> verdicts (claims.py) -> results.json, figures (figures/), REPRODUCTION.md and
    README_SECTION.md (report.py)

Everything written under --out is computed from the stored runs, so deleting the reports and
rerunning rebuilds them without training.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amff.experiments.plan import (
    MAIN_METHODS,
    SECTION_TITLES,
    SECTIONS,
    Profile,
    RunSpec,
    build_plan,
    code_version,
)
from amff.experiments.runner import is_done, run_all

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent.parent

# Single-thread costs, from the CPU time of paper-profile runs (N = 2,000, one seed of each
# main method) on this project's 2-core build machine: what an idle machine takes. They are
# replaced by rates measured on the runs already stored under --out when there are any.
DEFAULT_RATES = {
    # late fusion counts member patient-epochs: each member sees one modality
    "train_patient_epochs_per_s": {"amff": 290.0, "early": 290.0, "late": 820.0},
    "expected_epoch_share": 0.4,  # epochs run / epochs cap, with early stopping
    "encode_patients_per_s": 620.0,  # level 1 of all four modalities, test and validation
    "corrupt_condition_s_per_1000": 0.5,  # a corrupted modality re-encoded, per 1,000 patients
    "simulate_patients_per_s": 350.0,
}
LATE_MEMBER_SHARE = 3.4  # late fusion trains one member per modality on the patients with it


# -- provenance ----------------------------------------------------------------------------
def git_state(root: Path = REPO) -> dict[str, Any]:
    """The commit and whether the working tree differs from it (None outside a checkout)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=20
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "dirty": None if status is None else bool(status),
        "changed_files": None if not status else [line[3:] for line in status.splitlines()],
    }


def environment() -> dict[str, Any]:
    import numpy
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


# -- time estimate -------------------------------------------------------------------------
def measured_rates(out: Path, clock: str = "wall") -> tuple[dict[str, Any], int]:
    """Rates measured on every run stored under out (any code version), else the defaults.

    clock="wall" gives the rates at the load the runs met; clock="cpu" uses each run's CPU
    seconds (single-thread processes), which is what an idle machine would take.
    """
    rates = json.loads(json.dumps(DEFAULT_RATES))
    records = []
    for path in sorted((out / "runs").glob("*/run.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if clock == "wall" or "train_cpu_s" in record["timing"]:
            records.append(record)
    if not records:
        return rates, 0
    by_kind: dict[str, list[tuple[float, float]]] = {}
    shares, encode, corrupt = [], [], []
    for record in records:
        spec, timing = record["spec"], record["timing"]
        scale = 1.0
        if clock == "cpu":  # the evaluation's parts are timed on the wall clock only
            scale = timing["evaluate_cpu_s"] / max(timing["evaluate_s"], 1e-3)
        train_s = timing["train_cpu_s"] if clock == "cpu" else timing["train_s"]
        by_kind.setdefault(spec["model"]["kind"], []).append((record["patient_epochs"], train_s))
        shares.append(record["epochs_run"] / spec["train"]["epochs"])
        patients = spec["test_sim"]["n"] + record["val_patients"]
        encode.append(patients / max(timing["encode_s"] * scale, 1e-3))
        conditions = 4 * sum(1 for s in spec["evaluation"]["severities"] if s > 0)
        if conditions:
            per_condition = timing["corrupt_s"] * scale / conditions
            corrupt.append(per_condition / (spec["test_sim"]["n"] / 1000))
    for kind, pairs in by_kind.items():
        rates["train_patient_epochs_per_s"][kind] = sum(p for p, _ in pairs) / max(
            sum(t for _, t in pairs), 1e-3
        )
    rates["expected_epoch_share"] = sum(shares) / len(shares)
    rates["encode_patients_per_s"] = sum(encode) / len(encode)
    if corrupt:
        rates["corrupt_condition_s_per_1000"] = sum(corrupt) / len(corrupt)
    return rates, len(records)


def estimate_seconds(spec: RunSpec, rates: dict[str, Any]) -> float:
    """Single-thread seconds of one run: training, evaluation and its share of simulation."""
    kind = spec.model["kind"]
    train_n = spec.n * (1 - spec.train["val_fraction"])
    epochs = spec.train["epochs"] * rates["expected_epoch_share"]
    patient_epochs = train_n * epochs * (LATE_MEMBER_SHARE if kind == "late" else 1.0)
    seconds = patient_epochs / rates["train_patient_epochs_per_s"].get(kind, 130.0)
    n_test = spec.test_sim["n"]
    seconds += (n_test + spec.n * spec.train["val_fraction"]) / rates["encode_patients_per_s"]
    conditions = 4 * sum(1 for s in spec.evaluation["severities"] if s > 0)
    seconds += conditions * rates["corrupt_condition_s_per_1000"] * n_test / 1000
    seconds += spec.n / rates["simulate_patients_per_s"] / 3  # a cohort serves about 3 runs
    return seconds


def makespan(seconds: list[float], workers: int) -> float:
    """Wall time of running jobs in the given order on `workers` workers (list scheduling)."""
    loads = [0.0] * max(1, workers)
    for s in seconds:
        i = loads.index(min(loads))
        loads[i] += s
    return max(loads) if seconds else 0.0


def dry_run(profile: Profile, out: Path, sections: tuple[str, ...], workers: int) -> dict[str, Any]:
    """The runs, which are stored already, and an estimate of the time left; writes nothing."""
    specs = build_plan(profile, sections)
    version = code_version()
    rates, calibrated_on = measured_rates(out)
    cpu_rates, cpu_calibrated_on = measured_rates(out, clock="cpu")
    rows = []
    for spec in sorted(specs, key=lambda s: (-s.n, s.scenario, s.seed)):
        done = is_done(out, spec, version)
        rows.append(
            {
                "name": spec.name,
                "key": spec.key(version),
                "sections": list(spec.sections),
                "done": done,
                "estimate_s": 0.0 if done else estimate_seconds(spec, rates),
                "estimate_cpu_s": 0.0 if done else estimate_seconds(spec, cpu_rates),
            }
        )
    pending = [r["estimate_s"] for r in rows if not r["done"]]
    pending_cpu = [r["estimate_cpu_s"] for r in rows if not r["done"]]
    return {
        "profile": profile.name,
        "sections": list(sections),
        "code_version": version,
        "runs": rows,
        "n_runs": len(rows),
        "n_pending": len(pending),
        "serial_s": sum(pending),
        "wall_s": makespan(pending, workers),
        "workers": workers,
        "rates": rates,
        "rates_from_runs": calibrated_on,
        "idle_wall_s": makespan(pending_cpu, workers) if cpu_calibrated_on else None,
        "idle_rates_from_runs": cpu_calibrated_on,
    }


# -- the reproduction ----------------------------------------------------------------------
def _write_atomic(path: Path, text: str) -> None:
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def jsonable(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null; tuples lists; numpy scalars numbers."""
    import numpy as np

    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def analyse(
    out: Path, profile: Profile, sections: tuple[str, ...], specs: list[RunSpec], version: str
) -> dict[str, Any]:
    """Every number of results.json, from the stored runs (the meta block is added later)."""
    from amff.experiments import analysis
    from amff.experiments.claims import all_claims

    runs = analysis.Runs(out, specs, version)
    results: dict[str, Any] = {"test_sets": analysis.test_sets(runs)}
    for section in sections:
        started = time.perf_counter()
        results[section] = {
            "title": SECTION_TITLES[section],
            **analysis.SECTION_FUNCTIONS[section](runs, profile),
        }
        log.info("%s analysed in %.1f s", section, time.perf_counter() - started)
    results["claims"] = all_claims(results)
    records = runs.records()
    results["runs"] = {
        "count": len(records),
        "compute_s": sum(r["timing"]["total_s"] for r in records),
        "by_method": _run_times(specs, records, version),
        "keys": sorted(r["key"] for r in records),
    }
    return results


def _run_times(specs: list[RunSpec], records: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """Mean training time, total time and epochs of the stored runs, per method and N."""
    by_key = {r["key"]: r for r in records}
    out: dict[str, Any] = {}
    for spec in specs:
        record = by_key.get(spec.key(version))
        if record is None:
            continue
        row = out.setdefault(f"{spec.method} n={spec.n}", {"runs": 0, "train_s": 0.0, "epochs": 0})
        row["runs"] += 1
        row["train_s"] += record["timing"]["train_s"]
        row["epochs"] += record["epochs_run"]
        row.setdefault("total_s", 0.0)
        row["total_s"] += record["timing"]["total_s"]
    for row in out.values():
        row["mean_train_s"] = row["train_s"] / row["runs"]
        row["mean_total_s"] = row["total_s"] / row["runs"]
        row["mean_epochs"] = row["epochs"] / row["runs"]
    return out


def reproduce(
    profile: Profile,
    out: Path,
    sections: tuple[str, ...] = SECTIONS,
    workers: int = 2,
    command: str = "",
    on_run_done: Callable[[RunSpec, dict[str, Any]], None] | None = None,
    figures: bool = True,
) -> dict[str, Any]:
    """Run what is not stored yet, then write results.json, figures and the reports."""
    from amff.experiments import report

    started = time.perf_counter()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    specs = build_plan(profile, sections)
    version = code_version()
    out.mkdir(parents=True, exist_ok=True)
    already = sum(is_done(out, s, version) for s in specs)
    run_all(specs, out, version, workers=workers, on_done=on_run_done)
    trained_s = time.perf_counter() - started

    results = analyse(out, profile, sections, specs, version)
    results = {
        "meta": {
            "command": command,
            "out": str(out),
            "profile": profile.to_dict(),
            "seeds": list(profile.seeds),
            "sections": list(sections),
            "main_methods": list(MAIN_METHODS),
            "git": git_state(),
            "code_version": version,
            "environment": environment(),
            "workers": workers,
            "started_at": started_at,
            "runs_stored_before": already,
            "runs_trained_now": len(specs) - already,
            "training_wall_s": trained_s,
        },
        **results,
    }
    results["meta"]["wall_s"] = time.perf_counter() - started  # before figures, updated below
    if figures:
        from amff.experiments import figures as figure_builders

        results["figures"] = figure_builders.write_all(results, out)
    results["meta"]["wall_s"] = time.perf_counter() - started
    results["meta"]["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    results = jsonable(results)
    _write_atomic(out / "results.json", json.dumps(results, indent=1, allow_nan=False) + "\n")
    _write_atomic(out / "REPRODUCTION.md", report.reproduction_md(results))
    _write_atomic(out / "README_SECTION.md", report.readme_section(results))
    return results


def command_line(argv: list[str] | None = None) -> str:
    return "python -m amff " + " ".join(argv if argv is not None else sys.argv[1:])
