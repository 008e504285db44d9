"""The training loop: AdamW, gradient clipping, warm-up + cosine schedule, evaluation, best-model keeping,
skipping non-finite steps and rolling back, checkpoints.

Truncated backprop through time on stateful streams (see core/corpus.py): the hidden state at the end of one
batch starts the next (each batch row continues the same stretch of text), detached so gradients stop at the
boundary. Draws nothing: it reports progress to the observer among its hooks.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from ..core.corpus import bptt_windows, windows_per_epoch
from ..core.device import autocast
from ..core.model import RecurrentLM, State, detach_state, map_state
from ..core.softmax import AdaptiveDecoder
from ..errors import TrainingFailed
from ..options import TrainConfig
from .checkpoint import Checkpoint, capture_rng, restore_rng
from .distributed import agree, gather_rng, gather_rows, own_rng, own_rows
from .hooks import Runtime, TrainHooks, TrainingData
from .progress import (
    EvalReport,
    RunPosition,
    StepReport,
    StopRequested,
    TrainOutcome,
    TrainPlan,
)
from .schedule import activation_penalty, adamw, learning_rate
from .scoring import LN2, stream_nll

_BAD_STEPS_BEFORE_ROLLBACK = 3
_MAX_ROLLBACKS = 3
_ROLLBACK_LR_FACTOR = 0.5


class Trainer:
    """One training run of `model` on `data`, as `config` says, on `runtime`, calling `hooks`."""

    def __init__(self, model: RecurrentLM, config: TrainConfig, data: TrainingData, runtime: Runtime,
                 hooks: TrainHooks = TrainHooks()) -> None:
        self.model, self.config, self.data, self.hooks = model, config, data, hooks
        self.device, self.precision, self.ranks = runtime.device, runtime.precision, runtime.ranks
        self.train_model: torch.nn.Module = model
        self.seq_len = config.seq_len or 1
        self.steps_per_epoch = windows_per_epoch(data.streams, self.seq_len)
        self.total_steps = config.max_steps or (config.epochs * self.steps_per_epoch if config.epochs else None)
        self.eval_every = config.eval_every or (max(1, self.total_steps // 10) if self.total_steps else None)
        self.optimizer = adamw(model, config)
        # fp16 gradients need loss scaling; elsewhere the scaler is switched off and passes straight through.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.position = RunPosition()
        self.state: State = None
        self.best_weights: dict[str, torch.Tensor] = {}
        self.last_good: Checkpoint | None = None  # where to roll back to when training diverges
        self.rollbacks = 0
        self.bad_steps = 0
        self.clock_start = self.last_eval = self.last_checkpoint = 0.0

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
        """Train until the budget is spent; the best weights by held-out loss, and how the run went."""
        self.model.to(self.device)
        if self.ranks is not None:
            self.train_model = DistributedDataParallel(  # an adaptive softmax's cluster may go unused in a step
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=isinstance(self.model.decoder, AdaptiveDecoder))
        self.hooks.observer.on_start(TrainPlan(self.total_steps, self.config.max_time, self.steps_per_epoch,
                                               self.model.parameter_count(), str(self.device), self.precision))
        self.clock_start = time.monotonic() - self.position.elapsed
        self.last_eval = time.monotonic() - self.position.since_eval
        self.last_checkpoint = time.monotonic()
        self.last_good = self.snapshot()
        while True:
            outcome = self._run_epoch()
            if outcome is not None:
                return outcome

    def _run_epoch(self) -> TrainOutcome | None:
        """The rest of this epoch's windows; the outcome when the run is done, None to go on (the next epoch, or
        this one again from where a roll-back landed)."""
        position = self.position
        for inputs, targets in bptt_windows(self.data.streams, self.seq_len, start=position.window * self.seq_len):
            lr = position.lr_scale * learning_rate(self.config, position.step,
                                                   self.fraction_done(position.elapsed), self.total_steps)
            loss, self.state = self._train_step(inputs, targets, self.state, lr)
            position.step += 1
            position.window += 1
            position.tokens_seen += targets.size
            if self._diverged(loss):
                return None
            position.elapsed = time.monotonic() - self.clock_start
            self.hooks.observer.on_step(StepReport(
                position.step, self.total_steps, position.epoch, loss, lr,
                position.tokens_seen / max(position.elapsed, 1e-9), position.elapsed,
                self.fraction_done(position.elapsed)))
            if self._after_step():
                return TrainOutcome(self.best_weights, position.best, position.step, position.elapsed,
                                    position.tokens_seen)
        position.epoch += 1
        position.window = 0
        self.state = None  # the streams start over: so does the memory
        return None

    def _diverged(self, loss: float) -> bool:
        """Count a non-finite step; after a few in a row, roll back (True: the epoch must start again there)."""
        self.bad_steps = 0 if math.isfinite(loss) else self.bad_steps + 1
        if self.bad_steps:
            self.hooks.observer.on_note(f"step {self.position.step}: the loss or a gradient was not finite; "
                                        "the step was skipped")
        if self.bad_steps < _BAD_STEPS_BEFORE_ROLLBACK:
            return False
        self._roll_back(self.bad_steps)
        self.clock_start = time.monotonic() - self.position.elapsed
        self.bad_steps = 0
        return True

    def _after_step(self) -> bool:
        """Evaluate, checkpoint or stop as the clock, the budget and the signals say; True when done."""
        now = time.monotonic()
        stop_asked = self.hooks.stop_requested() or self.position.step == self.hooks.faults.stop_after
        done, evaluate, stop, checkpoint = self._decide(
            self.fraction_done(self.position.elapsed) >= 1.0, self._eval_due(now - self.last_eval), stop_asked,
            self._checkpoint_due(now - self.last_checkpoint))
        if done or evaluate:
            self._evaluate()
            self.last_eval = time.monotonic()
            self.last_good = self.snapshot()
        self.position.since_eval = time.monotonic() - self.last_eval
        if done:
            return True
        if stop:
            self.write_checkpoint()
            raise StopRequested(self.position.step)
        if checkpoint:
            self.write_checkpoint()
            self.last_checkpoint = time.monotonic()
        return False

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
                                 "lower the learning rate, e.g. {example}", field="lr",
                                 example=float(f"{self.config.lr / 10:.2g}"))
        failed_at = self.position.step
        self.restore(self.last_good, quiet_rng=True)
        self.position.lr_scale *= _ROLLBACK_LR_FACTOR
        self.hooks.observer.on_note(f"the loss or gradients were not finite for {bad_steps} steps in a row (up to "
                                    f"step {failed_at}): rolled back to step {self.position.step} with the "
                                    f"learning rate ×{self.position.lr_scale:g}")

    def write_checkpoint(self) -> None:
        """With several processes every rank must call this: their states and generators are gathered."""
        state, rng, processes = detach_state(self.state), capture_rng(), 1
        if self.ranks is not None:
            state, rng = gather_rows(state, self.device), gather_rng(rng, self.ranks, self.device)
            processes = self.ranks.world_size
        if self.hooks.save_checkpoint is not None:
            self.hooks.save_checkpoint(Checkpoint(
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
            group["lr"] = lr * group.get("lr_scale", 1.0)
        self.model.train()
        x = torch.from_numpy(inputs.astype(np.int64)).to(self.device)  # (B, T)
        y = torch.from_numpy(targets.astype(np.int64)).to(self.device)  # (B, T)
        with autocast(self.device, self.precision):
            nll, state, outputs = self.train_model(x, detach_state(state), with_outputs=True, targets=y)  # (B, T)
        loss = nll.mean()
        objective = loss + activation_penalty(*outputs, self.model.config)
        if self.hooks.faults.corrupts(self.position.step + 1):
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
        nats, tokens = stream_nll(self.model, bptt_windows(self.data.val_streams, self.seq_len), self.device,
                                  self.precision)
        val_loss = nats / max(tokens, 1)
        is_best = self.position.best is None or val_loss < self.position.best.val_loss
        if is_best:
            self.best_weights = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        report = EvalReport(self.position.step, val_loss, math.exp(min(val_loss, 50.0)),
                            val_loss / self.data.val_chars_per_token / LN2, self.hooks.sample(self.model), is_best)
        if is_best:
            self.position.best = report
        self.hooks.observer.on_eval(report)
