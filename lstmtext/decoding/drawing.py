"""How a token is drawn: from next-token logits, one row per stream, the most likely token or a sample (temperature,
top-k, top-p) by inverse CDF with one uniform number per row from that row's own generator (`Uniforms`), so a
seeded draw does not depend on what else is in the batch. `draw_tokens` draws a whole batch in torch;
`sample_token` draws one stream's token in NumPy, cheaper per call, for `generate` — the two pick the same token
for the same uniform number (tests/test_generate.py)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..options import Sampling


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


@dataclass(frozen=True)
class Draw:
    """How to pick one stream's next token: sampled (`sampling`, with numbers from `uniforms`) or the most likely
    (`sampling` None), among the `allowed` tokens (None: all)."""

    sampling: Sampling | None
    uniforms: Uniforms | None = None
    allowed: torch.Tensor | None = None


class Drawn:
    """Tokens drawn for a batch of rows: `tokens` and each one's log-probability under the model (not the
    temperature-adjusted distribution it was drawn from); `log_probs` (rows, V) over each row's allowed tokens is
    computed when asked for."""

    def __init__(self, tokens: list[int], token_log_probs: list[float], logits: torch.Tensor,
                 log_norms: torch.Tensor) -> None:
        self.tokens, self.token_log_probs, self._logits, self._log_norms = tokens, token_log_probs, logits, log_norms

    @functools.cached_property
    def log_probs(self) -> torch.Tensor:
        return self._logits - self._log_norms[:, None]


def draw_tokens(logits: torch.Tensor, draws: Sequence[Draw]) -> Drawn:
    """One token per row of `logits` (B, V) by that row's `Draw`. Sampling is by inverse CDF, one uniform number
    per row."""
    logits = logits.float()
    masks = [draw.allowed for draw in draws]
    if masks[0] is not None and all(mask is masks[0] for mask in masks):  # the usual case: nothing half-typed
        logits = logits.masked_fill(~masks[0], float("-inf"))
    elif any(mask is not None for mask in masks):
        everything = torch.ones(logits.shape[1], dtype=torch.bool)
        allowed = torch.stack([everything if mask is None else mask for mask in masks])
        logits = logits.masked_fill(~allowed, float("-inf"))
    sampled = [row for row, draw in enumerate(draws) if draw.sampling is not None]
    if len(sampled) == len(draws):
        tokens = _sample_rows(logits, draws)
    else:
        tokens = logits.argmax(dim=1)
        if sampled:
            rows = torch.tensor(sampled)
            tokens[rows] = _sample_rows(logits[rows], [draws[row] for row in sampled])
    log_norms = torch.logsumexp(logits, dim=1)
    token_log_probs = logits.gather(1, tokens[:, None])[:, 0] - log_norms
    return Drawn(tokens.tolist(), token_log_probs.tolist(), logits, log_norms)


def _sample_rows(logits: torch.Tensor, draws: Sequence[Draw]) -> torch.Tensor:
    temperatures = [draw.sampling.temperature for draw in draws]
    same = all(temperature == temperatures[0] for temperature in temperatures)
    scaled = filtered_rows(logits / (temperatures[0] if same else torch.tensor(temperatures)[:, None]),
                           [draw.sampling for draw in draws])
    probs = torch.softmax(scaled, dim=1)  # -inf (filtered out, not allowed) -> 0
    cumulative = probs.cumsum(dim=1)
    uniform = torch.tensor([draw.uniforms.take() for draw in draws])
    picked = torch.searchsorted(cumulative, (uniform * cumulative[:, -1])[:, None], right=True)
    picked.clamp_(max=probs.shape[1] - 1)
    unlikely = probs.gather(1, picked)[:, 0] == 0  # rounding past the last allowed token: rare
    if bool(unlikely.any()):
        picked[unlikely, 0] = probs[unlikely].argmax(dim=1)
    return picked[:, 0]
