"""Scoring text: the negative log-likelihood of token streams, read window by window with the state carried."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch

from ..core.device import autocast
from ..core.model import RecurrentLM

LN2 = math.log(2)


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
