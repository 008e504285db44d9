"""Turning next-token distributions into text: sampling (temperature, top-k, top-p), stop rules, and
streaming sampled text as tokens arrive. Prints nothing.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

import numpy as np
import torch

from ..core.model import State
from ..options import Sampling
from .healing import TokenTable, advance
from .inference import Stepper

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?]")


class Uniforms:
    """A generator's uniform numbers, drawn a block at a time (one call instead of one per token); the n-th number
    taken is the same whatever else is being drawn."""

    BLOCK = 64

    def __init__(self, generator: torch.Generator) -> None:
        self.generator, self._numbers = generator, []

    def take(self) -> float:
        if not self._numbers:
            self._numbers = torch.rand(self.BLOCK, generator=self.generator).tolist()[::-1]
        return self._numbers.pop()


def filtered_rows(scaled: torch.Tensor, samplings: list[Sampling]) -> torch.Tensor:
    """Rows of temperature-scaled logits (B, V) with the tokens outside each row's top-k and top-p nucleus set to
    -inf."""
    top_k = [sampling.top_k for sampling in samplings]
    if any(k is not None and k < scaled.shape[1] for k in top_k):
        ks = torch.tensor([min(k or scaled.shape[1], scaled.shape[1]) for k in top_k])
        kth = torch.topk(scaled, int(ks.max()), dim=1).values.gather(1, (ks - 1)[:, None])
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    top_p = [sampling.top_p for sampling in samplings]
    if any(p is not None and p < 1 for p in top_p):
        ordered, order = torch.sort(scaled, dim=1, descending=True)
        probs = torch.softmax(ordered, dim=1)
        ps = torch.tensor([[p if p is not None else 1.0] for p in top_p])
        outside = (probs.cumsum(dim=1) - probs >= ps) & (ps < 1)  # keeps each row's first token
        scaled = scaled.masked_fill(torch.zeros_like(outside).scatter(1, order, outside), float("-inf"))
    return scaled


def filtered_logits(logits: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """Logits (V,) scaled by temperature, with tokens outside top-k / the top-p nucleus set to -inf."""
    return filtered_rows((logits.float() / sampling.temperature)[None], [sampling])[0]


def sample_token(logits: torch.Tensor, sampling: Sampling, uniforms: Uniforms,
                 refused: np.ndarray | None = None) -> int:
    """One token drawn from the filtered distribution by inverse CDF, with one of `uniforms`' numbers, never one
    of the `refused` tokens. Done in NumPy (methods, not functions), whose calls on a vocabulary-sized vector cost
    a fraction of torch's per-call overhead."""
    if sampling.top_k is None and sampling.top_p is None:
        scaled = logits.detach().cpu().numpy().astype(np.float32) / sampling.temperature
    else:
        scaled = filtered_logits(logits, sampling).numpy()
    if refused is not None:
        scaled[refused] = -np.inf
    weights = np.exp(scaled - scaled.max())  # -inf (filtered out, refused) -> 0
    cumulative = weights.cumsum()
    # side="right": the first token whose cumulative weight exceeds the draw
    picked = min(int(cumulative.searchsorted(uniforms.take() * cumulative[-1], side="right")), len(weights) - 1)
    return picked if weights[picked] > 0 else int(weights.argmax())  # rounding past the last allowed token


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
    uniforms, produced = Uniforms(generator), 0
    never = (~table.allowed(b"")).numpy()  # tokens with no text (control tokens)
    while produced < length:
        refused = (~table.drawable(tail)).numpy() if tail else never
        token_id = sample_token(logits, sampling, uniforms, refused)
        tail, added = advance(tail, table.token_bytes[token_id])
        produced += bool(added)
        if text := decoder.decode(added):
            yield text
        if produced < length:
            logits = stream.step(token_id)
    if text := decoder.decode(b"", final=True):
        yield text
