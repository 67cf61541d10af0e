"""Data parallelism over patients with PyTorch's own engine: torchrun, gloo on CPU, NCCL on GPU.

A process that torchrun starts finds RANK, WORLD_SIZE and LOCAL_RANK in its environment;
`setup()` joins the process group they describe (a plain process stays alone and every helper
here is then a no-op, so one code path serves both). The trainer and the chunked scoring use
the helpers below; docs/scaling.md says how to launch a run on one GPU, one node or several.

The choices, each one so that a run on N processes equals the same run on one:
- Global batches: every rank draws the same shuffled order from one seeded generator and takes
  its share of each global batch (`GlobalBatches`, `shard`), so the patients in a step, and
  the modality masks drawn for them, are those of single-process training. (DistributedSampler
  pads the epoch with repeated patients and shuffles with its own generator; it cannot match.)
- The trainer scales each rank's mean loss by its share of the global batch, so DDP's gradient
  average is the gradient of the global batch's mean loss even when shards differ in size.
- Unused parameters: an encoder runs only on the rows that have its modality, so a rank whose
  shard has no image skips the image encoder; DDP is built with find_unused_parameters=True,
  which counts that rank's gradient as zero (the exact global mean) and leaves a parameter
  that no rank used without a gradient, as a single process would.
- BatchNorm (the image encoder's ResNet): plain BatchNorm, batch statistics per rank in
  training; `average_buffers` averages the running statistics across ranks before every
  validation, so all ranks evaluate and save the same model. SyncBatchNorm is not used: it is
  a collective inside forward, and a rank without images in its shard would never call it,
  leaving the others waiting forever.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import Sampler

from amff.errors import InputError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """Where this process stands in the run: rank r of world_size (1 when alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that reports progress and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def context() -> Context:
    """This process's place in the process group (rank 0 of 1 when there is none)."""
    if dist.is_available() and dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        return Context(dist.get_rank(), dist.get_world_size(), local)
    return Context()


def launched() -> bool:
    """Whether torchrun (or another launcher) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """auto | cpu | cuda | cuda:K -> a device; under torchrun, `cuda` is GPU LOCAL_RANK."""
    text = str(name)
    if text == "auto":
        text = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(text)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA GPU is available here; use cpu or auto")
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        if device.index >= torch.cuda.device_count():
            raise InputError(
                f"device {device}: this machine has {torch.cuda.device_count()} GPU(s); start "
                "at most that many processes per node (torchrun --nproc-per-node)"
            )
    return device


def setup(device: str | torch.device = "auto") -> tuple[Context, torch.device]:
    """Join the process group torchrun describes (NCCL for GPUs, gloo for CPUs) and pick this
    rank's device. A process started alone stays alone: rank 0 of 1."""
    chosen = resolve_device(device)
    if not launched() or (dist.is_available() and dist.is_initialized()):
        return context(), chosen
    if not dist.is_available():
        raise InputError("this PyTorch build has no torch.distributed; run a single process")
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
        dist.init_process_group("nccl", device_id=chosen)
    else:
        dist.init_process_group("gloo")
    ctx = context()
    log.info("rank %d of %d on %s", ctx.rank, ctx.world_size, chosen)
    return ctx, chosen


def teardown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if context().distributed:
        dist.barrier()


# -- what every rank trains on ----------------------------------------------------------------
class GlobalBatches(Sampler[Tensor]):
    """Shuffled global batches of positions 0..n-1, the same on every rank.

    The order comes from `generator`, drawn when an epoch's iteration starts; every rank seeds
    it alike, so every rank sees the same global batches and takes its `shard` of each. Batches
    smaller than `min_size` (a short last batch) are skipped.
    """

    def __init__(self, n: int, batch_size: int, generator: torch.Generator, min_size: int = 2):
        self.n, self.batch_size, self.min_size = n, batch_size, min_size
        self.generator = generator

    def __iter__(self) -> Iterator[Tensor]:
        order = torch.randperm(self.n, generator=self.generator)
        for start in range(0, self.n, self.batch_size):
            batch = order[start : start + self.batch_size]
            if len(batch) >= self.min_size:
                yield batch

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + int(rest >= self.min_size)


def shard(size: int, ctx: Context | None = None) -> slice:
    """This rank's contiguous share of `size` items (shares differ by at most one)."""
    ctx = ctx or context()
    base, extra = divmod(size, ctx.world_size)
    start = ctx.rank * base + min(ctx.rank, extra)
    return slice(start, start + base + int(ctx.rank < extra))


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """The model as DistributedDataParallel when there are several ranks (itself otherwise).

    DDP starts every rank from rank 0's weights. find_unused_parameters: an encoder skipped on
    one rank (no patient with its modality in the shard) gets a zero gradient there.
    forward_sync_buffers=False: BatchNorm keeps per-rank running statistics until
    `average_buffers` (a broadcast inside forward would overwrite them with rank 0's).
    """
    if not context().distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(
        model,
        device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=True,
        forward_sync_buffers=False,
    )


# -- collectives (no-ops in one process) ------------------------------------------------------
def _comm_device() -> torch.device:
    """NCCL moves CUDA tensors only; gloo moves CPU tensors."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(values: Sequence[float]) -> list[float]:
    """Element-wise sums across ranks (in float64)."""
    if not context().distributed:
        return [float(v) for v in values]
    tensor = torch.tensor(list(values), dtype=torch.float64, device=_comm_device())
    dist.all_reduce(tensor)
    return tensor.cpu().tolist()


def broadcast_flags(flags: Sequence[bool]) -> list[bool]:
    """Rank 0's flags on every rank: one decision (early stopping, best epoch) for all."""
    if not context().distributed:
        return [bool(f) for f in flags]
    tensor = torch.tensor([int(bool(f)) for f in flags], dtype=torch.int64, device=_comm_device())
    dist.broadcast(tensor, src=0)
    return [bool(v) for v in tensor.cpu().tolist()]


def gather_rows(tensor: Tensor) -> Tensor:
    """Every rank's rows (dim 0, any count per rank), concatenated in rank order, on every rank.

    Returned on the CPU.
    """
    if not context().distributed:
        return tensor.cpu()
    device = _comm_device()
    world = dist.get_world_size()
    local = tensor.to(device).contiguous()
    count = torch.tensor([local.shape[0]], dtype=torch.int64, device=device)
    counts = [torch.zeros_like(count) for _ in range(world)]
    dist.all_gather(counts, count)
    sizes = [int(c.item()) for c in counts]
    longest = max(sizes)
    padded = local.new_zeros((longest, *local.shape[1:]))
    padded[: local.shape[0]] = local
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[:n] for p, n in zip(parts, sizes)]).cpu()


def gather_objects(value: Any) -> list[Any]:
    """Every rank's (picklable) value, in rank order, on every rank."""
    if not context().distributed:
        return [value]
    values: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    return values


def average_buffers(module: nn.Module) -> None:
    """Average the floating-point buffers (BatchNorm running statistics) across ranks."""
    if not context().distributed:
        return
    world = dist.get_world_size()
    device = _comm_device()
    for buffer in module.buffers():
        if buffer.is_floating_point():
            value = buffer.detach().to(device)
            dist.all_reduce(value)
            buffer.copy_(value.to(buffer.device) / world)


def fingerprint(values: dict[str, Tensor] | str) -> str:
    """A SHA-256 of a state dict's tensors (names, shapes, bytes) or of a text."""
    digest = hashlib.sha256()
    if isinstance(values, str):
        digest.update(values.encode("utf-8"))
        return digest.hexdigest()
    for name, tensor in values.items():
        array = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(array.shape)}:{array.dtype}".encode())
        digest.update(array.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def check_same(what: str, value: dict[str, Tensor] | str) -> None:
    """RuntimeError unless every rank holds the same `value` (weights, a fitted preprocessor):
    a run whose ranks disagree trains nothing sound, so it stops."""
    if not context().distributed:
        return
    prints = gather_objects(fingerprint(value))
    if len(set(prints)) != 1:
        raise RuntimeError(
            f"{what} differs between ranks ({len(set(prints))} versions); every rank must "
            "read the same data and run the same code"
        )


# -- work split in chunks ---------------------------------------------------------------------
@dataclass
class _Failed:
    """An error raised on one rank, carried to all so that every rank stops together."""

    error: Exception


def map_ordered(count: int, work: Callable[[int], T]) -> Iterator[T]:
    """work(k) for k in 0..count-1, split round-robin over the ranks; rank 0 gets every result
    in order (other ranks get none). An error on any rank is raised on every rank (the first
    failing item's), instead of leaving the others waiting for its result."""
    ctx = context()
    if not ctx.distributed:
        for k in range(count):
            yield work(k)
        return
    for first in range(0, count, ctx.world_size):
        k = first + ctx.rank
        result: Any = None
        if k < count:
            try:
                result = work(k)
            except Exception as exc:  # re-raised below, on every rank
                result = _Failed(exc)
        results = gather_objects(result)
        failed = [r for r in results if isinstance(r, _Failed)]
        if failed:
            raise failed[0].error
        if ctx.is_main:
            yield from results[: count - first]


__all__ = [
    "Context",
    "GlobalBatches",
    "all_reduce_sum",
    "average_buffers",
    "barrier",
    "broadcast_flags",
    "check_same",
    "context",
    "gather_objects",
    "gather_rows",
    "launched",
    "map_ordered",
    "resolve_device",
    "setup",
    "shard",
    "teardown",
    "wrap",
]
