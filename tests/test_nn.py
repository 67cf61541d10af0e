"""The four model invariants of DESIGN.md, for every model where they apply."""

from itertools import combinations

import pytest
import torch

from amff.config import ModelConfig
from amff.data.dataset import Batch
from amff.modalities import MODALITIES
from amff.nn import build_model

KINDS = ["amff", "early", "late"]
ABLATIONS = {
    "amff": ModelConfig(kind="amff"),
    "amff-no-cross": ModelConfig(kind="amff", cross_attention=False),
    "amff-mean-pool": ModelConfig(kind="amff", pooling="mean"),
    "early": ModelConfig(kind="early"),
    "late": ModelConfig(kind="late"),
}
SUBSETS = [c for k in range(1, 5) for c in combinations(range(4), k)]


def _model(name, schema, seed=0):
    torch.manual_seed(seed)
    return build_model(ABLATIONS[name], schema).eval()


def _perturb(batch: Batch, j: int) -> Batch:
    """The same batch with modality j's inputs replaced by something else entirely."""
    g = torch.Generator().manual_seed(123)
    tensors = dict(batch.tensors)
    name = list(tensors)[j]
    if name == "tabular":
        values, missing, categories = tensors[name]
        tensors[name] = (
            torch.randn(values.shape, generator=g) * 5,
            1 - missing,
            torch.randint(0, 3, categories.shape, generator=g),
        )
    elif name == "text":
        tensors[name] = (torch.randint(1, 50, tensors[name][0].shape, generator=g),)
    else:  # image, rna: one float tensor
        tensors[name] = (torch.randn(tensors[name][0].shape, generator=g) * 3,)
    return Batch(tensors, batch.present, batch.label)


@pytest.mark.parametrize("name", list(ABLATIONS))
@pytest.mark.parametrize("j", range(4))
def test_masked_modality_has_no_influence(name, j, toy_batch, toy_preprocessor):
    model = _model(name, toy_preprocessor.schema())
    present = torch.ones(len(toy_batch), 4, dtype=torch.bool)
    present[:, j] = False
    with torch.no_grad():
        before = model(toy_batch, present)
        after = model(_perturb(toy_batch, j), present)
        # the perturbation does change the output when the modality is on
        on = torch.ones_like(present)
        changed = model(_perturb(toy_batch, j), on).logit
        baseline = model(toy_batch, on).logit
    assert torch.equal(before.logit, after.logit)
    if before.modality_weights is not None:
        assert torch.equal(before.modality_weights, after.modality_weights)
    assert not torch.allclose(changed, baseline)


@pytest.mark.parametrize("name", ["amff", "amff-no-cross", "amff-mean-pool"])
@pytest.mark.parametrize("subset", SUBSETS)
def test_weights_are_a_distribution_over_present_and_are_what_the_head_sees(
    name, subset, toy_batch, toy_preprocessor
):
    model = _model(name, toy_preprocessor.schema())
    present = torch.zeros(len(toy_batch), 4, dtype=torch.bool)
    present[:, list(subset)] = True
    seen = {}
    hook = model.classifier.register_forward_pre_hook(lambda mod, args: seen.update(x=args[0]))
    with torch.no_grad():
        out = model(toy_batch, present)
        z = model.fuse(model.encode(toy_batch, present), present)
    hook.remove()
    alpha = out.modality_weights
    assert (alpha >= 0).all()
    assert torch.allclose(alpha.sum(dim=1), torch.ones(len(toy_batch)), atol=1e-6)
    assert (alpha[~present] == 0).all()
    assert torch.equal(seen["x"], (alpha[..., None] * z).flatten(1))


@pytest.mark.parametrize("name", list(ABLATIONS))
def test_eval_output_does_not_depend_on_the_rest_of_the_batch(name, toy_batch, toy_preprocessor):
    model = _model(name, toy_preprocessor.schema())
    with torch.no_grad():
        together = model(toy_batch).logit
        alone = torch.cat([model(toy_batch.index(slice(i, i + 1))).logit for i in range(8)])
        shuffled = model(toy_batch.index(torch.arange(len(toy_batch)).flip(0))).logit.flip(0)
    assert torch.allclose(together[:8], alone, atol=1e-5)
    assert torch.allclose(together, shuffled, atol=1e-5)


@pytest.mark.parametrize("name", list(ABLATIONS))
def test_every_parameter_gets_a_gradient_and_nothing_is_nan(name, toy_batch, toy_preprocessor):
    model = _model(name, toy_preprocessor.schema()).train()
    full = torch.ones(len(toy_batch), 4, dtype=torch.bool)
    model.zero_grad()
    model(toy_batch, full).logit.sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{pname} has a non-finite gradient"
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())
    for subset in SUBSETS:
        present = torch.zeros_like(full)
        present[:, list(subset)] = True
        model.zero_grad()
        out = model(toy_batch, present)
        assert torch.isfinite(out.logit).all(), f"NaN logit for subset {subset}"
        out.logit.sum().backward()
        for pname, p in model.named_parameters():
            if p.grad is not None:
                assert torch.isfinite(p.grad).all(), f"{pname}: NaN gradient for {subset}"


def test_late_fusion_weights_are_the_averaging_weights(toy_batch, toy_preprocessor):
    model = _model("late", toy_preprocessor.schema())
    present = torch.tensor([[True, False, True, False]] * len(toy_batch))
    with torch.no_grad():
        out = model(toy_batch, present)
        members = [model.members[m.value](toy_batch, present).logit for m in MODALITIES]
    expected = (torch.sigmoid(members[0]) + torch.sigmoid(members[2])) / 2
    assert torch.allclose(torch.sigmoid(out.logit), expected, atol=1e-5)
    assert torch.equal(out.modality_weights[0], torch.tensor([0.5, 0.0, 0.5, 0.0]))
