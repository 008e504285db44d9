"""Training on several processes (GPUs, or CPU processes) with PyTorch's own engine: torch.distributed,
started by torchrun, and DistributedDataParallel.

    torchrun --nproc_per_node 2 -m lstmtext train corpus.txt

Each process (rank) trains on its own contiguous share of the batch's text streams; DDP averages the
gradients, so the run is the same as one process with the whole batch. Rank 0 evaluates, draws the display and
writes every file; decisions that depend on time or signals are taken by rank 0 and sent to all.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from ..core.model import State, map_state
from ..errors import BadInput


@dataclass(frozen=True)
class Ranks:
    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_main_process() -> bool:
    """False in the processes torchrun starts besides rank 0."""
    return int(os.environ.get("RANK", "0")) == 0


def world_size() -> int:
    """How many processes torchrun started (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def launched_by_torchrun() -> bool:
    return world_size() > 1


def start(device: torch.device) -> tuple[Ranks, torch.device]:
    """Join the process group torchrun set up; on CUDA each process takes the GPU of its local rank."""
    ranks = Ranks(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    if device.type == "cuda":
        torch.cuda.set_device(ranks.local_rank)
        device = torch.device("cuda", ranks.local_rank)
    elif device.type != "cpu":
        raise BadInput("multi-process training runs on CUDA or CPU, not {device}", "pass {example}", field="device",
                       device=device.type, example="cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return ranks, device


def stop() -> None:
    """Leave the process group while the interpreter is whole: gloo's threads may still hold work of a DDP wrapper
    that only a garbage collection frees, and freed at interpreter exit it can abort the process."""
    if dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def shard_streams(streams: np.ndarray, ranks: Ranks) -> np.ndarray:
    """This rank's contiguous share of the batch's streams (rows); the batch divides evenly."""
    if streams.shape[0] % ranks.world_size:
        raise BadInput("a batch of {streams} streams does not split over {processes} processes",
                       "pass a {name} that is a multiple of {processes}", field="batch_size",
                       streams=streams.shape[0], processes=ranks.world_size)
    share = streams.shape[0] // ranks.world_size
    return streams[ranks.rank * share:(ranks.rank + 1) * share]


def agree(flags: list[bool], device: torch.device) -> list[bool]:
    """Rank 0's values of `flags`, on every rank."""
    tensor = torch.tensor([float(f) for f in flags], device=device)
    dist.broadcast(tensor, src=0)
    return [bool(v) for v in tensor.tolist()]


def gather_rows(state: State, device: torch.device) -> State:
    """Every rank's recurrent state (L, b, H), joined along the batch in rank order: (L, world × b, H)."""
    def gather(part: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(part, device=device) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, part.to(device).contiguous())
        return torch.cat(parts, dim=1).cpu()

    return map_state(state, gather)


def own_rows(state: State, ranks: Ranks) -> State:
    """This rank's rows of a state gathered by `gather_rows`."""
    def rows(part: torch.Tensor) -> torch.Tensor:
        share = part.shape[1] // ranks.world_size
        return part[:, ranks.rank * share:(ranks.rank + 1) * share]

    return map_state(state, rows)


def gather_rng(states: dict[str, torch.Tensor], ranks: Ranks, device: torch.device) -> dict[str, torch.Tensor]:
    """Every rank's generator states, as `rank<R>.<name>`, plus rank 0's under their plain names."""
    gathered = dict(states) if ranks.is_main else {}
    for name, state in states.items():
        parts = [torch.empty_like(state, device=device) for _ in range(ranks.world_size)]
        dist.all_gather(parts, state.to(device))
        gathered.update({f"rank{rank}.{name}": part.cpu() for rank, part in enumerate(parts)})
    return gathered


def own_rng(states: dict[str, torch.Tensor], ranks: Ranks) -> dict[str, torch.Tensor]:
    prefix = f"rank{ranks.rank}."
    return {name[len(prefix):]: state for name, state in states.items() if name.startswith(prefix)}
