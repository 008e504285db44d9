"""Searches as step requests, so that one model step can serve many of them at once.

A search (beam search, sampling, a sampled continuation) is written as a generator: it yields a `StepRequest`
(one token per stream it keeps, their recurrent state, and optionally how to draw each stream's next token) and
is sent back a `Stepped` (next-token logits, new state, and the drawn tokens). It returns its result. Run alone,
`run_steps` answers each request with one model step; a batching engine (engine.py) concatenates the requests of
every active search into one step and one draw, and hands each search its rows.

How each row's token is drawn is drawing.py's: one pass over the batched logits for all rows (`draw_tokens`).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch

from ..core.model import State, map_state
from .drawing import Draw, Drawn, draw_tokens
from .inference import Stepper

Result = TypeVar("Result")


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
