"""Turning next-token distributions into text: sampling (temperature, top-k, top-p), stop rules, and
streaming sampled text as tokens arrive. Prints nothing.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

import numpy as np
import torch

from ..options import Sampling
from .healing import TokenTable, advance
from .inference import Stepper
from ..core.model import State

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?]")


def filtered_logits(logits: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """Logits (V,) scaled by temperature, with tokens outside top-k / the top-p nucleus set to -inf."""
    logits = logits.float() / sampling.temperature
    if sampling.top_k is not None and sampling.top_k < logits.numel():
        kth = torch.topk(logits, sampling.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if sampling.top_p is not None and sampling.top_p < 1:
        sorted_logits, order = torch.sort(logits, descending=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        outside = cumulative - torch.softmax(sorted_logits, dim=-1) >= sampling.top_p  # keeps the first token
        logits = logits.masked_fill(torch.zeros_like(outside).scatter(0, order, outside), float("-inf"))
    return logits


def sample_token(logits: torch.Tensor, sampling: Sampling, generator: torch.Generator) -> int:
    """One token drawn from the filtered distribution by inverse CDF: one uniform number per draw. Done in
    NumPy, whose calls on a vocabulary-sized vector cost a fraction of torch's per-call overhead."""
    filtered = filtered_logits(logits, sampling).cpu().numpy()
    cumulative = np.cumsum(np.exp(filtered - filtered.max()))  # -inf (filtered out) -> weight 0
    draw = torch.rand(1, generator=generator).item() * cumulative[-1]
    # side="right": the first token whose cumulative weight exceeds the draw, never a zero-weight one
    return min(int(np.searchsorted(cumulative, draw, side="right")), len(cumulative) - 1)


def cut_point(text: str, until: str) -> int | None:
    """Where a completion `text` should end under the `until` rule, or None to keep going."""
    content = len(text) - len(text.lstrip())
    if content == len(text) or until == "none":
        return None
    if until == "word":
        match = _WORD.search(text)
        return match.end() if match and match.end() < len(text) else None
    newline = text.find("\n", content)
    if newline != -1:
        return newline
    if until == "sentence":
        match = _SENTENCE_END.search(text, content)
        return match.end() if match else None
    return None


def sample_stream(stepper: Stepper, start: tuple[State, torch.Tensor], table: TokenTable, tail: bytes, *,
                  length: int, sampling: Sampling, generator: torch.Generator) -> Iterator[str]:
    """Sample `length` new tokens, yielding text as soon as it decodes (never half a UTF-8 character).
    Tokens that re-type a half-typed last word of the prompt (`tail`) come first and are not shown."""
    state, logits = start
    stream = stepper.single_stream(state)
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    produced = 0
    while produced < length:
        allowed = table.allowed(tail)
        token_id = sample_token(logits.masked_fill(~allowed, float("-inf")), sampling, generator)
        tail, added = advance(tail, table.token_bytes[token_id])
        produced += bool(added)
        if text := decoder.decode(added):
            yield text
        if produced < length:
            logits = stream.step(token_id)
    if text := decoder.decode(b"", final=True):
        yield text
