"""The checkpoint folder: weights in safetensors, everything else JSON. Nothing is unpickled.

    model.safetensors   weights only
    config.json         model kind, ModelConfig, TrainConfig, data schema, threshold, version
    tokenizer.json      the fitted WordPiece tokenizer
    preprocess.json     the other fitted preprocessors
    history.json        per epoch: train and validation loss, AUROC, F1, accuracy
    metrics.json        held-out metrics, also per modality subset
    complete.json       written last, listing the files: a folder without it is refused

A checkpoint trained on patient data carries that data's sensitivity: the preprocessors hold
per-feature means and ranges and the tokenizer holds words from the training notes.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

import amff
from amff.config import ModelConfig, TrainConfig
from amff.data.preprocess import Preprocessor
from amff.errors import InputError, write_failed
from amff.modalities import BUILTIN, get_spec
from amff.nn.models import build_model

FORMAT = "amff-checkpoint/2"  # /2: with MARKER
# /1 checkpoints predate MARKER; their writer renamed a finished staging folder into place, so
# one found under its own name is complete and loads without the marker
LEGACY_FORMAT = "amff-checkpoint/1"
READABLE = (LEGACY_FORMAT, FORMAT)
FILES = ("model.safetensors", "config.json", "preprocess.json")  # and each modality's own
MARKER = "complete.json"  # written last: a folder without it was not completely written


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
    """Write a checkpoint folder atomically (all files appear together, or none).

    The files are written into a hidden staging folder beside `path`, MARKER last, and the
    folder is then renamed into place; a process killed midway leaves at most a hidden
    staging folder, which nothing reads. A write that fails (a full disk, a read-only
    folder) raises InputError naming `path` and leaves an existing checkpoint as it was.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise InputError(f"{target}: already exists; choose another folder or remove it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise write_failed(target, exc) from None
    try:
        config = {
            "format": FORMAT,
            "version": amff.__version__,
            "kind": model_config.kind,
            "model": model_config.to_dict(),
            "train": train_config.to_dict(),
            "schema": preprocessor.schema(),
            "threshold": float(threshold),
        }
        _write_files(staging, model, preprocessor, config, history or [], metrics or {})
        _swap_into_place(staging, target)
    except (OSError, SafetensorError) as exc:
        raise write_failed(target, exc) from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _write_files(
    folder: Path,
    model: nn.Module,
    preprocessor: Preprocessor,
    config: dict[str, Any],
    history: list[dict[str, Any]],
    metrics: dict[str, Any],
) -> None:
    """Every file of the checkpoint, and MARKER, which lists them, last."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": FORMAT})
    _write_json(folder / "config.json", config)
    for name, text in preprocessor.files().items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "preprocess.json").write_text(preprocessor.to_json(), encoding="utf-8")
    _write_json(folder / "history.json", history)
    _write_json(folder / "metrics.json", metrics)
    write_marker(folder)


def write_marker(folder: Path) -> None:
    """MARKER: the checkpoint's format and files, written once every file is complete."""
    files = sorted(p.name for p in folder.iterdir() if p.name != MARKER)
    _write_json(folder / MARKER, {"format": FORMAT, "complete": True, "files": files})


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename the finished staging folder to target; an old target is moved aside first and
    removed after (a kill in between leaves it at a hidden name, never a half checkpoint).
    Two jobs saving to the same folder at once: each checkpoint arrives whole, the last wins."""
    for _ in range(5):
        if not target.exists():
            try:
                os.replace(staging, target)
                return
            except OSError as exc:
                if not _taken(exc):
                    raise
                continue
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        try:
            os.replace(target, old)
        except FileNotFoundError:  # another job moved it aside meanwhile
            continue
        try:
            os.replace(staging, target)
        except OSError as exc:
            if not _taken(exc):
                os.replace(old, target)  # put the old checkpoint back
                raise
        shutil.rmtree(old, ignore_errors=True)
        if not staging.exists():
            return
    os.replace(staging, target)  # still racing: the OSError, named by the caller


def _taken(exc: OSError) -> bool:
    """The rename failed because another job's checkpoint arrived at the target meanwhile."""
    return exc.errno in (errno.ENOTEMPTY, errno.EEXIST)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, allow_nan=True) + "\n", encoding="utf-8")


def _read_text(path: Path) -> str:
    """A checkpoint file's UTF-8 text; an InputError naming the file when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(
            f"{path}: not UTF-8 text; the checkpoint is damaged, use an unmodified copy"
        ) from None
    except OSError as exc:
        raise InputError(
            f"{path}: cannot be read ({exc.strerror or exc}); check that it is a readable file"
        ) from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_text(path))
    except (ValueError, RecursionError):
        raise InputError(
            f"{path}: not valid JSON; the checkpoint is damaged, use an unmodified copy"
        ) from None


def _weight_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The tensor names and shapes a safetensors file declares (its header only; no data)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            names = handle.keys()  # a safe_open handle is not iterable
            return {key: tuple(handle.get_slice(key).get_shape()) for key in names}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InputError(
            f"{path}: not a readable safetensors file ({str(exc)[:80]}); it may be "
            "truncated or not a safetensors file at all (pickles are never loaded)"
        ) from None


# Generous bounds on the model settings config.json may ask for, checked before any model is
# built: a tampered config.json must not make loading build a billion layers.
_MAX_LAYERS = 64
_MAX_SIZE = 1 << 16


def _model_config_problem(config: ModelConfig) -> str | None:
    defaults = ModelConfig()
    for name, value in config.to_dict().items():
        default = getattr(defaults, name)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            limit = _MAX_LAYERS if name.endswith("_layers") else _MAX_SIZE
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limit
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and 0.0 <= value < 1.0
        else:
            ok = isinstance(value, str)
        if not ok:
            return f"model setting {name}={str(value)[:20]} is out of range"
    return None


def _check_preprocessor(preprocessor: Preprocessor, folder: Path) -> None:
    """The fitted statistics are consistent (one per feature or gene, finite, sd > 0), so a
    tampered preprocess.json fails here, not in the middle of a prediction."""
    try:
        problem = _preprocessor_problem(preprocessor)
    except (TypeError, ValueError):
        problem = "preprocess.json", "a statistic is not a number"
    if problem:
        raise InputError(
            f"{folder / problem[0]}: {problem[1]}; the checkpoint is damaged, use an "
            "unmodified copy"
        )


def _preprocessor_problem(preprocessor: Preprocessor) -> tuple[str, str] | None:
    """(file, what is wrong) for the first problem found, or None."""
    return preprocessor.problem()


def _modality_files(folder: Path, schema: Any) -> dict[str, str]:
    """The files the model's modalities keep beside preprocess.json (tokenizer.json, ...)."""
    names = schema.get("modalities", BUILTIN) if isinstance(schema, dict) else BUILTIN
    files = {}
    for name in names:
        try:
            spec = get_spec(name)
        except ValueError:
            raise InputError(
                f"{folder / 'config.json'}: the model reads modality {str(name)[:40]!r}, which "
                "is not registered; register it before loading this checkpoint"
            ) from None
        for file in spec.checkpoint_files:
            if not (folder / file).is_file():
                raise InputError(f"{folder}: {file} is missing; this is not a complete checkpoint")
            files[file] = _read_text(folder / file)
    return files


def load_checkpoint(
    path: str | os.PathLike[str],
) -> tuple[nn.Module, Preprocessor, dict[str, Any], list[Any], dict[str, Any]]:
    """(model in eval mode, preprocessor, config dict, history, metrics) from a checkpoint folder.

    Raises InputError for a missing, damaged, tampered or mismatched checkpoint. Every file is
    checked before anything is built from it.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(
            f"{folder}: no such checkpoint folder; train one with `python -m amff train` "
            "or use checkpoints/amff-default"
        )
    _check_complete(folder)
    config, model_config, schema = _load_config(folder)
    preprocessor = _load_preprocessor(folder, schema)
    model = _load_model(folder / "model.safetensors", model_config, schema)
    history = _read_json(folder / "history.json") if (folder / "history.json").is_file() else []
    metrics = _read_json(folder / "metrics.json") if (folder / "metrics.json").is_file() else {}
    return model, preprocessor, config, history, metrics


def _check_complete(folder: Path) -> None:
    """No symbolic links (a link could read any file on the machine), MARKER present (the job
    that wrote the folder finished), and the files it lists present."""
    try:
        links = sorted(entry.name for entry in os.scandir(folder) if entry.is_symlink())
    except OSError as exc:
        raise InputError(
            f"{folder}: cannot be listed ({exc.strerror or exc}); check its permissions"
        ) from None
    if links:
        raise InputError(
            f"{folder / links[0]}: a symbolic link; a checkpoint folder must hold its own "
            "files, not links, so copy the real file in its place"
        )
    marker = folder / MARKER
    if not marker.is_file() and _declared_format(folder) == LEGACY_FORMAT:
        for name in FILES:
            if not (folder / name).is_file():
                raise InputError(f"{folder}: {name} is missing; this is not a complete checkpoint")
        return
    if not marker.is_file():
        raise InputError(
            f"{folder}: {MARKER} is missing, so the job that wrote this checkpoint was "
            "interrupted (or the copy is partial); rerun it to write a complete checkpoint"
        )
    listed = _read_json(marker)
    files = listed.get("files") if isinstance(listed, dict) else None
    if not isinstance(files, list) or listed.get("format") not in READABLE:
        raise InputError(f"{marker}: not a checkpoint marker; the checkpoint is damaged, rerun it")
    for name in (*FILES, *(str(f) for f in files)):
        if not (folder / name).is_file():
            raise InputError(f"{folder}: {name} is missing; this is not a complete checkpoint")


def _declared_format(folder: Path) -> Any:
    """config.json's format field, or None when it cannot be read (reported later)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    return config.get("format") if isinstance(config, dict) else None


def _load_config(folder: Path) -> tuple[dict[str, Any], ModelConfig, Any]:
    """config.json, checked: its format, settings within bounds, a threshold in [0, 1]."""
    config = _read_json(folder / "config.json")
    if not isinstance(config, dict) or config.get("format") not in READABLE:
        raise InputError(
            f"{folder / 'config.json'}: not an AMFF-HT checkpoint config (format "
            f"{config.get('format') if isinstance(config, dict) else None!r}, expected {FORMAT!r})"
        )
    try:
        model_config = ModelConfig.from_dict(config["model"])
        TrainConfig.from_dict(config["train"])
        schema = config["schema"]
        threshold = float(config["threshold"])
    except Exception as exc:  # any malformed field (ZeroDivisionError for heads=0, ...)
        raise InputError(
            f"{folder / 'config.json'}: malformed ({type(exc).__name__}: {str(exc)[:80]}); use "
            "an unmodified copy"
        ) from None
    problem = _model_config_problem(model_config)
    if problem:
        raise InputError(f"{folder / 'config.json'}: {problem}; use an unmodified copy")
    if not 0.0 <= threshold <= 1.0:  # also false for NaN
        raise InputError(
            f"{folder / 'config.json'}: threshold {threshold} is not a probability in [0, 1]; "
            "use an unmodified copy"
        )
    return config, model_config, schema


def _load_preprocessor(folder: Path, schema: Any) -> Preprocessor:
    """preprocess.json and the modalities' files, consistent with config.json's schema."""
    try:
        preprocessor = Preprocessor.from_json(
            _read_text(folder / "preprocess.json"),
            _modality_files(folder, schema),
            schema.get("modalities", BUILTIN) if isinstance(schema, dict) else None,
        )
    except InputError as exc:
        if str(folder) in str(exc):
            raise
        raise InputError(f"{folder}: {exc}") from None
    try:
        same_schema = preprocessor.schema() == schema
    except Exception:  # a field of the wrong type
        same_schema = False
    if not same_schema:
        raise InputError(
            f"{folder}: config.json's data schema does not match preprocess.json/tokenizer.json; "
            "the checkpoint was altered, use an unmodified copy"
        )
    _check_preprocessor(preprocessor, folder)
    return preprocessor


def _load_model(weights_path: Path, model_config: ModelConfig, schema: Any) -> nn.Module:
    """The model, once its weights' names and shapes match what config.json builds."""
    config_path = weights_path.parent / "config.json"
    declared = _weight_shapes(weights_path)
    # the model config is checked against the weights on the meta device first: a config.json
    # that asks for a huge model costs no memory before it is refused
    try:
        with torch.device("meta"):
            skeleton = build_model(model_config, schema)
    except Exception as exc:
        raise InputError(
            f"{config_path}: cannot rebuild the model ({type(exc).__name__}: "
            f"{str(exc)[:80]}); use an unmodified copy"
        ) from None
    _check_shapes(
        weights_path, declared, {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    )
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InputError(
            f"{weights_path}: not a readable safetensors file ({str(exc)[:80]}); it may be "
            "truncated or not a safetensors file at all (pickles are never loaded)"
        ) from None
    for key, tensor in state.items():
        if tensor.dtype.is_floating_point and not torch.isfinite(tensor).all():
            raise InputError(f"{weights_path}: {key} holds NaN or infinite values; retrain")
    try:
        model = build_model(model_config, schema)
        model.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise InputError(
            f"{weights_path}: the weights cannot be loaded ({str(exc)[:80]}); use the "
            "config.json saved with these weights"
        ) from None
    return model.eval()


def _check_shapes(
    weights_path: Path, declared: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]]
) -> None:
    missing = sorted(set(expected) - set(declared))
    extra = sorted(set(declared) - set(expected))
    if missing or extra:
        raise InputError(
            f"{weights_path}: the weights do not match config.json ({len(missing)} missing, "
            f"{len(extra)} unexpected, e.g. {(missing or extra)[0]!r}); use the config.json "
            "saved with these weights"
        )
    for key, shape in declared.items():
        if shape != expected[key]:
            raise InputError(
                f"{weights_path}: {key} has shape {shape} but config.json builds "
                f"{expected[key]}; use the config.json saved with these weights"
            )
