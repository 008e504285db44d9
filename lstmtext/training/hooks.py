"""What a training run is given (its data, where it computes) and what it calls out to (`TrainHooks`: the
observer, samples, checkpoints, a stop request, and the faults a test injects)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.model import RecurrentLM
from .checkpoint import Checkpoint
from .distributed import Ranks
from .progress import QuietObserver, TrainObserver


@dataclass(frozen=True)
class TrainingData:
    """The token streams (B, L) this process trains on, and the held-out streams every evaluation scores, whose
    text has `val_chars_per_token` characters per token."""

    streams: np.ndarray
    val_streams: np.ndarray
    val_chars_per_token: float


@dataclass(frozen=True)
class Runtime:
    """Where the run computes: the device, the precision, and with several processes this one's rank."""

    device: torch.device
    precision: str
    ranks: Ranks | None = None  # several processes: only rank 0 evaluates


@dataclass
class Faults:
    """Faults a test injects to exercise the run's defences: the loss of each step in `nan_steps` (1-based)
    turned into NaN once, and a stop requested right after step `stop_after` (rank 0's count, as for a signal)."""

    nan_steps: set[int] = field(default_factory=set)
    stop_after: int | None = None

    def corrupts(self, step: int) -> bool:
        if step in self.nan_steps:
            self.nan_steps.discard(step)
            return True
        return False


@dataclass(frozen=True)
class TrainHooks:
    """What the run calls out to: the observer of its progress; a short sample of text from the model at each
    evaluation; where checkpoints go (every `checkpoint_every` steps or `checkpoint_minutes`, and when
    `stop_requested()` turns true after a step, after which `run` raises StopRequested); injected faults."""

    observer: TrainObserver = QuietObserver()
    sample: Callable[[RecurrentLM], str] = lambda model: ""
    save_checkpoint: Callable[[Checkpoint], None] | None = None
    stop_requested: Callable[[], bool] = lambda: False
    faults: Faults = field(default_factory=Faults)
