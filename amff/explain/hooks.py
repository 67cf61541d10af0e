"""Forward hooks that swap or record a module's input or output, for one thread only.

A dashboard shares one Predictor across sessions. Attribution and attention calls are
serialised by `ATTRIBUTION_LOCK`, because they add hooks to the shared model for the duration
of a call. Each hook also acts only on the thread that registered it, so a prediction running
meanwhile in another thread (which does not take the lock) is never altered or recorded. Every
hook is removed when its `with` block ends, even on error.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

ATTRIBUTION_LOCK = threading.RLock()


@contextmanager
def grad_mode() -> Iterator[None]:
    """Ordinary autograd for the call, whatever the caller's no_grad or inference mode, so the
    patient's tensors are ordinary ones that Captum can differentiate through."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


@contextmanager
def replace_input(module: nn.Module, value: Tensor) -> Iterator[None]:
    """While open, `module` receives `value` as its input (on this thread only)."""
    owner = threading.get_ident()

    def hook(mod: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        return (value,) if threading.get_ident() == owner else None

    handle = module.register_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def replace_output(module: nn.Module, value: Tensor) -> Iterator[None]:
    """While open, `module` returns `value` (on this thread only)."""
    owner = threading.get_ident()

    def hook(mod: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        return value if threading.get_ident() == owner else None

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def capture_input(module: nn.Module) -> Iterator[list[Tensor]]:
    """Record the first input of every call of `module` on this thread."""
    owner, seen = threading.get_ident(), []

    def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
        if threading.get_ident() == owner:
            seen.append(args[0])

    handle = module.register_forward_pre_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


@contextmanager
def capture_output(module: nn.Module) -> Iterator[list[Tensor]]:
    """Record the output of every call of `module` on this thread."""
    owner, seen = threading.get_ident(), []

    def hook(mod: nn.Module, args: tuple[Any, ...], output: Tensor) -> None:
        if threading.get_ident() == owner:
            seen.append(output.detach())

    handle = module.register_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()
