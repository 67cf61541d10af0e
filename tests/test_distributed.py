"""Data-parallel training with torch.distributed: two gloo processes on the CPU train the model
that one process trains on the same global batches, and score a cohort as one process does.

The two ranks run as torchrun runs them (RANK, WORLD_SIZE, MASTER_ADDR... in the environment),
spawned once for the module. Equivalence needs the same random draws: the global batches and
the modality masks come from one generator that every rank seeds alike; dropout draws are
per rank, so the comparison turns dropout off; BatchNorm statistics are per rank, so the
compared cohort has no images (the CLI run has them, and checks its ranks agree).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp
from support.toy import make_toy_cohort

from amff import distributed
from amff.cli import main
from amff.config import ModelConfig, TrainConfig
from amff.data.folder import read_cohort
from amff.trainer import train

WORLD = 2
MODEL = ModelConfig(kind="amff", dim=32, heads=2, dropout=0.0)
# an odd global batch: shards of 13 and 12 rows in every step, so the loss scaling matters
CONFIG = TrainConfig(epochs=3, batch_size=25, seed=0, patience=100, modality_dropout=0.25)
# float32 sums of two half-batch gradients against one full-batch sum differ by ~1e-7
# relative; Adam's normalised steps carry that over 18 steps to about 1e-6 (bound: 1e-5)
TOLERANCE = 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_torchrun(rank: int, port: int) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD),
        LOCAL_WORLD_SIZE=str(WORLD),
    )


def _worker(rank: int, ports: list[int], plain: str, imaging: str, out: str) -> None:
    torch.set_num_threads(1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the CLI prints on rank 0)
    # the library: both ranks train, and keep their weights for the parent to compare
    _as_torchrun(rank, ports[0])
    ctx, _ = distributed.setup("cpu")
    assert ctx.rank == rank and ctx.world_size == WORLD
    trained = train(read_cohort(plain), MODEL, CONFIG)
    torch.save(
        {"state": trained.model.state_dict(), "history": trained.history},
        Path(out) / f"rank{rank}.pt",
    )
    # the CLI as torchrun starts it: train with images (rank 0 writes), then predict in chunks
    ck = str(Path(out) / "ck")
    args = ["train", "--data", imaging, "--out", ck, "--epochs", "1", "--batch-size", "25"]
    assert main([*args, "--device", "cpu", "--quiet"]) == 0
    _as_torchrun(rank, ports[1])
    args = ["predict", "--checkpoint", ck, "--data", imaging, "--out", str(Path(out) / "p.csv")]
    assert main([*args, "--chunk-size", "256", "--device", "cpu", "--quiet"]) == 0


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    plain = make_toy_cohort(n=160, seed=4, image_size=24, n_genes=15)
    plain.images = {}
    rng = np.random.default_rng(0)  # RNA-seq for a few patients: shards without it
    plain.rnaseq = plain.rnaseq.loc[rng.random(len(plain.rnaseq)) < 0.15]
    plain.write(root / "plain")
    make_toy_cohort(n=300, seed=6, image_size=24, n_genes=15).write(root / "imaging")
    out = root / "out"
    out.mkdir()
    ports = [_free_port(), _free_port()]
    args = (ports, str(root / "plain"), str(root / "imaging"), str(out))
    mp.spawn(_worker, args=args, nprocs=WORLD, join=True)
    ranks = [torch.load(out / f"rank{r}.pt") for r in range(WORLD)]
    return root, out, ranks


def test_both_ranks_end_with_identical_weights(run) -> None:
    _, _, (first, second) = run
    assert first["state"].keys() == second["state"].keys()
    for name, tensor in first["state"].items():
        assert torch.equal(tensor, second["state"][name]), name
    assert first["history"] == second["history"]


def test_two_processes_equal_one_on_the_same_global_batches(run) -> None:
    root, _, (first, _) = run
    single = train(read_cohort(root / "plain"), MODEL, CONFIG)
    want = single.model.state_dict()
    diff = max((first["state"][k] - want[k]).abs().max().item() for k in want)
    assert diff < TOLERANCE, f"max weight difference {diff:.2e}"
    losses = [r["train_loss"] for r in first["history"]]
    assert losses[-1] < losses[0] - 0.02, f"the loss did not fall: {losses}"
    for got, ref in zip(first["history"], single.history):
        assert got["train_loss"] == pytest.approx(ref["train_loss"], abs=1e-5)
        assert got["val_auroc"] == pytest.approx(ref["val_auroc"], abs=1e-3)


def test_the_cli_under_torchrun_writes_once_and_predicts_as_one_process(run, tmp_path) -> None:
    root, out, _ = run
    ck = out / "ck"
    assert (ck / "model.safetensors").is_file() and (ck / "history.json").is_file()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    single = tmp_path / "p.csv"
    args = ["predict", "--checkpoint", str(ck), "--data", str(root / "imaging")]
    assert main([*args, "--out", str(single), "--device", "cpu", "--quiet"]) == 0
    assert (out / "p.csv").read_bytes() == single.read_bytes()
    assert len(pd.read_csv(single)) == 300


def test_shards_cover_every_row_once_and_differ_by_at_most_one() -> None:
    for size in (1, 2, 7, 25, 64):
        for world in (1, 2, 3, 8):
            parts = [
                range(size)[distributed.shard(size, distributed.Context(r, world))]
                for r in range(world)
            ]
            assert [i for p in parts for i in p] == list(range(size))
            assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_global_batches_follow_the_seeded_order_and_skip_a_short_tail() -> None:
    batches = distributed.GlobalBatches(10, 4, torch.Generator().manual_seed(3), min_size=3)
    order = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    got = list(batches)
    assert [b.tolist() for b in got] == [order[:4].tolist(), order[4:8].tolist()]
    assert len(batches) == 2
