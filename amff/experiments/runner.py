"""Train and evaluate one run, store its outputs, and run many in worker processes.

A run's folder, <out>/runs/<key>/, holds run.json (its settings, history, thresholds and
timings) and arrays.npz (test-set probabilities, float32, and modality weights, float16, per
evaluated condition); model weights are not kept. The folder is written under a temporary
name and renamed, so a run is either complete or absent: an interrupted reproduction picks up
where it stopped. The held-out cohort's truth (labels, oracle probability, quality flags,
presence) is stored once per test cohort in <out>/testsets/<key>.npz.

Condition names in arrays.npz: ``subset|<tabular+image>|p``, ``subset|all|w`` (N, 4),
``missing|<rate>|p``, ``corrupt|<modality>|<severity>|p`` and ``corrupt|...|w`` (N,): the
corrupted modality's own weight.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amff.experiments.plan import RunSpec

log = logging.getLogger(__name__)

ALL = "tabular+text+image+rna"
ENCODE_CHUNK = 256


# -- one run -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=3)
def _cohort(sim_json: str) -> Any:
    """A simulated cohort, kept while a worker trains several runs on it (deterministic)."""
    from amff.simulator import SimConfig, simulate

    return simulate(SimConfig.from_dict(json.loads(sim_json)))


def cohort_for(sim: dict[str, Any]) -> Any:
    return _cohort(json.dumps(sim, sort_keys=True))


@functools.lru_cache(maxsize=16)
def _corrupted(sim_json: str, modality: str, severity: float, seed: int) -> Any:
    """The held-out cohort with one modality corrupted and the other three left out.

    The same for every run on this cohort, so a worker corrupts it once. Leaving the other
    modalities out keeps the copy small and makes the preprocessing of it cheap; only the
    corrupted modality is re-encoded from it (see encode_modality).
    """
    from amff.simulator import corrupt

    cohort = _cohort(sim_json)
    corrupted = corrupt(cohort, modality, severity, seed)
    return dataclasses.replace(
        cohort,
        clinical=corrupted.clinical if modality == "tabular" else cohort.clinical,
        notes=corrupted.notes if modality == "text" else {},
        images=corrupted.images if modality == "image" else {},
        rnaseq=corrupted.rnaseq if modality == "rna" else None,
    )


def clear_caches() -> None:
    _corrupted.cache_clear()
    _cohort.cache_clear()


def encode_modality(predictor: Any, cohort: Any, modality: Any) -> Any:
    """Level-1 vectors (N, D) of one modality only: what a corrupted modality changes."""
    import torch

    from amff.modalities import MODALITIES

    j = MODALITIES.index(modality)
    batch = predictor.preprocessor.transform(cohort)
    only = torch.zeros_like(batch.present)
    only[:, j] = batch.present[:, j]
    parts = []
    with torch.inference_mode():
        for start in range(0, len(batch), ENCODE_CHUNK):
            part = batch.index(slice(start, start + ENCODE_CHUNK)).trim()
            parts.append(predictor.model.encode(part, only[start : start + ENCODE_CHUNK])[:, j])
    return torch.cat(parts)


def evaluate(
    trained: Any,
    val_cohort: Any,
    test_cohort: Any,
    evaluation: dict[str, Any],
    corrupted: Callable[[Any, float, int], Any] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, float]]:
    """Test-set arrays per condition, validation thresholds per subset, and timings.

    Each subset's threshold is chosen on validation with that subset on (a user toggling
    modalities knows which are on); corrupted and thinned cohorts use the all-modality one.
    corrupted(modality, severity, seed) gives the corrupted cohort (default: simulate.corrupt).
    """
    import torch

    from amff import metrics
    from amff.simulator import corrupt, drop_modalities

    if corrupted is None:
        corrupted = functools.partial(corrupt, test_cohort)
    from amff.modalities import MODALITIES, all_subsets, subset_name
    from amff.predictor import Encoded, Predictor

    timings: dict[str, float] = {}
    started = time.perf_counter()
    predictor = Predictor(
        trained.model,
        trained.preprocessor,
        {"kind": trained.model_config.kind, "threshold": trained.threshold},
    )
    val = predictor.encode(val_cohort)
    test = predictor.encode(test_cohort)
    timings["encode_s"] = time.perf_counter() - started

    subsets = all_subsets() if evaluation["subsets"] == "all" else [MODALITIES]
    arrays: dict[str, np.ndarray] = {}
    thresholds: dict[str, float] = {}
    for subset in subsets:
        name = subset_name(subset)
        p_val = predictor.predict_arrays(val, subset)["probability"]
        keep = ~np.isnan(p_val)
        thresholds[name] = metrics.best_f1_threshold(val.labels[keep], p_val[keep])
        out = predictor.predict_arrays(test, subset)
        arrays[f"subset|{name}|p"] = out["probability"].astype(np.float32)
        if name == ALL:
            arrays["subset|all|w"] = out["weights"].astype(np.float16)

    started = time.perf_counter()
    for rate in evaluation["missing_rates"]:
        if rate == 0:
            continue
        thinned = drop_modalities(test_cohort, rate, evaluation["missing_seed"])
        available = test.available & torch.as_tensor(thinned.present_matrix())
        encoded = Encoded(test.ids, test.h, available, test.labels)
        out = predictor.predict_arrays(encoded)
        arrays[f"missing|{rate:g}|p"] = out["probability"].astype(np.float32)
    timings["missing_s"] = time.perf_counter() - started

    started = time.perf_counter()
    for j, modality in enumerate(MODALITIES):
        for severity in evaluation["severities"]:
            if severity == 0:
                continue
            cohort = corrupted(modality.value, severity, evaluation["corruption_seed"])
            h = test.h.clone()
            h[:, j] = encode_modality(predictor, cohort, modality)
            out = predictor.predict_arrays(Encoded(test.ids, h, test.available, test.labels))
            key = f"corrupt|{modality.value}|{severity:g}"
            arrays[f"{key}|p"] = out["probability"].astype(np.float32)
            arrays[f"{key}|w"] = out["weights"][:, j].astype(np.float16)  # its own weight
    timings["corrupt_s"] = time.perf_counter() - started
    return arrays, thresholds, timings


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def _write_folder(target: Path, files: dict[str, Callable[[Path], None]]) -> None:
    """Write files into a temporary sibling folder, then rename it to target (all or none)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, write in files.items():
            write(staging / name)
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / "run.json").exists():  # not a finished twin: a real failure
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def write_testset(path: Path, cohort: Any) -> None:
    """The held-out cohort's truth, once per test cohort (atomic; a twin write is harmless)."""
    if path.exists():
        return
    from amff.modalities import MODALITIES

    truth = cohort.truth.loc[cohort.ids]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=path.parent)
    os.close(handle)
    try:
        np.savez_compressed(
            tmp,
            y=cohort.labels.loc[cohort.ids].to_numpy(dtype=np.int8),
            p_true=truth["p_true"].to_numpy(dtype=np.float64),
            p_noisy_ceiling=truth["p_noisy_ceiling"].to_numpy(dtype=np.float64),
            quality_poor=np.column_stack(
                [truth[f"quality_{m.value}"].to_numpy() > 0.5 for m in MODALITIES]
            ),
            present=cohort.present_matrix(),
        )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def execute(spec: RunSpec, out: Path, code_version: str) -> dict[str, Any]:
    """Simulate (cached), train, evaluate and store one run; returns its summary."""
    from amff.config import ModelConfig, TrainConfig
    from amff.trainer import train

    started, cpu_started = time.perf_counter(), time.process_time()
    train_cohort = cohort_for(spec.train_sim)
    test_cohort = cohort_for(spec.test_sim)
    simulated, cpu_simulated = time.perf_counter(), time.process_time()
    trained = train(
        train_cohort, ModelConfig.from_dict(spec.model), TrainConfig.from_dict(spec.train)
    )
    trained_at, cpu_trained = time.perf_counter(), time.process_time()
    val_cohort = train_cohort.subset(trained.val_ids)
    test_json = json.dumps(spec.test_sim, sort_keys=True)
    arrays, thresholds, eval_timings = evaluate(
        trained,
        val_cohort,
        test_cohort,
        spec.evaluation,
        corrupted=functools.partial(_corrupted, test_json),
    )
    finished, cpu_finished = time.perf_counter(), time.process_time()

    epochs_run = len([r for r in trained.history if "member" not in r])
    members: dict[str, int] = {}
    for record in trained.history:
        if "member" in record:
            members[record["member"]] = members.get(record["member"], 0) + 1
    train_patients = len(trained.train_ids)
    record = {
        "key": spec.key(code_version),
        "name": spec.name,
        "spec": spec.identity(code_version),
        "test_key": spec.test_key(),
        "threshold": trained.threshold,
        "val_thresholds": thresholds,
        "best_epoch": trained.metrics.get("best_epoch"),
        "val_auroc": trained.metrics.get("val_auroc"),
        "epochs_run": epochs_run if not members else max(members.values()),
        "member_epochs": members,
        "train_patients": train_patients,
        "val_patients": len(trained.val_ids),
        # patient-epochs of training (late fusion: its members on the patients they train on)
        "patient_epochs": _patient_epochs(trained, train_cohort),
        "history": trained.history,
        "timing": {
            "simulate_s": simulated - started,
            "train_s": trained_at - simulated,
            "evaluate_s": finished - trained_at,
            **eval_timings,
            "total_s": finished - started,
            # CPU seconds of this (single-thread) process: wall time less any contention
            "train_cpu_s": cpu_trained - cpu_simulated,
            "evaluate_cpu_s": cpu_finished - cpu_trained,
            "total_cpu_s": cpu_finished - cpu_started,
        },
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "pid": os.getpid(),
    }
    write_testset(out / "testsets" / f"{spec.test_key()}.npz", test_cohort)
    _write_folder(
        out / "runs" / spec.key(code_version),
        {
            "arrays.npz": lambda path: np.savez_compressed(path, **arrays),
            "run.json": lambda path: path.write_text(json.dumps(_jsonable(record), indent=1)),
        },
    )
    return {k: record[k] for k in ("key", "name", "epochs_run", "val_auroc", "timing")}


def _patient_epochs(trained: Any, cohort: Any) -> int:
    from amff.modalities import MODALITIES

    epochs = [r for r in trained.history if "member" not in r]
    if epochs:
        return len(epochs) * len(trained.train_ids)
    present = cohort.subset(trained.train_ids).present_matrix()
    total = 0
    for j, m in enumerate(MODALITIES):
        count = sum(1 for r in trained.history if r.get("member") == m.value)
        total += count * int(present[:, j].sum())
    return total


def is_done(out: Path, spec: RunSpec, code_version: str) -> bool:
    return (out / "runs" / spec.key(code_version) / "run.json").exists()


def load_run(out: Path, key: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    folder = out / "runs" / key
    record = json.loads((folder / "run.json").read_text())
    with np.load(folder / "arrays.npz") as data:
        arrays = {name: data[name] for name in data.files}
    return record, arrays


# -- many runs -----------------------------------------------------------------------------
def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")


def _execute_in_worker(spec: RunSpec, out: str, code_version: str) -> dict[str, Any]:
    return execute(spec, Path(out), code_version)


@dataclass
class RunFailure(Exception):
    failures: list[tuple[str, str]]

    def __str__(self) -> str:
        names = ", ".join(name for name, _ in self.failures[:5])
        return f"{len(self.failures)} run(s) failed ({names}); first error: {self.failures[0][1]}"


def run_all(
    specs: Sequence[RunSpec],
    out: Path,
    code_version: str,
    workers: int = 2,
    on_done: Callable[[RunSpec, dict[str, Any]], None] | None = None,
) -> None:
    """Run every spec not already stored, the largest cohorts first, in `workers` processes.

    workers=1 runs in this process (no start-up cost; used by tests). Runs that fail are
    collected and reported together after the others finish (their outputs are kept).
    """
    pending = [s for s in specs if not is_done(out, s, code_version)]
    # the largest (costliest) first balances the workers; runs on one cohort stay together,
    # so a worker's cohort cache serves them
    pending.sort(key=lambda s: (-s.n, s.scenario, s.seed))
    failures: list[tuple[str, str]] = []
    if workers <= 1:
        for spec in pending:
            try:
                summary = execute(spec, out, code_version)
            except Exception as exc:  # reported with the others at the end
                log.exception("run %s failed", spec.name)
                failures.append((spec.name, f"{type(exc).__name__}: {exc}"))
                continue
            if on_done is not None:
                on_done(spec, summary)
        clear_caches()
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
            # feed the pool one run per free worker, so runs start in the planned order
            queue = list(pending)
            running: dict[Any, RunSpec] = {}
            while queue or running:
                try:
                    while queue and len(running) < workers:
                        spec = queue.pop(0)
                        future = pool.submit(_execute_in_worker, spec, str(out), code_version)
                        running[future] = spec
                except BrokenProcessPool as exc:  # a worker died (e.g. killed for memory)
                    failures += [(s.name, f"BrokenProcessPool: {exc}") for s in [spec, *queue]]
                    queue = []
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    spec = running.pop(future)
                    try:
                        summary = future.result()
                    except Exception as exc:
                        log.error("run %s failed: %s", spec.name, exc)
                        failures.append((spec.name, f"{type(exc).__name__}: {exc}"))
                        continue
                    if on_done is not None:
                        on_done(spec, summary)
    if failures:
        raise RunFailure(failures)
