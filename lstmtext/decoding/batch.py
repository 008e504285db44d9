"""Searches as step requests, so that one model step can serve many of them at once.

A search (beam search, sampling, a sampled continuation) is written as a generator: it yields a `StepRequest`
(one token per stream it keeps, their recurrent state, and optionally how to draw each stream's next token) and
is sent back a `Stepped` (next-token logits, new state, and the drawn tokens). It returns its result. Run alone,
`run_steps` answers each request with one model step; a batching engine (engine.py) concatenates the requests of
every active search into one step and one draw, and hands each search its rows.

Drawing happens on the batched logits in one pass for all rows (`draw_tokens`): temperature, top-k and top-p per
row, a half-typed word's mask per row, one uniform number per row from that row's own generator, so a seeded
draw does not depend on what else is in the batch.
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch

from ..core.model import State, map_state
from ..options import Sampling
from .inference import Stepper
from .sampling import Uniforms, filtered_rows

Result = TypeVar("Result")


@dataclass(frozen=True)
class Draw:
    """How to pick one stream's next token: sampled (`sampling`, with numbers from `uniforms`) or the most likely
    (`sampling` None), among the `allowed` tokens (None: all)."""

    sampling: Sampling | None
    uniforms: Uniforms | None = None
    allowed: torch.Tensor | None = None


@dataclass(frozen=True)
class StepRequest:
    """Feed `tokens` (one per stream) to the streams in `state`, then draw each stream's next token if `draws`
    are given. With `logits` (streams, V) instead of tokens, no step: draw from those (a prompt's first token)."""

    tokens: list[int]
    state: State
    draws: Sequence[Draw] | None = None
    logits: torch.Tensor | None = None

    @property
    def rows(self) -> int:
        return len(self.tokens) if self.logits is None else self.logits.shape[0]


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


class Stepped:
    """What a search is sent back: its rows of one (possibly larger) step's results, sliced when asked for."""

    __slots__ = ("_logits", "_rows", "state", "_drawn", "_drawn_rows")

    def __init__(self, logits: torch.Tensor, rows: slice, state: State, drawn: Drawn | None = None,
                 drawn_rows: slice = slice(None)) -> None:
        self._logits, self._rows, self.state, self._drawn, self._drawn_rows = logits, rows, state, drawn, drawn_rows

    @property
    def logits(self) -> torch.Tensor:
        """(B, V) next-token logits, on the CPU."""
        return self._logits[self._rows]

    @property
    def tokens(self) -> list[int]:
        return self._drawn.tokens[self._drawn_rows]

    @property
    def token_log_probs(self) -> list[float]:
        return self._drawn.token_log_probs[self._drawn_rows]

    @property
    def log_probs(self) -> torch.Tensor:
        return self._drawn.log_probs[self._drawn_rows]


Steps = Generator[StepRequest, Stepped, Result]


def run_steps(stepper: Stepper, steps: Steps[Result]) -> Result:
    """Run a search alone: each request is one model step."""
    try:
        request = next(steps)
        while True:
            logits, state = (stepper.step(torch.tensor(request.tokens), request.state) if request.logits is None
                             else (request.logits, request.state))
            drawn = draw_tokens(logits, request.draws) if request.draws is not None else None
            request = steps.send(Stepped(logits, slice(None), state, drawn))
    except StopIteration as done:
        return done.value


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


def join_states(states: Sequence[State]) -> State:
    """The states of several searches as one batch (streams in order)."""
    if isinstance(states[0], tuple):
        return tuple(torch.cat([state[part] for state in states], dim=1) for part in range(len(states[0])))
    return torch.cat(list(states), dim=1)


def split_state(state: State, sizes: Sequence[int]) -> list[State]:
    """The inverse of `join_states`: one state per search, `sizes` streams each."""
    parts = map_state(state, lambda part: part.split(list(sizes), dim=1))
    if isinstance(parts, tuple):
        return list(zip(*parts))
    return list(parts)
