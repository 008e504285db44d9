"""Scoring text: the negative log-likelihood of token streams, read window by window with the state carried."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable

import numpy as np
import torch

from ..core.corpus import bptt_windows, scoring_streams
from ..core.device import autocast
from ..core.model import RecurrentLM
from ..options.adaptation import AdaptOptions
from .adaptation import Adapter

LN2 = math.log(2)


def text_nll(model: RecurrentLM, ids: np.ndarray, seq_len: int, adaptation: AdaptOptions | None = None,
             progress: Callable[[int, int], None] | None = None) -> tuple[float, int]:
    """Total negative log-likelihood (nats) of `ids` and how many tokens were scored: read in windows of
    `seq_len`, or with `adaptation` by a copy of `model` that learns as it reads (training/adaptation.py)."""
    if adaptation is not None:
        reading = Adapter(copy.deepcopy(model), adaptation).read(ids, progress=progress)
        return float(reading.nats.sum()), len(reading.nats)
    device = next(model.parameters()).device
    return stream_nll(model, bptt_windows(scoring_streams(ids, seq_len), seq_len), device, "fp32")


def stream_nll(model: RecurrentLM, windows: Iterable[tuple[np.ndarray, np.ndarray]], device: torch.device,
               precision: str) -> tuple[float, int]:
    """Total negative log-likelihood (nats) and token count over consecutive windows, carrying the state."""
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for inputs, targets in windows:
            x = torch.from_numpy(inputs.astype(np.int64)).to(device)  # (B, T)
            y = torch.from_numpy(targets.astype(np.int64)).to(device)  # (B, T)
            with autocast(device, precision):
                nll, state = model(x, state, targets=y)  # (B, T)
            total += nll.sum().item()
            count += y.numel()
    return total, count
