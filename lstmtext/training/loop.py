"""The training loop: AdamW, gradient clipping, warm-up + cosine schedule, evaluation, best-model keeping.

Truncated backprop through time on stateful streams: the hidden state at the end of one batch starts
the next (each batch row continues the same stretch of text), detached so gradients stop at the boundary.
Draws nothing: it reports progress to an observer the caller supplies.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from .checkpoint import Checkpoint, capture_rng, restore_rng
from ..core.config import ModelConfig, TrainConfig, recurrent_parameters, trained_weights
from ..core.corpus import bptt_windows, windows_per_epoch
from ..core.device import autocast
from .distributed import Ranks, agree, gather_rng, gather_rows, own_rng, own_rows
from ..errors import TrainingFailed
from ..core.model import RecurrentLM, State, detach_state, map_state

LN2 = math.log(2)
_BAD_STEPS_BEFORE_ROLLBACK = 3
_MAX_ROLLBACKS = 3
_ROLLBACK_LR_FACTOR = 0.5
# Test hook: steps (1-based, comma-separated) whose loss is replaced by NaN, to exercise divergence handling.
NAN_STEPS_VARIABLE = "LSTMTEXT_TEST_NAN_STEPS"
# Test hook: act as if Ctrl-C came right after this step (rank 0's counts, as for a real signal).
STOP_AFTER_VARIABLE = "LSTMTEXT_TEST_STOP_AFTER_STEP"
_FINAL_LR_FRACTION = 0.1
_SPEED_PROBE_SECONDS = 0.5
# Measured on 2 cores, light regularization: 3×192 trains at 21k tokens/s (113 GFLOP/s over its weights and
# the decoder's) where the probe runs at 156-171 GFLOP/s.
_LSTM_SHARE_OF_STEP = 0.7


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
    def from_dict(cls, data: dict) -> "RunPosition":
        return cls(**{**data, "best": EvalReport(**data["best"]) if data.get("best") else None})


@dataclass
class TrainOutcome:
    best_weights: dict[str, torch.Tensor]
    best: EvalReport | None  # None only on ranks other than 0, which do not evaluate
    steps: int
    elapsed: float
    tokens_seen: int


def stream_nll(model: RecurrentLM, windows: Iterable[tuple[np.ndarray, np.ndarray]], device: torch.device,
               precision: str) -> tuple[float, int]:
    """Total negative log-likelihood (nats) and token count over consecutive windows, carrying the state."""
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for inputs, targets in windows:
            x = torch.from_numpy(inputs.astype(np.int64)).to(device)  # (B, T)
            y = torch.from_numpy(targets.astype(np.int64)).to(device)  # (B, T)
            with autocast(device, precision):
                logits, state = model(x, state)  # (B, T, V)
            total += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="sum").item()
            count += y.numel()
    return total, count


def probe_speed(device: torch.device, layers: int, precisions: tuple[str, ...] = ("fp32",)) -> dict[str, float]:
    """The FLOP/s at which `device` runs an LSTM's forward and backward pass in each precision, timed on a
    small one (6 FLOPs per weight and token: forward 2, backward 4). A plain matmul probe was tried first and
    drifted twice as much as training did on a shared machine."""
    probe_hidden, batch, length = 256, 32, 64
    lstm = torch.nn.LSTM(probe_hidden, probe_hidden, layers, batch_first=True).to(device)
    inputs = torch.randn(batch, length, probe_hidden, device=device)
    seconds: dict[str, list[float]] = {precision: [] for precision in precisions}
    probe_started = time.perf_counter()
    # The first pass of each wakes the thread pool and is not counted; then the fastest of the rest, so that a
    # neighbour's burst on a shared machine does not shrink the model. Precisions take turns, so a burst slows
    # each alike.
    while min(map(len, seconds.values())) < 4 or (
            time.perf_counter() - probe_started < _SPEED_PROBE_SECONDS * len(precisions)
            and min(map(len, seconds.values())) < 50):
        for precision, times in seconds.items():
            started = time.perf_counter()
            with autocast(device, precision):
                outputs, _ = lstm(inputs)
            outputs.float().sum().backward()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - started)
    flops = 6 * recurrent_parameters(probe_hidden, probe_hidden, layers) * batch * length
    return {precision: flops / min(times[1:]) for precision, times in seconds.items()}


def training_speed(flops_per_second: float, vocab_size: int, layers: int) -> Callable[[int], float]:
    """Estimated training tokens/s of a model with hidden size H, as a function of H: the LSTM rate measured
    by `probe_speed`, spread over the weights of a model that size, times the share of that rate the whole
    training step keeps (`_LSTM_SHARE_OF_STEP`, measured)."""
    def tokens_per_second(hidden: int) -> float:
        return _LSTM_SHARE_OF_STEP * flops_per_second / (6 * trained_weights(hidden, layers, vocab_size))

    return tokens_per_second


def activation_penalty(raw: torch.Tensor, dropped: torch.Tensor, config: ModelConfig) -> torch.Tensor | float:
    """AR (the size of the last layer's dropped-out output) and TAR (how much its raw output changes from one
    step to the next), as AWD-LSTM adds them to the loss; 0 when both are off."""
    penalty = 0.0
    if config.activation_reg:
        penalty = penalty + config.activation_reg * dropped.float().pow(2).mean()
    if config.temporal_reg and raw.shape[1] > 1:
        penalty = penalty + config.temporal_reg * (raw[:, 1:] - raw[:, :-1]).float().pow(2).mean()
    return penalty


def learning_rate(config: TrainConfig, step: int, fraction_done: float, total_steps: int | None) -> float:
    warmup = config.warmup_steps if total_steps is None else min(config.warmup_steps, max(1, total_steps // 10))
    if step < warmup:
        return config.lr * (step + 1) / warmup
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, fraction_done)))
    return config.lr * (_FINAL_LR_FRACTION + (1 - _FINAL_LR_FRACTION) * cosine)


def _adamw(parameters: list[torch.nn.Parameter], config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with its fused kernel where the device has one (about 4× cheaper per step on CPU), else the
    default implementation."""
    try:
        return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)


class Trainer:
    """One training run over `streams` (B, L), evaluated on `val_streams` whose text has `val_chars_per_token`.
    `save_checkpoint`, if given, receives a checkpoint every `checkpoint_every` steps or `checkpoint_minutes`,
    and when `stop_requested()` turns true after a step; then `run` raises `StopRequested`."""

    def __init__(self, model: RecurrentLM, config: TrainConfig, streams: np.ndarray, val_streams: np.ndarray,
                 val_chars_per_token: float, device: torch.device, precision: str,
                 sample: Callable[[RecurrentLM], str], observer: TrainObserver,
                 save_checkpoint: Callable[[Checkpoint], None] | None = None,
                 stop_requested: Callable[[], bool] = lambda: False, ranks: Ranks | None = None) -> None:
        self.model, self.config, self.device, self.precision = model, config, device, precision
        self.streams, self.val_streams = streams, val_streams
        self.val_chars_per_token = val_chars_per_token
        self.sample, self.observer, self.save_checkpoint = sample, observer, save_checkpoint
        self.stop_requested = stop_requested
        self.ranks = ranks  # several processes: `streams` is this rank's share; only rank 0 evaluates
        self.train_model: torch.nn.Module = model
        self.seq_len = config.seq_len or 1
        self.steps_per_epoch = windows_per_epoch(streams, self.seq_len)
        self.total_steps = config.max_steps or (config.epochs * self.steps_per_epoch if config.epochs else None)
        self.eval_every = config.eval_every or (max(1, self.total_steps // 10) if self.total_steps else None)
        self.optimizer = _adamw(list(model.parameters()), config)
        # fp16 gradients need loss scaling; elsewhere the scaler is switched off and passes straight through.
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
        self.position = RunPosition()
        self.state: State = None
        self.best_weights: dict[str, torch.Tensor] = {}
        self.last_good: Checkpoint | None = None  # where to roll back to when training diverges
        self.rollbacks = 0
        self.nan_steps = {int(s) for s in os.environ.get(NAN_STEPS_VARIABLE, "").split(",") if s.strip()}
        self.stop_after = int(os.environ.get(STOP_AFTER_VARIABLE, "0"))

    def restore(self, checkpoint: Checkpoint, quiet_rng: bool = False) -> None:
        """Continue from `checkpoint` instead of the start: call after building, just before `run`. With
        `quiet_rng` the random generators go on as they are (a roll-back should not replay the same draws)."""
        self.model.load_saved_weights({k: v.to(self.device) for k, v in checkpoint.model.items()})
        self.optimizer.load_state_dict(copy.deepcopy(checkpoint.optimizer))
        self.best_weights = dict(checkpoint.best)
        self.position = RunPosition.from_dict(checkpoint.header["position"])
        if checkpoint.header.get("scaler"):
            self.scaler.load_state_dict(checkpoint.header["scaler"])
        state, rng = checkpoint.recurrent_state, checkpoint.rng
        if self.ranks is not None and "processes" in checkpoint.header:  # a checkpoint file, not a snapshot
            state, rng = own_rows(state, self.ranks), own_rng(rng, self.ranks)
        self.state = map_state(state, lambda part: part.to(self.device))
        if not quiet_rng:
            restore_rng(rng)

    def fraction_done(self, elapsed: float) -> float:
        by_steps = self.position.step / self.total_steps if self.total_steps else 0.0
        by_time = elapsed / self.config.max_time if self.config.max_time else 0.0
        return min(1.0, max(by_steps, by_time))

    def run(self) -> TrainOutcome:
        self.model.to(self.device)
        if self.ranks is not None:
            self.train_model = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.observer.on_start(TrainPlan(self.total_steps, self.config.max_time, self.steps_per_epoch,
                                         self.model.parameter_count(), str(self.device), self.precision))
        position = self.position
        clock_start = time.monotonic() - position.elapsed
        last_eval = time.monotonic() - position.since_eval
        last_checkpoint, bad_steps = time.monotonic(), 0
        self.last_good = self.snapshot()
        while True:
            rolled_back = False
            for inputs, targets in bptt_windows(self.streams, self.seq_len, start=position.window * self.seq_len):
                lr = position.lr_scale * learning_rate(self.config, position.step,
                                                       self.fraction_done(position.elapsed), self.total_steps)
                loss, self.state = self._train_step(inputs, targets, self.state, lr)
                position.step += 1
                position.window += 1
                position.tokens_seen += targets.size
                bad_steps = 0 if math.isfinite(loss) else bad_steps + 1
                if bad_steps:
                    self.observer.on_note(f"step {position.step}: the loss or a gradient was not finite; "
                                          "the step was skipped")
                if bad_steps >= _BAD_STEPS_BEFORE_ROLLBACK:
                    self._roll_back(bad_steps)
                    position = self.position
                    clock_start = time.monotonic() - position.elapsed
                    bad_steps, rolled_back = 0, True
                    break
                now = time.monotonic()
                position.elapsed = now - clock_start
                self.observer.on_step(StepReport(
                    position.step, self.total_steps, position.epoch, loss, lr,
                    position.tokens_seen / max(position.elapsed, 1e-9), position.elapsed,
                    self.fraction_done(position.elapsed)))
                done, evaluate, stop, checkpoint = self._decide(
                    self.fraction_done(position.elapsed) >= 1.0, self._eval_due(now - last_eval),
                    self.stop_requested() or position.step == self.stop_after,
                    self._checkpoint_due(now - last_checkpoint))
                if done or evaluate:
                    self._evaluate()
                    last_eval = time.monotonic()
                    self.last_good = self.snapshot()
                position.since_eval = time.monotonic() - last_eval
                if done:
                    return TrainOutcome(self.best_weights, position.best, position.step, position.elapsed,
                                        position.tokens_seen)
                if stop:
                    self.write_checkpoint()
                    raise StopRequested(position.step)
                if checkpoint:
                    self.write_checkpoint()
                    last_checkpoint = time.monotonic()
            if not rolled_back:
                position.epoch += 1
                position.window = 0
                self.state = None  # the streams start over: so does the memory

    def _decide(self, *flags: bool) -> list[bool]:
        """Decisions that depend on the clock or on signals: with several processes, rank 0's count."""
        return list(flags) if self.ranks is None else agree(list(flags), self.device)

    def snapshot(self) -> Checkpoint:
        """Everything needed to continue from here, copied (the run goes on changing its own tensors)."""
        return Checkpoint(
            {k: v.detach().clone() for k, v in self.model.weights_for_saving().items()}, dict(self.best_weights),
            copy.deepcopy(self.optimizer.state_dict()), detach_state(self.state), capture_rng(), {},
            {"position": self.position.to_dict(), "scaler": self.scaler.state_dict()})

    def _roll_back(self, bad_steps: int) -> None:
        """Go back to the last good point with a lower learning rate, after `bad_steps` diverged steps."""
        self.rollbacks += 1
        if self.rollbacks > _MAX_ROLLBACKS or self.last_good is None:
            raise TrainingFailed(f"training diverged again after {_MAX_ROLLBACKS} roll-backs",
                                 f"lower the learning rate, e.g. --lr {self.config.lr / 10:.2g}")
        failed_at = self.position.step
        self.restore(self.last_good, quiet_rng=True)
        self.position.lr_scale *= _ROLLBACK_LR_FACTOR
        self.observer.on_note(f"the loss or gradients were not finite for {bad_steps} steps in a row (up to step "
                              f"{failed_at}): rolled back to step {self.position.step} with the learning rate "
                              f"×{self.position.lr_scale:g}")

    def write_checkpoint(self) -> None:
        """With several processes every rank must call this: their states and generators are gathered."""
        state, rng, processes = detach_state(self.state), capture_rng(), 1
        if self.ranks is not None:
            state, rng = gather_rows(state, self.device), gather_rng(rng, self.ranks, self.device)
            processes = self.ranks.world_size
        if self.save_checkpoint is not None:
            self.save_checkpoint(Checkpoint(
                self.model.weights_for_saving(), self.best_weights, self.optimizer.state_dict(), state, rng, {},
                {"position": self.position.to_dict(), "processes": processes, "scaler": self.scaler.state_dict()}))

    def _checkpoint_due(self, seconds_since_checkpoint: float) -> bool:
        every, minutes = self.config.checkpoint_every, self.config.checkpoint_minutes
        return bool(every and self.position.step % every == 0) or \
            bool(minutes and seconds_since_checkpoint >= minutes * 60)

    def _eval_due(self, seconds_since_eval: float) -> bool:
        if self.eval_every and self.position.step % self.eval_every == 0:
            return True
        return bool(self.config.max_time) and seconds_since_eval >= self.config.max_time / 8

    def _train_step(self, inputs: np.ndarray, targets: np.ndarray, state: State, lr: float) -> tuple[float, State]:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        x = torch.from_numpy(inputs.astype(np.int64)).to(self.device)  # (B, T)
        y = torch.from_numpy(targets.astype(np.int64)).to(self.device)  # (B, T)
        with autocast(self.device, self.precision):
            logits, state, outputs = self.train_model(x, detach_state(state), with_outputs=True)  # (B, T, V)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        objective = loss + activation_penalty(*outputs, self.model.config)
        if self.position.step + 1 in self.nan_steps:  # the test hook: a one-off fault at this step
            self.nan_steps.discard(self.position.step + 1)
            loss = objective = loss * float("nan")
        self.optimizer.zero_grad(set_to_none=True)
        # Backward even through a non-finite loss: with several processes every rank must join the gradient
        # averaging, and the averaged norm then tells all of them alike to skip the step.
        self.scaler.scale(objective).backward()
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip or float("inf"))
        finite = bool(torch.isfinite(norm) and torch.isfinite(loss))
        if not finite and self.scaler.is_enabled() and torch.isfinite(loss):
            self.scaler.step(self.optimizer)  # an fp16 overflow: the scaler skips the update, lowers the scale
            self.scaler.update()
            return loss.item(), state
        if not finite:  # skip; the state may carry the blow-up: drop it
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.update()
            return float("nan"), None
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.item(), state

    def _evaluate(self) -> None:
        if self.ranks is not None and not self.ranks.is_main:
            return
        self.model.eval()
        nats, tokens = stream_nll(self.model, bptt_windows(self.val_streams, self.seq_len), self.device,
                                  self.precision)
        val_loss = nats / max(tokens, 1)
        is_best = self.position.best is None or val_loss < self.position.best.val_loss
        if is_best:
            self.best_weights = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        report = EvalReport(self.position.step, val_loss, math.exp(min(val_loss, 50.0)),
                            val_loss / self.val_chars_per_token / LN2, self.sample(self.model), is_best)
        if is_best:
            self.position.best = report
        self.observer.on_eval(report)
