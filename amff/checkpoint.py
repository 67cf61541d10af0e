"""The checkpoint folder: weights in safetensors, everything else JSON. Nothing is unpickled.

    model.safetensors   weights only
    config.json         model kind, ModelConfig, TrainConfig, data schema, threshold, version
    tokenizer.json      the fitted WordPiece tokenizer
    preprocess.json     the other fitted preprocessors
    history.json        per epoch: train and validation loss, AUROC, F1, accuracy
    metrics.json        held-out metrics, also per modality subset

A checkpoint trained on patient data carries that data's sensitivity: the preprocessors hold
per-feature means and ranges and the tokenizer holds words from the training notes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

import amff
from amff.config import ModelConfig, TrainConfig
from amff.data.preprocess import Preprocessor
from amff.errors import InputError
from amff.nn.models import build_model

FORMAT = "amff-checkpoint/1"
FILES = ("model.safetensors", "config.json", "tokenizer.json", "preprocess.json")


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    preprocessor: Preprocessor,
    model_config: ModelConfig,
    train_config: TrainConfig,
    threshold: float,
    history: list[dict[str, Any]] | None = None,
    metrics: dict[str, Any] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write a checkpoint folder atomically (all files appear together, or none)."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise InputError(f"{target}: already exists; choose another folder or remove it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(staging / "model.safetensors"), metadata={"format": FORMAT})
        config = {
            "format": FORMAT,
            "version": amff.__version__,
            "kind": model_config.kind,
            "model": model_config.to_dict(),
            "train": train_config.to_dict(),
            "schema": preprocessor.schema(),
            "threshold": float(threshold),
        }
        _write_json(staging / "config.json", config)
        (staging / "tokenizer.json").write_text(preprocessor.text.tokenizer_json, encoding="utf-8")
        (staging / "preprocess.json").write_text(preprocessor.to_json(), encoding="utf-8")
        _write_json(staging / "history.json", history or [])
        _write_json(staging / "metrics.json", metrics or {})
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, allow_nan=True) + "\n", encoding="utf-8")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InputError(
            f"{path}: not valid JSON; the checkpoint is damaged, use an unmodified copy"
        ) from None


def load_checkpoint(
    path: str | os.PathLike[str],
) -> tuple[nn.Module, Preprocessor, dict[str, Any], list[Any], dict[str, Any]]:
    """(model in eval mode, preprocessor, config dict, history, metrics) from a checkpoint folder.

    Raises InputError for a missing, damaged, tampered or mismatched checkpoint.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(
            f"{folder}: no such checkpoint folder; train one with `python -m amff train` "
            "or use checkpoints/amff-default"
        )
    for name in FILES:
        if not (folder / name).is_file():
            raise InputError(f"{folder}: {name} is missing; this is not a complete checkpoint")
    config = _read_json(folder / "config.json")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise InputError(
            f"{folder / 'config.json'}: not an AMFF-HT checkpoint config (format "
            f"{config.get('format') if isinstance(config, dict) else None!r}, expected {FORMAT!r})"
        )
    try:
        model_config = ModelConfig.from_dict(config["model"])
        TrainConfig.from_dict(config["train"])
        schema = config["schema"]
        float(config["threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"{folder / 'config.json'}: malformed ({exc}); use an unmodified copy"
        ) from None
    preprocessor = Preprocessor.from_json(
        (folder / "preprocess.json").read_text(encoding="utf-8"),
        (folder / "tokenizer.json").read_text(encoding="utf-8"),
    )
    if preprocessor.schema() != schema:
        raise InputError(
            f"{folder}: config.json's data schema does not match preprocess.json/tokenizer.json; "
            "the checkpoint was altered, use an unmodified copy"
        )
    weights_path = folder / "model.safetensors"
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InputError(
            f"{weights_path}: not a readable safetensors file ({str(exc)[:80]}); it may be "
            "truncated or not a safetensors file at all (pickles are never loaded)"
        ) from None
    try:
        model = build_model(model_config, schema)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{folder / 'config.json'}: cannot rebuild the model ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise InputError(
            f"{weights_path}: the weights do not match config.json ({len(missing)} missing, "
            f"{len(extra)} unexpected, e.g. {(missing or extra)[0]!r}); use the config.json "
            "saved with these weights"
        )
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise InputError(
                f"{weights_path}: {key} has shape {tuple(tensor.shape)} but config.json "
                f"builds {tuple(expected[key].shape)}; use the config.json saved with these weights"
            )
        if tensor.dtype.is_floating_point and not torch.isfinite(tensor).all():
            raise InputError(f"{weights_path}: {key} holds NaN or infinite values; retrain")
    model.load_state_dict(state)
    model.eval()
    history = _read_json(folder / "history.json") if (folder / "history.json").is_file() else []
    metrics = _read_json(folder / "metrics.json") if (folder / "metrics.json").is_file() else {}
    return model, preprocessor, config, history, metrics
