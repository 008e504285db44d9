"""Whether a training run fits in memory, checked before the model is built."""

from __future__ import annotations

import torch

from ..core.config import ModelConfig, recurrent_parameters
from ..core.machine import available_memory
from ..options.checks import require_option


def training_memory(model: ModelConfig, batch_size: int, seq_len: int) -> int:
    """About how many bytes a training run of this model needs: per weight, 4-byte copies for the weights, their
    gradients, AdamW's two moments, the best weights and a roll-back point (weights and moments); per token of a
    batch, what backward keeps of each layer's gates and states and of the logits. (An upper bound for an
    adaptive softmax's weights.)"""
    weights = (model.vocab_size * model.embed_size + recurrent_parameters(model.hidden_size, model.embed_size,
                                                                          model.layers)
               + model.vocab_size * (1 if model.ties_weights else model.hidden_size + 1))
    # an adaptive softmax keeps its head's outputs and about as many again for the clusters
    outputs = model.softmax_cutoffs[0] + model.hidden_size if model.softmax_cutoffs else model.vocab_size
    per_token = model.layers * 8 * model.hidden_size + 3 * outputs + 2 * model.embed_size
    return 4 * (8 * weights + batch_size * seq_len * per_token)


def check_fits(needed: int, available: int | None, where: str) -> None:
    """Refuse a run that would need more memory than `available` (None: unknown, so allowed)."""
    require_option(available is None or needed <= available, "hidden_size",
                   "this model needs about {needed} of memory to train, and {where} has {available} free",
                   "use a smaller {names[hidden_size]}, {names[embed_size]}, {names[layers]} or {names[batch_size]}",
                   needed=_bytes(needed), where=where, available=_bytes(available or 0))


def _bytes(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} TB"




def free_memory(device: torch.device) -> tuple[int | None, str]:
    """Bytes free for training on `device`, and what to call the place."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0], f"the GPU ({device})"
    return available_memory(), "this machine"
