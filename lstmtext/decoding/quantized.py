"""int8 weights for decoding on the CPU: fbgemm's int8 linears (dynamic for one stream, a static input scale with
each row brought to ±1 for batches), where this PyTorch build has a quantized engine. At batch 1-16 a step reads
its weights once, so int8 weights (a quarter of fp32's bytes) make the step several times faster: a 3×512 LSTM
over 8,192 pieces at batch 10, about 0.4 ms against 2.3 in fp32 (Intel Xeon with AMX, 2 cores)."""

from __future__ import annotations

import functools
import warnings

import torch

from ..core.device import cpu_has_vnni


def packed_int8(weight: torch.Tensor, bias: torch.Tensor) -> object | None:
    """`weight` (out, in) quantized to int8 per output row and packed for fbgemm's dynamic int8 linear with
    `bias`; None where this PyTorch build has no quantized engine."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch marks its quantized tensor API as deprecated
            weight = weight.contiguous()
            scales = weight.abs().amax(dim=1).clamp_min(1e-12) / 127
            zero = torch.zeros(weight.shape[0], dtype=torch.long)
            quantized = torch.quantize_per_channel(weight, scales.double(), zero, 0, torch.qint8)
            return torch.ops.quantized.linear_prepack(quantized, bias)
    except (RuntimeError, AttributeError, NotImplementedError):
        return None


@functools.cache
def linear_int8_operator():
    """fbgemm's dynamic int8 linear (one scale per call), called through its C++ entry."""
    return _cpp_entry(torch.ops.quantized.linear_dynamic.default)


def _cpp_entry(operator):
    """An operator's C++ entry: its Python wrapper checks every call for fake script objects, which cost a fifth
    of a 2×384 step (PyTorch 2.13)."""
    return getattr(operator, "_op", operator)


@functools.cache
def reduce_range() -> bool:
    """7-bit activations, where the CPU has no VNNI: its 16-bit pairwise sums saturate with 8-bit ones (next-token
    probabilities moved by 0.056 instead of 0.004 on an AMD EPYC with AVX2 only). With VNNI, 8 bits are exact to
    sum and halve the error (the built-in model on English: log-probabilities off by 0.024 on average, not 0.041)."""
    return not cpu_has_vnni()


class RowScaledInt8Linear:
    """x Wᵀ + b with W in int8 (per output row) and each row of x quantized on its own scale (its largest value).
    fbgemm's dynamic linear takes one scale per call, from the batch's largest value, so a row's result would
    depend on the rows beside it; here each row is brought to ±1 first and the static linear runs on a fixed
    scale, so requests batched together get exactly what they get alone."""

    def __init__(self, packed: object, bias: torch.Tensor) -> None:
        levels = 63 if reduce_range() else 127
        self.packed, self.bias, self.scale, self.zero_point = packed, bias, 1.0 / levels, levels + 1

    @classmethod
    def of(cls, weight: torch.Tensor, bias: torch.Tensor) -> RowScaledInt8Linear | None:
        """`weight` (out, in) and `bias` (out,); None without a quantized engine."""
        packed = packed_int8(weight, torch.zeros_like(bias))
        return None if packed is None else cls(packed, bias)

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        largest = inputs.abs().amax(dim=1, keepdim=True).clamp_min_(1e-12)  # (B, 1)
        unit = _static_operator()(inputs / largest, self.scale, self.zero_point, self.packed)
        return torch.addcmul(self.bias, unit, largest)


@functools.cache
def _static_operator():
    """fbgemm's int8 linear with the input's scale given, through its C++ entry."""
    return _cpp_entry(torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32.default)


def int8_gates(weight_t: torch.Tensor, bias: torch.Tensor, input_size: int, split: bool):
    """An LSTM layer's gate pre-activations from int8 weights, as a function of its input x (B, input_size) and
    previous h (B, H); `weight_t` is the joined (input_size + H, 4H) matrix. With `split`, x and h get a part (and
    a scale) each: embeddings can be several times larger than h, which lies within ±1 (o · tanh(c)), and would
    leave h few levels. None without a quantized engine."""
    if not split:
        joined = RowScaledInt8Linear.of(weight_t.t(), bias)
        return None if joined is None else lambda x, h: joined(torch.cat((x, h), dim=1))
    from_input = RowScaledInt8Linear.of(weight_t[:input_size].t(), bias)
    from_hidden = RowScaledInt8Linear.of(weight_t[input_size:].t(), torch.zeros_like(bias))
    if from_input is None or from_hidden is None:
        return None
    return lambda x, h: from_input(x).add_(from_hidden(h))
