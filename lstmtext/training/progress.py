"""What a training run reports as it goes (to an observer the caller supplies), where it stands, and what it
ends with. Draws nothing."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

import torch


@dataclass(frozen=True)
class StepReport:
    step: int
    total_steps: int | None
    epoch: int
    loss: float
    lr: float
    tokens_per_second: float
    elapsed: float
    fraction_done: float


@dataclass(frozen=True)
class EvalReport:
    step: int
    val_loss: float  # nats per token
    perplexity: float
    bits_per_char: float
    sample: str
    is_best: bool


@dataclass(frozen=True)
class TrainPlan:
    total_steps: int | None
    max_time: float | None
    steps_per_epoch: int
    parameters: int
    device: str
    precision: str


class TrainObserver(Protocol):
    def on_note(self, message: str) -> None: ...
    def on_start(self, plan: TrainPlan) -> None: ...
    def on_step(self, report: StepReport) -> None: ...
    def on_eval(self, report: EvalReport) -> None: ...


class QuietObserver:
    """An observer that ignores every report."""

    def on_note(self, message: str) -> None:
        pass

    def on_start(self, plan: TrainPlan) -> None:
        pass

    def on_step(self, report: StepReport) -> None:
        pass

    def on_eval(self, report: EvalReport) -> None:
        pass


class StopRequested(Exception):
    """Training stopped on request after `step`, its checkpoint written."""

    def __init__(self, step: int) -> None:
        super().__init__(f"stopped after step {step}")
        self.step = step


@dataclass
class RunPosition:
    """Where a run stands. With the weights, the optimizer, the recurrent state and the RNG states it is
    everything needed to continue the run exactly (see `checkpoint`)."""

    step: int = 0
    epoch: int = 1
    window: int = 0  # the next BPTT window within the epoch
    tokens_seen: int = 0
    elapsed: float = 0.0  # seconds of training so far, over every process that ran it
    since_eval: float = 0.0
    best: EvalReport | None = None
    lr_scale: float = 1.0  # lowered each time training rolls back after diverging

    def to_dict(self) -> dict:
        data = asdict(self)
        data["best"] = asdict(self.best) if self.best else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunPosition:
        return cls(**{**data, "best": EvalReport(**data["best"]) if data.get("best") else None})


@dataclass
class TrainOutcome:
    best_weights: dict[str, torch.Tensor]
    best: EvalReport | None  # None only on ranks other than 0, which do not evaluate
    steps: int
    elapsed: float
    tokens_seen: int
