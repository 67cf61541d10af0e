"""Speed and memory, measured in one run (`python -m amff bench --out bench.json`).

Targets (issue 3, 5, 6): train throughput ratio AMFF-HT / early fusion >= 0.9, train MFU >=
0.5, one patient from files <= 30 ms, a modality toggle <= 2 ms, all 15 subsets over 4,000
patients <= 1.5 s, checkpoint load <= 2 s, IG over four modalities <= 0.5 s, drop-one <= 20
ms, the cohort page's recomputation <= 150 ms. Every figure is a median over repeats; the
JSON says whether each target was met.
"""

from __future__ import annotations

import json
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

TARGETS = {
    "train_throughput_ratio": (">=", 0.9),
    "train_mfu": (">=", 0.5),
    "predict_one_patient_from_files_ms": ("<=", 30.0),
    "toggle_ms": ("<=", 2.0),
    "all_15_subsets_4000_s": ("<=", 1.5),
    "checkpoint_load_s": ("<=", 2.0),
    "integrated_gradients_4_modalities_s": ("<=", 0.5),
    "drop_one_ms": ("<=", 20.0),
    "cohort_page_recompute_ms": ("<=", 150.0),
}


def _median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(statistics.median(times))


def matmul_flops(n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of a large float32 matmul: the machine's practical peak for MFU."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    seconds = _median_time(lambda: a @ b, repeats, warmup=2)
    return 2 * n**3 / seconds


def train_step_flops(model: torch.nn.Module, batch: Any) -> int:
    """FLOPs of one training step (forward + backward), counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        model(batch).logit.sum().backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def train_throughput(kind: str, cohort: Any, epochs: int = 1) -> dict[str, float]:
    """Patients per second over full training epochs (after one warm-up epoch)."""
    from amff.config import ModelConfig, TrainConfig
    from amff.data.preprocess import Preprocessor
    from amff.nn import build_model
    from amff.trainer import Trainer

    pre = Preprocessor.fit(cohort)
    batch = pre.transform(cohort)
    n_val = len(batch) // 5
    train, val = batch.index(slice(n_val, None)), batch.index(slice(0, n_val))
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind=kind), pre.schema())
    config = TrainConfig(epochs=1, patience=100, modality_dropout=0.25)
    Trainer(config).fit(model, train, val)  # warm-up
    start = time.perf_counter()
    Trainer(TrainConfig(epochs=epochs, patience=100)).fit(model, train, val)
    seconds = time.perf_counter() - start
    step_batch = train.index(slice(0, config.batch_size)).trim()
    flops = train_step_flops(model.train(), step_batch)
    steps = epochs * (len(train) // config.batch_size)
    return {
        "patients_per_s": epochs * len(train) / seconds,
        "achieved_flops": flops * steps / seconds,
        "flops_per_step": flops,
    }


def run_bench(out: Path, quick: bool = False) -> dict[str, Any]:
    import amff
    from amff import metrics
    from amff.modalities import MODALITIES, all_subsets
    from amff.shipped import CHECKPOINTS
    from amff.simulator import SimConfig, simulate

    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "processor": platform.processor() or platform.machine(),
        }
    }
    n_train = 300 if quick else 1000
    cohort = simulate(SimConfig(n=n_train, seed=123))
    peak = matmul_flops()
    results["matmul_peak_gflops"] = peak / 1e9
    amff_t = train_throughput("amff", cohort)
    early_t = train_throughput("early", cohort)
    results["train_patients_per_s_amff"] = amff_t["patients_per_s"]
    results["train_patients_per_s_early"] = early_t["patients_per_s"]
    results["train_throughput_ratio"] = amff_t["patients_per_s"] / early_t["patients_per_s"]
    results["train_achieved_gflops_amff"] = amff_t["achieved_flops"] / 1e9
    results["train_mfu"] = amff_t["achieved_flops"] / peak

    checkpoint = CHECKPOINTS / "amff-default"
    if not checkpoint.is_dir():
        results["note"] = "checkpoints/amff-default missing: run `make checkpoint` first"
        return _finish(results, out)
    results["checkpoint_load_s"] = _median_time(lambda: amff.load(checkpoint), 3)
    predictor = amff.load(checkpoint)

    with tempfile.TemporaryDirectory() as tmp:
        one = simulate(SimConfig(n=20, seed=7))
        full = [i for i in one.ids if len(one.patient(i).modalities) == 4]
        chosen = full[0] if full else one.ids[0]  # a patient with all four modalities
        folder = Path(tmp) / "one"
        one.subset([chosen]).write(folder)

        def from_files() -> None:
            predictor.predict(amff.read_cohort(folder))

        results["predict_one_patient_from_files_ms"] = 1e3 * _median_time(from_files, 20, 3)
    patient = one.patient(chosen)
    encoded_one = predictor.encode(patient)
    results["toggle_ms"] = 1e3 * _median_time(
        lambda: predictor.predict_arrays(encoded_one, MODALITIES[:2]), 50, 5
    )
    test = simulate(SimConfig(n=500 if quick else 4000, seed=10_000))
    start = time.perf_counter()
    encoded = predictor.encode(test)
    results["encode_4000_s"] = time.perf_counter() - start

    def subsets() -> None:
        for subset in all_subsets():
            predictor.predict_arrays(encoded, subset)

    results["all_15_subsets_4000_s"] = _median_time(subsets, 3)
    y = encoded.labels

    def cohort_page() -> None:
        p = predictor.predict_arrays(encoded, (MODALITIES[0], MODALITIES[2]))["probability"]
        keep = ~np.isnan(p)
        metrics.all_metrics(y[keep], p[keep], predictor.threshold)

    results["cohort_page_recompute_ms"] = 1e3 * _median_time(cohort_page, 5)
    try:
        from amff import explain
    except ImportError:
        results["explain_note"] = "amff.explain not available"
    else:
        results.update(_bench_explain(explain, predictor, patient))
    return _finish(results, out)


def _bench_explain(explain: Any, predictor: Any, patient: Any) -> dict[str, float]:
    from amff.modalities import MODALITIES

    def ig() -> None:
        for m in patient.modalities:
            explain.attribute(predictor, patient, m, method="integrated_gradients")

    encoded = predictor.encode(patient)
    found: dict[str, float] = {
        "integrated_gradients_4_modalities_s": _median_time(ig, 5),
        "integrated_gradients_modalities": len(patient.modalities),
    }
    if hasattr(explain, "modality_importance"):
        found["drop_one_ms"] = 1e3 * _median_time(
            lambda: explain.modality_importance(predictor, encoded, MODALITIES), 20, 3
        )
    return found


def _finish(results: dict[str, Any], out: Path) -> dict[str, Any]:
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    met = {}
    for key, (op, target) in TARGETS.items():
        if key in results:
            value = results[key]
            met[key] = {
                "value": value,
                "target": f"{op} {target}",
                "met": bool(value >= target if op == ">=" else value <= target),
            }
    results["targets"] = met
    out.write_text(json.dumps(results, indent=1) + "\n")
    return results
