import sys
from pathlib import Path

import pytest
import torch

# one thread: the 2-core machine is shared by test workers; oversubscribed threads are slower
torch.set_num_threads(1)

sys.path.insert(0, str(Path(__file__).parent))

from toy import make_toy_cohort  # noqa: E402


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
    from amff.checkpoint import save_checkpoint
    from amff.config import ModelConfig, TrainConfig
    from amff.trainer import train

    trained = train(toy_cohort, ModelConfig(kind="amff"), TrainConfig(epochs=4, seed=0))
    folder = tmp_path_factory.mktemp("ckpt") / "amff-toy"
    save_checkpoint(
        folder,
        trained.model,
        trained.preprocessor,
        trained.model_config,
        trained.train_config,
        trained.threshold,
        trained.history,
    )
    return folder
