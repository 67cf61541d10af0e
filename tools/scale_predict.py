"""Measure `python -m amff predict` on a large simulated cohort: wall time and peak memory.

    .venv/bin/python tools/scale_predict.py --n 100000 --work /tmp/amff-scale

The cohort is simulated a few thousand patients at a time (each part with its own seed, its
ids prefixed by the part number) and appended to one cohort folder on disk, so the simulation itself
never holds the whole cohort. Without --checkpoint, a small model is trained on the first part.
predict then runs in a child process, once per --chunk-size given; its peak resident memory
is read from the kernel (getrusage of the finished child). Prints one JSON line per run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PART = 5000


def simulate_folder(folder: Path, n: int, part: int = PART) -> float:
    """Append simulated parts to one cohort folder; returns the seconds it took."""
    from amff.simulator import SimConfig, simulate

    started = time.perf_counter()
    folder.mkdir(parents=True)
    (folder / "images").mkdir()
    for k, start in enumerate(range(0, n, part)):
        cohort = _renamed(simulate(SimConfig(n=min(part, n - start), seed=k)), f"S{k:03d}-")
        staging = Path(tempfile.mkdtemp(dir=folder.parent)) / "part"
        cohort.write(staging)
        for name in ("clinical.csv", "notes.csv", "rnaseq.csv", "truth.csv"):
            header, _, rows = (staging / name).read_text(encoding="utf-8").partition("\n")
            with open(folder / name, "a", encoding="utf-8", newline="") as out:
                out.write(f"{header}\n{rows}" if k == 0 else rows)
        for image in (staging / "images").iterdir():
            image.rename(folder / "images" / image.name)
        shutil.rmtree(staging.parent)
        print(f"simulated {min(start + part, n)} of {n}", file=sys.stderr, flush=True)
    return time.perf_counter() - started


def _renamed(cohort, prefix: str):
    """The cohort with every patient id prefixed (unique across parts)."""

    def rename(pid: object) -> str:
        return f"{prefix}{pid}"

    cohort.clinical = cohort.clinical.rename(index=rename)
    cohort.labels = cohort.labels.rename(index=rename)
    cohort.notes = {rename(k): v for k, v in cohort.notes.items()}
    cohort.images = {rename(k): v for k, v in cohort.images.items()}
    cohort.rnaseq = cohort.rnaseq.rename(index=rename)
    cohort.truth = cohort.truth.rename(index=rename)
    return cohort


def train_checkpoint(folder: Path, out: Path) -> None:
    from amff.simulator import SimConfig, simulate

    data = out.parent / "train-cohort"
    if not data.exists():
        simulate(SimConfig(n=800, seed=123)).write(data)
    command = [sys.executable, "-m", "amff", "train", "--data", str(data), "--out", str(out)]
    subprocess.run([*command, "--epochs", "2", "--quiet", "--device", "cpu"], check=True)


def measure(checkpoint: Path, folder: Path, out: Path, chunk: int, threads: int) -> dict:
    """One predict run in a fresh child: seconds, peak RSS, rows written."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "amff", "predict", "--checkpoint", str(checkpoint)]
    command += ["--data", str(folder), "--out", str(out), "--chunk-size", str(chunk)]
    command += ["--device", "cpu"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(out, encoding="utf-8") as written:
        rows = sum(1 for _ in written) - 1
    return {
        "patients": rows,
        "chunk_size": chunk,
        "threads": threads,
        "seconds": round(seconds, 1),
        "patients_per_s": round(rows / seconds, 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "peak_is_this_run": peak_kib > before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/amff-scale"))
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--chunk-size", type=int, nargs="+", default=[4096])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    folder = args.work / f"cohort-{args.n}"
    if not folder.exists():
        seconds = simulate_folder(folder, args.n)
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        print(json.dumps({"simulated": args.n, "seconds": round(seconds, 1), "mib": size >> 20}))
    checkpoint = args.checkpoint or args.work / "checkpoint"
    if not checkpoint.exists():
        train_checkpoint(folder, checkpoint)
    for chunk in args.chunk_size:
        out = args.work / f"preds-{args.n}-{chunk}.csv"
        print(json.dumps(measure(checkpoint, folder, out, chunk, args.threads)), flush=True)


if __name__ == "__main__":
    main()
