"""The Trainer for every model (paper section 3.3), and `train()` from a cohort to a model.

The trainer knows no model's internals: a model maps (Batch, present) to a FusionOutput. It
reports through callbacks; the CLI hangs a tqdm bar on them, the dashboard a progress bar.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from amff import metrics
from amff.config import ModelConfig, TrainConfig
from amff.data.cohort import Cohort
from amff.data.dataset import Batch
from amff.data.preprocess import Preprocessor
from amff.errors import InputError
from amff.modalities import MODALITIES
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
        part = batch.index(slice(start, start + chunk)).trim_text()
        out = model(part, present[start : start + chunk])
        logits.append(out.logit)
        if out.modality_weights is not None:
            weights.append(out.modality_weights)
    model.train(was_training)
    return torch.cat(logits), (torch.cat(weights) if weights else None)


class Trainer:
    """Trains any of the models with BCE-with-logits, Adam, modality masking, gradient clipping
    and early stopping on validation AUROC; chooses the decision threshold on validation."""

    def __init__(
        self,
        config: TrainConfig,
        callbacks: Sequence[Callback] = (),
        device: str | torch.device = "cpu",
    ) -> None:
        self.config = config
        self.callbacks = list(callbacks)
        self.device = torch.device(device)

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
        logits, _ = predict_logits(model, val.to(self.device))
        probs = torch.sigmoid(logits).cpu().numpy()
        y = val.label.numpy()
        threshold = metrics.best_f1_threshold(y, probs)
        return FitResult(history, threshold, -1, metrics.auroc(y, probs))

    def _fit(self, model: nn.Module, train: Batch, val: Batch, name: str) -> FitResult:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)
        model.to(self.device)
        y_train = train.label.numpy()
        positives = float(y_train.sum())
        pos_weight = cfg.pos_weight
        if pos_weight is None:
            pos_weight = (len(y_train) - positives) / max(positives, 1.0)
        weight = torch.tensor(pos_weight, dtype=torch.float32, device=self.device)
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=weight)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        val_device = val.to(self.device)
        y_val = val.label.numpy()

        for cb in self.callbacks:
            cb.on_fit_start(name, cfg.epochs)
        history: list[dict[str, Any]] = []
        best_auroc, best_epoch, best_state = -math.inf, 0, None
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            order = torch.randperm(len(train), generator=generator)
            losses, seen_logits, seen_labels = [], [], []
            for start in range(0, len(train), cfg.batch_size):
                idx = order[start : start + cfg.batch_size]
                if len(idx) < 2:
                    continue
                part = train.index(idx).trim_text()
                present = mask_modalities(part.present, cfg.modality_dropout, generator)
                part = part.to(self.device)
                out = model(part, present.to(self.device))
                loss = loss_fn(out.logit, part.label)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                losses.append(loss.item() * len(idx))
                seen_logits.append(out.logit.detach().cpu())
                seen_labels.append(part.label.cpu())
            train_p = torch.sigmoid(torch.cat(seen_logits)).numpy()
            train_y = torch.cat(seen_labels).numpy()
            val_logits, _ = predict_logits(model, val_device)
            val_loss = loss_fn(val_logits, val_device.label).item()
            val_p = torch.sigmoid(val_logits).cpu().numpy()
            record = {
                "epoch": epoch,
                "train_loss": float(np.sum(losses) / max(len(train_y), 1)),
                "train_auroc": metrics.auroc(train_y, train_p),
                "train_f1": metrics.f1(train_y, train_p),
                "train_accuracy": metrics.accuracy(train_y, train_p),
                "val_loss": float(val_loss),
                "val_auroc": metrics.auroc(y_val, val_p),
                "val_f1": metrics.f1(y_val, val_p),
                "val_accuracy": metrics.accuracy(y_val, val_p),
            }
            history.append(record)
            for cb in self.callbacks:
                cb.on_epoch_end(name, record)
            score = (
                record["val_auroc"] if not math.isnan(record["val_auroc"]) else -record["val_loss"]
            )
            if score > best_auroc:
                best_auroc, best_epoch = score, epoch
                best_state = copy.deepcopy(model.state_dict())
            elif epoch - best_epoch >= cfg.patience:
                log.info("%s: early stop at epoch %d (best %d)", name, epoch, best_epoch)
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        val_logits, _ = predict_logits(model, val_device)
        val_p = torch.sigmoid(val_logits).cpu().numpy()
        threshold = metrics.best_f1_threshold(y_val, val_p)
        result = FitResult(history, threshold, best_epoch, float(best_auroc))
        for cb in self.callbacks:
            cb.on_fit_end(name, result)
        return result


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
    """Split, fit the preprocessors on the training patients, build and train a model."""
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
_ = MODALITIES
