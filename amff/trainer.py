"""The Trainer for every model (paper section 3.3), and `train()` from a cohort to a model.

The trainer knows no model's internals: a model maps (Batch, present) to a FusionOutput. It
reports through callbacks; the CLI hangs a tqdm bar on them, the dashboard a progress bar.
"""

from __future__ import annotations

import copy
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from amff import distributed, metrics
from amff.config import ModelConfig, TrainConfig
from amff.data.cohort import Cohort
from amff.data.dataset import Batch, IndexDataset
from amff.data.preprocess import Preprocessor
from amff.distributed import GlobalBatches
from amff.errors import InputError
from amff.nn.models import LateFusion, build_model

log = logging.getLogger(__name__)

EVAL_CHUNK = 512


class Callback:
    """Hooks the trainer calls; override what you need."""

    def on_fit_start(self, name: str, epochs: int) -> None: ...

    def on_epoch_end(self, name: str, record: dict[str, Any]) -> None: ...

    def on_fit_end(self, name: str, result: FitResult) -> None: ...


@dataclass
class FitResult:
    history: list[dict[str, Any]]
    threshold: float
    best_epoch: int
    best_val_auroc: float


@dataclass
class _Step:
    """What one optimisation step needs (the DDP-wrapped net and the model it wraps)."""

    net: nn.Module
    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: nn.Module
    generator: torch.Generator
    ctx: Any


_RECORD_ORDER = (
    "epoch",
    "train_loss",
    "train_auroc",
    "train_f1",
    "train_accuracy",
    "val_loss",
    "val_auroc",
    "val_f1",
    "val_accuracy",
)


def mask_modalities(present: Tensor, p_drop: float, generator: torch.Generator) -> Tensor:
    """Drop each present modality with probability p_drop, always keeping at least one."""
    if p_drop <= 0:
        return present
    drop = torch.rand(present.shape, generator=generator) < p_drop
    kept = present & ~drop
    empty = (kept.sum(dim=1) == 0) & present.any(dim=1)
    if empty.any():
        scores = torch.rand(present.shape, generator=generator).masked_fill(~present, -1.0)
        choice = scores.argmax(dim=1)
        kept[empty, choice[empty]] = True
    return kept


@torch.no_grad()
def predict_logits(
    model: nn.Module, batch: Batch, present: Tensor | None = None, chunk: int = EVAL_CHUNK
) -> tuple[Tensor, Tensor | None]:
    """Logits (N,) and modality weights (N, 4) or None, in eval mode, in chunks."""
    was_training = model.training
    model.eval()
    present = batch.present if present is None else present
    logits, weights = [], []
    for start in range(0, len(batch), chunk):
        part = batch.index(slice(start, start + chunk)).trim()
        out = model(part, present[start : start + chunk])
        logits.append(out.logit)
        if out.modality_weights is not None:
            weights.append(out.modality_weights)
    model.train(was_training)
    return torch.cat(logits), (torch.cat(weights) if weights else None)


class Trainer:
    """Trains any of the models with BCE-with-logits, Adam, modality masking, gradient clipping
    and early stopping on validation AUROC; chooses the decision threshold on validation.

    In a process group (torchrun; see amff.distributed) it trains data-parallel with DDP:
    `config.batch_size` is the global batch, each rank computes its share of every global
    batch, and the run equals single-process training on the same global batches (up to
    float rounding, per-rank BatchNorm statistics and per-rank dropout draws). Validation is
    split over the ranks and gathered, so every rank computes the same metrics on the full
    validation set; rank 0 alone calls the callbacks and decides when to stop.
    """

    def __init__(
        self,
        config: TrainConfig,
        callbacks: Sequence[Callback] = (),
        device: str | torch.device = "cpu",
    ) -> None:
        self.config = config
        self.callbacks = list(callbacks)
        self.device = distributed.resolve_device(device)

    def fit(self, model: nn.Module, train: Batch, val: Batch) -> FitResult:
        if train.label is None or val.label is None:
            raise InputError("training needs labels: add a 0/1 label column to clinical.csv")
        if isinstance(model, LateFusion):
            return self._fit_late(model, train, val)
        return self._fit(model, train, val, name=getattr(model.config, "kind", "model"))

    def _fit_late(self, model: LateFusion, train: Batch, val: Batch) -> FitResult:
        """Late fusion: each unimodal member trained alone, on the patients that have it."""
        history: list[dict[str, Any]] = []
        for j, (name, member) in enumerate(model.members.items()):
            rows_t = train.present[:, j].nonzero().squeeze(1)
            rows_v = val.present[:, j].nonzero().squeeze(1)
            if rows_t.numel() < 4 or rows_v.numel() < 2:
                log.warning("late fusion: too few patients with %s to train its member", name)
                continue
            result = self._fit(member, train.index(rows_t), val.index(rows_v), name=f"late:{name}")
            history += [{**r, "member": name} for r in result.history]
        model.to(self.device)
        probs = torch.sigmoid(self._val_logits(model, val)).numpy()
        y = val.label.numpy()
        threshold = metrics.best_f1_threshold(y, probs)
        return FitResult(history, threshold, -1, metrics.auroc(y, probs))

    def _fit(self, model: nn.Module, train: Batch, val: Batch, name: str) -> FitResult:
        cfg = self.config
        ctx = distributed.context()
        torch.manual_seed(cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)  # the same on every rank
        model.to(self.device)
        y_train = train.label.numpy()
        positives = float(y_train.sum())
        pos_weight = cfg.pos_weight
        if pos_weight is None:
            pos_weight = (len(y_train) - positives) / max(positives, 1.0)
        weight = torch.tensor(pos_weight, dtype=torch.float32)
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=weight.to(self.device))
        val_loss_fn = nn.BCEWithLogitsLoss(pos_weight=weight)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        net = distributed.wrap(model, self.device)
        if ctx.distributed:
            torch.manual_seed(cfg.seed + ctx.rank)  # dropout: rank 0 draws as a single process
        dataset = IndexDataset(train)
        batches = GlobalBatches(len(train), cfg.batch_size, generator, max(2, ctx.world_size))
        y_val = val.label.numpy()

        callbacks = self.callbacks if ctx.is_main else []
        for cb in callbacks:
            cb.on_fit_start(name, cfg.epochs)
        history: list[dict[str, Any]] = []
        best_auroc, best_epoch, best_state = -math.inf, 0, None
        for epoch in range(1, cfg.epochs + 1):
            step = _Step(net, model, optimizer, loss_fn, generator, ctx)
            train_logits, train_y, loss_sum = self._train_epoch(step, dataset, batches, train)
            record = self._epoch_record(epoch, model, val, val_loss_fn, train_logits, train_y)
            record["train_loss"] = float(loss_sum / max(len(train_y), 1))
            record = {k: record[k] for k in _RECORD_ORDER}
            history.append(record)
            for cb in callbacks:
                cb.on_epoch_end(name, record)
            score = (
                record["val_auroc"] if not math.isnan(record["val_auroc"]) else -record["val_loss"]
            )
            # rank 0 decides; every rank follows, even if its float rounding differs
            improved = score > best_auroc
            stop = not improved and epoch - best_epoch >= cfg.patience
            improved, stop = distributed.broadcast_flags([improved, stop])
            if improved:
                best_auroc, best_epoch = score, epoch
                best_state = copy.deepcopy(model.state_dict())
            elif stop:
                log.info("%s: early stop at epoch %d (best %d)", name, epoch, best_epoch)
                break
        del net  # the DDP wrapper (and its gradient hooks) is not needed after training
        if best_state is not None:
            model.load_state_dict(best_state)
        distributed.check_same(f"{name}: the trained weights", model.state_dict())
        val_p = torch.sigmoid(self._val_logits(model, val)).numpy()
        threshold = metrics.best_f1_threshold(y_val, val_p)
        result = FitResult(history, threshold, best_epoch, float(best_auroc))
        for cb in callbacks:
            cb.on_fit_end(name, result)
        return result

    def _train_epoch(
        self, step: _Step, dataset: IndexDataset, batches: GlobalBatches, train: Batch
    ) -> tuple[Tensor, np.ndarray, float]:
        """One pass over the training set: (logits, labels) of every patient seen, gathered
        over the ranks, and the summed loss."""
        cfg, ctx = self.config, step.ctx
        step.net.train()
        loss_sum, seen_logits, seen_labels = 0.0, [], []
        for idx in batches:
            # the masks are drawn for the whole global batch, as in a single process
            masked = mask_modalities(train.present[idx], cfg.modality_dropout, step.generator)
            flips = torch.rand(len(idx), generator=step.generator) < 0.5 if cfg.augment else None
            mine = distributed.shard(len(idx), ctx)
            part = dataset.collate(idx[mine].tolist()).trim()
            if flips is not None:
                part = part.augment(flips[mine])
            part = part.to(self.device)
            out = step.net(part, masked[mine].to(self.device))
            # the shard's mean, scaled so DDP's average over ranks is the global batch's mean
            share = len(part) * ctx.world_size / len(idx)
            loss = step.loss_fn(out.logit, part.label) * share
            step.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(step.model.parameters(), cfg.grad_clip)
            step.optimizer.step()
            loss_sum += loss.item() / share * len(part)
            seen_logits.append(out.logit.detach().cpu())
            seen_labels.append(part.label.cpu())
        distributed.average_buffers(step.model)
        train_logits = distributed.gather_rows(torch.cat(seen_logits))
        train_y = distributed.gather_rows(torch.cat(seen_labels)).numpy()
        (loss_sum,) = distributed.all_reduce_sum([loss_sum])
        return train_logits, train_y, loss_sum

    def _epoch_record(
        self,
        epoch: int,
        model: nn.Module,
        val: Batch,
        val_loss_fn: nn.Module,
        train_logits: Tensor,
        train_y: np.ndarray,
    ) -> dict[str, Any]:
        """The epoch's metrics on the training patients seen and on validation."""
        train_p = torch.sigmoid(train_logits).numpy()
        val_logits = self._val_logits(model, val)
        val_loss = val_loss_fn(val_logits, val.label).item()
        val_p = torch.sigmoid(val_logits).numpy()
        y_val = val.label.numpy()
        return {
            "epoch": epoch,
            "train_auroc": metrics.auroc(train_y, train_p),
            "train_f1": metrics.f1(train_y, train_p),
            "train_accuracy": metrics.accuracy(train_y, train_p),
            "val_loss": float(val_loss),
            "val_auroc": metrics.auroc(y_val, val_p),
            "val_f1": metrics.f1(y_val, val_p),
            "val_accuracy": metrics.accuracy(y_val, val_p),
        }

    def _val_logits(self, model: nn.Module, val: Batch) -> Tensor:
        """Logits (N,) on the CPU for the whole validation set, in eval mode.

        The set is cut into EVAL_CHUNK blocks dealt round-robin to the ranks and gathered in
        order, so each patient is computed in the same block as in a single process.
        """
        ctx = distributed.context()
        starts = list(range(0, len(val), EVAL_CHUNK))[ctx.rank :: ctx.world_size]
        logits = [
            predict_logits(model, val.index(slice(s, s + EVAL_CHUNK)).to(self.device))[0].cpu()
            for s in starts
        ]
        mine = torch.cat(logits) if logits else torch.zeros(0)
        if not ctx.distributed:
            return mine
        # rank r holds blocks r, r + W, ...: gather, then put the blocks back in order
        sizes = distributed.gather_objects([min(EVAL_CHUNK, len(val) - s) for s in starts])
        gathered = distributed.gather_rows(mine)
        blocks: dict[int, Tensor] = {}
        offset = 0
        for rank, rank_sizes in enumerate(sizes):
            for j, size in enumerate(rank_sizes):
                blocks[rank + j * ctx.world_size] = gathered[offset : offset + size]
                offset += size
        return torch.cat([blocks[k] for k in sorted(blocks)])


@dataclass
class TrainedModel:
    """A trained model with everything needed to save it as a checkpoint."""

    model: nn.Module
    preprocessor: Preprocessor
    model_config: ModelConfig
    train_config: TrainConfig
    threshold: float
    history: list[dict[str, Any]]
    train_ids: list[str] = field(default_factory=list)
    val_ids: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | os.PathLike[str], metrics: dict[str, Any] | None = None) -> Path:
        """Save as a checkpoint folder (metrics.json: `metrics`, default the validation ones)."""
        from amff.checkpoint import save_checkpoint

        return save_checkpoint(
            path,
            self.model,
            self.preprocessor,
            self.model_config,
            self.train_config,
            self.threshold,
            self.history,
            {"validation": self.metrics} if metrics is None else metrics,
        )


def split_ids(cohort: Cohort, val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """A stratified train / validation split of the patient ids."""
    if cohort.labels is None:
        raise InputError("training needs labels: add a 0/1 label column to clinical.csv")
    rng = np.random.default_rng(seed)
    ids = np.array(cohort.ids)
    labels = cohort.labels.loc[ids].to_numpy()
    val: list[str] = []
    for value in (0, 1):
        group = ids[labels == value]
        if len(group) < 2:
            raise InputError(
                f"clinical.csv: only {len(group)} patient(s) with label {value}; training needs "
                "at least 2 of each class (and many more to learn anything)"
            )
        group = group[rng.permutation(len(group))]
        val += list(group[: max(1, round(len(group) * val_fraction))])
    chosen = set(val)
    train = [i for i in ids if i not in chosen]
    return train, [i for i in ids if i in chosen]


def train(
    cohort: Cohort,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    callbacks: Sequence[Callback] = (),
    device: str | torch.device = "cpu",
    image_size: int | None = None,
) -> TrainedModel:
    """Split, fit the preprocessors on the training patients, build and train a model.

    Under torchrun every rank calls this with the same cohort: the split and the preprocessor
    fit are deterministic, so every rank holds the same tensors and trains its share of each
    global batch (see Trainer). The model comes back on the CPU on every rank.
    """
    model_config = model_config or ModelConfig()
    train_config = train_config or TrainConfig()
    if len(cohort) < 10:
        raise InputError(f"the cohort has {len(cohort)} patients; training needs at least 10")
    usable = cohort.present_matrix().any(axis=1)
    if not usable.all():
        cohort = cohort.subset([i for i, ok in zip(cohort.ids, usable) if ok])
    train_ids, val_ids = split_ids(cohort, train_config.val_fraction, train_config.seed)
    size = image_size or _typical_image_size(cohort)
    preprocessor = Preprocessor.fit(
        cohort.subset(train_ids), image_size=size, max_len=model_config.text_max_len
    )
    # every rank splits and fits alike (both are deterministic); a rank that read other data
    # would train another model, so the run stops here instead
    distributed.check_same(
        "the split and the fitted preprocessor",
        "\n".join(
            [*train_ids, "|", *val_ids, preprocessor.to_json(), *preprocessor.files().values()]
        ),
    )
    train_batch = preprocessor.transform(cohort.subset(train_ids))
    val_batch = preprocessor.transform(cohort.subset(val_ids))
    torch.manual_seed(train_config.seed)
    model = build_model(model_config, preprocessor.schema())
    trainer = Trainer(train_config, callbacks, device)
    result = trainer.fit(model, train_batch, val_batch)
    model.cpu().eval()
    return TrainedModel(
        model=model,
        preprocessor=preprocessor,
        model_config=model_config,
        train_config=train_config,
        threshold=result.threshold,
        history=result.history,
        train_ids=train_ids,
        val_ids=val_ids,
        metrics={"best_epoch": result.best_epoch, "val_auroc": result.best_val_auroc},
    )


def _typical_image_size(cohort: Cohort) -> int:
    """64 unless the cohort's images are smaller (then their median side, at least 16)."""
    if not cohort.images:
        return 64
    sides = [min(img.shape) for img in cohort.images.values()]
    return int(max(16, min(64, int(np.median(sides)))))


__all__ = ["Callback", "FitResult", "TrainedModel", "Trainer", "mask_modalities", "train"]
