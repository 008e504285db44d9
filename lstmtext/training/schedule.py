"""The optimizer, its learning-rate schedule and the AWD-LSTM activation penalties."""

from __future__ import annotations

import math

import torch

from ..core.config import ModelConfig
from ..options import TrainConfig

_FINAL_LR_FRACTION = 0.1


def activation_penalty(raw: torch.Tensor, dropped: torch.Tensor, config: ModelConfig) -> torch.Tensor | float:
    """AR (the size of the last layer's dropped-out output) and TAR (how much its raw output changes from one
    step to the next), as AWD-LSTM adds them to the loss; 0 when both are off."""
    penalty, taken = 0.0, config.regularization
    if taken.activation_reg:
        penalty = penalty + taken.activation_reg * dropped.float().pow(2).mean()
    if taken.temporal_reg and raw.shape[1] > 1:
        penalty = penalty + taken.temporal_reg * (raw[:, 1:] - raw[:, :-1]).float().pow(2).mean()
    return penalty


def learning_rate(config: TrainConfig, step: int, fraction_done: float, total_steps: int | None) -> float:
    warmup = config.warmup_steps if total_steps is None else min(config.warmup_steps, max(1, total_steps // 10))
    if step < warmup:
        return config.lr * (step + 1) / warmup
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, fraction_done)))
    return config.lr * (_FINAL_LR_FRACTION + (1 - _FINAL_LR_FRACTION) * cosine)


def adamw(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with its fused kernel where the device has one (about 4× cheaper per step on CPU), else the
    default implementation; with `layer_lr_decay` above 1, one parameter group per layer (`layer_groups`)."""
    groups = layer_groups(model, config.layer_lr_decay) if (config.layer_lr_decay or 1) != 1 else [
        {"params": list(model.parameters()), "lr_scale": 1.0}]
    try:
        return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


def layer_groups(model: torch.nn.Module, decay: float) -> list[dict]:
    """ULMFiT's discriminative learning rates (Howard & Ruder 2018): the embedding and decoder at the full rate,
    each recurrent layer below them `decay` times slower than the one above, so fine-tuning moves the general
    lower layers least."""
    layers = model.config.layers
    by_scale: dict[float, list[torch.nn.Parameter]] = {}
    seen: set[int] = set()
    for name, parameter in model.named_parameters():
        if id(parameter) in seen:
            continue
        seen.add(id(parameter))
        depth = int(name.rsplit("_l", 1)[1]) if name.startswith("rnn.") else layers
        by_scale.setdefault(decay ** -(layers - depth), []).append(parameter)
    return [{"params": params, "lr_scale": scale} for scale, params in sorted(by_scale.items())]
