"""Each target's negative log-likelihood under a full softmax, computed from the last layer's output a block of
rows at a time, without keeping the logits.

The plain way (`F.linear`, then `F.cross_entropy`) writes the logits (tokens × vocabulary: 64 MB in fp32 for a
2,048-token batch over 8,192 pieces), then reads and writes them again for a float copy, the log-softmax, its
backward and the bias's gradient. Here each block's logits are made, used and dropped while they are still in the
cache; the backward pass makes them again (one more matmul) instead of keeping them. Measured on 2 cores of an
Intel Xeon with AMX, a 3×512 bf16 training step over 8,192 pieces at batch 32 × 64: 300 ms instead of 333 (no
regularization), 339 instead of 372 (strong).
"""

from __future__ import annotations

import torch

# A block's logits stay about this size (in fp32), so that they are still in the cache when they are read back.
_BLOCK_BYTES = 4 << 20


def linear_nll(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
               targets: torch.Tensor) -> torch.Tensor:
    """-log softmax(hidden @ weightᵀ + bias)[target] for each row: `hidden` (N, H), `weight` (V, H), `bias` (V,)
    or None, `targets` (N,); fp32 (N,). Under autocast the matmuls run in its dtype, as `F.linear` would."""
    dtype = hidden.dtype
    if torch.is_autocast_enabled(hidden.device.type):
        dtype = torch.get_autocast_dtype(hidden.device.type)
    with torch.autocast(hidden.device.type, enabled=False):
        return _LinearNLL.apply(hidden.to(dtype), weight, bias, targets)


class _LinearNLL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                targets: torch.Tensor) -> torch.Tensor:
        compute_weight = weight.to(hidden.dtype)
        nll = torch.empty(hidden.shape[0], dtype=torch.float32, device=hidden.device)
        log_normalizers = torch.empty_like(nll)
        for rows in _blocks(hidden.shape[0], weight.shape[0]):
            logits = _logits(hidden[rows], compute_weight, bias)
            log_normalizers[rows] = torch.logsumexp(logits, dim=1)
            nll[rows] = log_normalizers[rows] - logits.gather(1, targets[rows, None])[:, 0]
        ctx.save_for_backward(hidden, weight, bias, targets, log_normalizers)
        return nll

    @staticmethod
    def backward(ctx, grad_nll: torch.Tensor):
        hidden, weight, bias, targets, log_normalizers = ctx.saved_tensors
        compute_weight = weight.to(hidden.dtype)
        grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if ctx.needs_input_grad[1] else None
        wants_bias = bias is not None and ctx.needs_input_grad[2]
        grad_bias = torch.zeros_like(bias, dtype=torch.float32) if wants_bias else None
        for rows in _blocks(hidden.shape[0], weight.shape[0]):
            # d nll / d logits = softmax - one-hot(target), each row scaled by its incoming gradient
            grad_logits = (_logits(hidden[rows], compute_weight, bias) - log_normalizers[rows, None]).exp_()
            grad_logits[torch.arange(grad_logits.shape[0]), targets[rows]] -= 1
            grad_logits.mul_(grad_nll[rows, None])
            if grad_bias is not None:
                grad_bias += grad_logits.sum(0)
            grad_logits = grad_logits.to(hidden.dtype)
            if grad_hidden is not None:
                grad_hidden[rows] = grad_logits @ compute_weight
            if grad_weight is not None:
                grad_weight += grad_logits.t() @ hidden[rows]
        return (grad_hidden, None if grad_weight is None else grad_weight.to(weight.dtype),
                None if grad_bias is None else grad_bias.to(bias.dtype), None)


def _logits(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    logits = (hidden @ weight.t()).float()
    return logits if bias is None else logits.add_(bias)


def _blocks(rows: int, vocabulary: int) -> list[slice]:
    size = max(16, _BLOCK_BYTES // (4 * max(vocabulary, 1)))
    return [slice(start, min(start + size, rows)) for start in range(0, rows, size)]
