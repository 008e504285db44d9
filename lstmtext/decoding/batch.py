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

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch

from ..core.model import State, map_state
from ..options import Sampling
from .inference import Stepper

Result = TypeVar("Result")


@dataclass(frozen=True)
class Draw:
    """How to pick one stream's next token: sampled (`sampling`) or the most likely (None), among the `allowed`
    tokens (None: all)."""

    sampling: Sampling | None
    generator: torch.Generator | None = None
    allowed: torch.Tensor | None = None


@dataclass(frozen=True)
class StepRequest:
    tokens: torch.Tensor  # (B,): one token per stream
    state: State  # for those B streams
    draws: Sequence[Draw] | None = None  # one per stream: draw its next token after the step


@dataclass(frozen=True)
class Stepped:
    logits: torch.Tensor  # (B, V), on the CPU
    state: State
    tokens: list[int] | None = None  # the drawn tokens, if draws were asked for
    log_probs: torch.Tensor | None = None  # (B, V): the model's own log-probabilities over the allowed tokens


Steps = Generator[StepRequest, Stepped, Result]


def run_steps(stepper: Stepper, steps: Steps[Result]) -> Result:
    """Run a search alone: each request is one model step."""
    try:
        request = next(steps)
        while True:
            request = steps.send(step_rows(stepper, request.tokens, request.state, request.draws))
    except StopIteration as done:
        return done.value


def step_rows(stepper: Stepper, tokens: torch.Tensor, state: State, draws: Sequence[Draw] | None) -> Stepped:
    logits, state = stepper.step(tokens, state)
    if draws is None:
        return Stepped(logits, state)
    drawn, log_probs = draw_tokens(logits, draws)
    return Stepped(logits, state, drawn, log_probs)


def draw_tokens(logits: torch.Tensor, draws: Sequence[Draw]) -> tuple[list[int], torch.Tensor]:
    """One token per row of `logits` (B, V) by that row's `Draw`, and the model's log-probabilities (B, V) over
    each row's allowed tokens (not temperature-adjusted). Sampling is by inverse CDF, one uniform number per row."""
    masks = [draw.allowed for draw in draws]
    if any(mask is not None for mask in masks):
        everything = torch.ones(logits.shape[1], dtype=torch.bool)
        allowed = torch.stack([everything if mask is None else mask for mask in masks])
        logits = logits.masked_fill(~allowed, float("-inf"))
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    tokens = log_probs.argmax(dim=-1)
    sampled = [row for row, draw in enumerate(draws) if draw.sampling is not None]
    if sampled:
        rows = torch.tensor(sampled)
        tokens[rows] = _sample_rows(log_probs[rows], [draws[row] for row in sampled])
    return tokens.tolist(), log_probs


def _sample_rows(log_probs: torch.Tensor, draws: list[Draw]) -> torch.Tensor:
    scaled = _filtered(log_probs / torch.tensor([[d.sampling.temperature] for d in draws]), draws)
    weights = torch.exp(scaled - scaled.max(dim=1, keepdim=True).values)  # -inf (filtered out) -> weight 0
    cumulative = weights.cumsum(dim=1)
    uniform = torch.cat([torch.rand(1, generator=draw.generator) for draw in draws])
    picked = torch.searchsorted(cumulative, (uniform * cumulative[:, -1])[:, None], right=True)[:, 0]
    last_allowed = weights.shape[1] - 1 - (weights.flip(1) > 0).int().argmax(dim=1)  # rounding never picks a
    return torch.minimum(picked, last_allowed)  # zero-weight token past the end


def _filtered(scaled: torch.Tensor, draws: list[Draw]) -> torch.Tensor:
    """Rows with tokens outside each row's top-k and top-p nucleus set to -inf."""
    top_k = [d.sampling.top_k for d in draws]
    if any(k is not None and k < scaled.shape[1] for k in top_k):
        ks = torch.tensor([min(k or scaled.shape[1], scaled.shape[1]) for k in top_k])
        kth = torch.topk(scaled, int(ks.max()), dim=1).values.gather(1, (ks - 1)[:, None])
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    top_p = [d.sampling.top_p for d in draws]
    if any(p is not None and p < 1 for p in top_p):
        ordered, order = torch.sort(scaled, dim=1, descending=True)
        probs = torch.softmax(ordered, dim=1)
        ps = torch.tensor([[p if p is not None else 1.0] for p in top_p])
        outside = (probs.cumsum(dim=1) - probs >= ps) & (ps < 1)  # keeps each row's first token
        scaled = scaled.masked_fill(torch.zeros_like(outside).scatter(1, order, outside), float("-inf"))
    return scaled


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
