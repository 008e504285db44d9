"""This machine's training speed, measured: the FLOP/s of one LSTM layer's forward and backward pass at a small and
a large hidden size in each precision (the probe), and from it the training tokens/s of a model of any size
(training/sizing.py turns that into the sizes a time budget affords)."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable

import torch

from ..core.config import computed_weights, recurrent_parameters
from ..core.device import autocast

_SPEED_PROBE_SECONDS = 0.5
# The whole training step's speed as a share of the probe's one-layer rate at the same size. Measured on 2 cores of
# an Intel Xeon with AMX, 3 layers, batch 32 × 64, light regularization (evaluations not counted; they take about
# a fifth of a run): 3×192 fp32 0.74, 3×256 fp32 0.82, 3×256 bf16 0.80, 3×384 bf16 0.79, 3×512 bf16 0.72.
_LSTM_SHARE_OF_STEP = 0.7
# The hidden sizes the speed probe measures; between them the speed is interpolated, beyond them held.
PROBE_SIZES = (192, 512)


def probe_speed(device: torch.device, precisions: tuple[str, ...] = ("fp32",), batch: int = 32
                ) -> dict[str, dict[int, float]]:
    """The FLOP/s at which `device` runs one LSTM layer's forward and backward pass at each of `PROBE_SIZES`, in
    each precision, at the batch the run will train with (6 FLOPs per weight and token: forward 2, backward 4). A
    plain matmul probe was tried first and drifted twice as much as training did on a shared machine."""
    length = 64
    rates: dict[str, dict[int, float]] = {precision: {} for precision in precisions}
    for hidden in PROBE_SIZES:
        lstm = torch.nn.LSTM(hidden, hidden, 1, batch_first=True).to(device)
        inputs = torch.randn(batch, length, hidden, device=device)
        seconds = _time_passes(functools.partial(_lstm_pass, lstm, inputs, device), precisions,
                               _SPEED_PROBE_SECONDS / len(PROBE_SIZES))
        flops = 6 * recurrent_parameters(hidden, hidden, 1) * batch * length
        for precision, best in seconds.items():
            rates[precision][hidden] = flops / best
    return rates


def _lstm_pass(lstm: torch.nn.LSTM, inputs: torch.Tensor, device: torch.device, precision: str) -> None:
    with autocast(device, precision):
        outputs, _ = lstm(inputs)
    outputs.float().sum().backward()
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time_passes(run: Callable[[str], None], precisions: tuple[str, ...], budget: float) -> dict[str, float]:
    """The fastest of several timed runs in each precision, for about `budget` seconds each (at least 4 runs).
    The first of each wakes the thread pool and is not counted; the fastest of the rest, so that a neighbour's
    burst on a shared machine does not shrink the model. Precisions take turns, so a burst slows each alike."""
    seconds: dict[str, list[float]] = {precision: [] for precision in precisions}
    started = time.perf_counter()
    while min(map(len, seconds.values())) < 4 or (
            time.perf_counter() - started < budget * len(precisions)
            and min(map(len, seconds.values())) < 50):
        for precision, times in seconds.items():
            pass_started = time.perf_counter()
            run(precision)
            times.append(time.perf_counter() - pass_started)
    return {precision: min(times[1:]) for precision, times in seconds.items()}


def rate_at(rates: dict[int, float], hidden: int) -> float:
    """The FLOP/s at hidden size `hidden`, from those measured at a few sizes: interpolated in log-log between
    them, the nearest one's beyond them."""
    sizes = sorted(rates)
    if hidden <= sizes[0] or hidden >= sizes[-1]:
        return rates[sizes[0] if hidden <= sizes[0] else sizes[-1]]
    above = next(size for size in sizes if size >= hidden)
    below = max(size for size in sizes if size < hidden)
    weight = math.log(hidden / below) / math.log(above / below)
    return math.exp((1 - weight) * math.log(rates[below]) + weight * math.log(rates[above]))


def training_speed(rates: dict[int, float], level: str, vocab_size: int, layers: int) -> Callable[[int], float]:
    """Estimated training tokens/s of a model with hidden size H, as a function of H: the LSTM rate measured
    by `probe_speed` at that size, spread over the weights of a model that size, times the share of that rate
    the whole training step keeps (`_LSTM_SHARE_OF_STEP`, measured)."""
    def tokens_per_second(hidden: int) -> float:
        return (_LSTM_SHARE_OF_STEP * rate_at(rates, hidden)
                / (6 * computed_weights(hidden, layers, vocab_size, level)))

    return tokens_per_second
