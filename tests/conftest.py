"""Shared fixtures: toy cohorts, a trained toy checkpoint, the tiny checkpoint the bad-input
corpus runs against, and the toy dashboard data. Helpers are in tests/support/."""

import shutil
import sys
from pathlib import Path

import pytest
import torch

# one thread: the 2-core machine is shared by test workers; oversubscribed threads are slower
torch.set_num_threads(1)

# tests/ on the path, so `support` imports everywhere under it (tests/e2e too)
sys.path.insert(0, str(Path(__file__).parent))

from support.toy import make_toy_cohort  # noqa: E402


@pytest.fixture(scope="session")
def toy_cohort():
    return make_toy_cohort(n=240, seed=0)


@pytest.fixture(scope="session")
def toy_preprocessor(toy_cohort):
    from amff.data.preprocess import Preprocessor

    return Preprocessor.fit(toy_cohort, image_size=32)


@pytest.fixture(scope="session")
def toy_batch(toy_cohort, toy_preprocessor):
    return toy_preprocessor.transform(toy_cohort.subset(toy_cohort.ids[:24]))


@pytest.fixture(scope="session")
def trained_toy_checkpoint(tmp_path_factory, toy_cohort):
    """A small AMFF-HT trained on the toy cohort and saved (shared by several test files)."""
    from amff.config import ModelConfig, TrainConfig
    from amff.trainer import train

    trained = train(toy_cohort, ModelConfig(kind="amff"), TrainConfig(epochs=4, seed=0))
    folder = tmp_path_factory.mktemp("ckpt") / "amff-toy"
    trained.save(folder, metrics={})  # metrics.json stays empty
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> tuple[Path, Path]:
    """(cohort folder, checkpoint folder): make_toy_cohort(n=120, image_size=24, n_genes=12)
    written to a folder and trained with `python -m amff train --epochs 1` (run in this process
    through amff.cli.main), once per test session. The bad-input corpus runs against it."""
    from amff.cli import main

    root = tmp_path_factory.mktemp("tiny")
    cohort, checkpoint = root / "cohort", root / "checkpoint"
    make_toy_cohort(n=120, image_size=24, n_genes=12).write(cohort)
    argv = ["train", "--data", str(cohort), "--out", str(checkpoint), "--epochs", "1"]
    code = main([*argv, "--quiet"])
    assert code == 0, f"training the tiny checkpoint failed (exit status {code})"
    return cohort, checkpoint


@pytest.fixture(scope="session")
def toy_dashboard_data(tmp_path_factory, trained_toy_checkpoint) -> tuple[Path, Path]:
    """(checkpoints folder, demo cohort folder) for the dashboard when the shipped ones are
    missing: the trained toy checkpoint as amff-default and make_toy_cohort(n=60, seed=1)."""
    root = tmp_path_factory.mktemp("dashboard")
    shutil.copytree(trained_toy_checkpoint, root / "checkpoints" / "amff-default")
    make_toy_cohort(n=60, seed=1).write(root / "demo")
    return root / "checkpoints", root / "demo"
