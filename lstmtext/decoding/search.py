"""Finding completions: beam search for the most likely ones, or sampling, batched over beams or samples and
healing a half-typed last word (see `healing`).

Probabilities are the model's, given the typed text. Beam search scores every path by the model's own
probability of all its tokens, re-typing ones included, and divides at the end by the probability the beams
gave the typed text (what their tokens that finish re-typing it add up to; on a char model that is exact).
Renormalizing each re-typing step instead would favour paths that spell the typed word in odd pieces (" f",
"ire"): the model rarely expects such a piece, and renormalizing forgives it. Sampling draws a re-typing step
from the tokens that re-type all that is left where there are any (`TokenTable.drawable`). Token paths that
render to the same text are merged and their probabilities added, so the completions returned are distinct and
their probabilities sum to at most 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..core.model import State
from ..options import Sampling
from .batch import StepRequest, Steps, run_steps
from .drawing import Draw, Uniforms
from .healing import TokenTable, advance
from .inference import Stepper, expand_state, select_state
from .stopping import StopRule


@dataclass(frozen=True)
class Found:
    text: str  # what the completion adds after the typed prefix
    probability: float
    token_ids: list[int]  # the most likely token path, including tokens that re-type the prefix's end
    log_probs: list[float]


@dataclass
class _Path:
    log_prob: float
    tail: bytes  # typed bytes still to re-type
    out: bytes = b""  # bytes added after the prefix
    token_ids: list[int] = field(default_factory=list)
    log_probs: list[float] = field(default_factory=list)
    new_tokens: int = 0  # tokens counted against max_tokens: those that add something after the prefix

    def extend(self, token_id: int, token: bytes, log_prob: float) -> _Path:
        tail, added = advance(self.tail, token)
        return _Path(self.log_prob + log_prob, tail, self.out + added, self.token_ids + [token_id],
                     self.log_probs + [log_prob], self.new_tokens + bool(added))


def _step_log_probs(logits: torch.Tensor, paths: list[_Path], table: TokenTable) -> torch.Tensor:
    """The model's log-probabilities (B, V), -inf for the tokens a path may not emit next (never an empty
    token, nor one that disagrees with what it has still to re-type)."""
    allowed = torch.stack([table.allowed(path.tail) for path in paths])
    return torch.log_softmax(logits.float(), dim=-1).masked_fill(~allowed, float("-inf"))


def _log_retyped(log_probs: torch.Tensor, paths: list[_Path], table: TokenTable) -> float:
    """Log of the probability this step's paths give to finishing re-typing the typed text now."""
    rows = [row for row, path in enumerate(paths) if path.tail]
    if not rows:
        return float("-inf")
    covering = torch.stack([table.covering(paths[row].tail) for row in rows])
    within = torch.logsumexp(log_probs[rows].masked_fill(~covering, float("-inf")), dim=1)
    return torch.logsumexp(within + torch.tensor([paths[row].log_prob for row in rows]), dim=0).item()


def _top_entries(scores: torch.Tensor, k: int) -> list[tuple[float, int, int]]:
    """The `k` highest of `scores` (B, V), highest first, as (score, row, column): each row's top k first, then
    the top k of those (the same entries as over the flattened matrix, in half the time at 10 × 8,192)."""
    per_row = min(k, scores.shape[1])
    row_values, row_columns = torch.topk(scores, per_row, dim=1)
    values, picked = torch.topk(row_values.flatten(), min(k, row_values.numel()))
    columns = row_columns.flatten()[picked]
    return list(zip(values.tolist(), (picked // per_row).tolist(), columns.tolist()))


def _log_add(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) without overflow."""
    high, low = max(a, b), min(a, b)
    return high if low == float("-inf") else high + math.log1p(math.exp(low - high))


def _step_limit(tail: bytes, rule: StopRule) -> int:
    return len(tail) + rule.max_tokens + 1  # each re-typing step consumes at least one byte


class _Results:
    """Finished completions keyed by text; token paths with the same text add up."""

    def __init__(self) -> None:
        self.by_text: dict[str, tuple[float, _Path]] = {}

    def add(self, text: str, path: _Path, *, add_up: bool = True) -> None:
        if text in self.by_text:
            total, best = self.by_text[text]
            combined = _log_add(total, path.log_prob) if add_up else max(total, path.log_prob)
            self.by_text[text] = (combined, best if best.log_prob >= path.log_prob else path)
        else:
            self.by_text[text] = (path.log_prob, path)

    def nth_best_log_prob(self, n: int) -> float:
        ranked = sorted((total for total, _ in self.by_text.values()), reverse=True)
        return ranked[n - 1] if len(ranked) >= n else float("-inf")

    def ranked(self, n: int, normalize: bool, log_typed: float = 0.0) -> list[Found]:
        """The `n` best, their probabilities divided by that of the typed text (log `log_typed`)."""
        def score(item: tuple[str, tuple[float, _Path]]) -> float:
            total, best = item[1]
            return (total - log_typed) / max(1, best.new_tokens) if normalize else total

        ordered = sorted(self.by_text.items(), key=score, reverse=True)[:n]
        return [Found(text, min(1.0, math.exp(total - log_typed)), best.token_ids, best.log_probs)
                for text, (total, best) in ordered]


def beam_search(stepper: Stepper, start: tuple[State, torch.Tensor], table: TokenTable, tail: bytes, *,
                n: int, width: int, rule: StopRule, normalize: bool = False) -> list[Found]:
    """The `n` most likely distinct completions, keeping `width` (≥ n) partial paths at each step.
    With `normalize`, finished completions are ranked by log-probability per token instead of in total."""
    return run_steps(stepper, beam_steps(start, table, tail, n=n, width=width, rule=rule, normalize=normalize))


def beam_steps(start: tuple[State, torch.Tensor], table: TokenTable, tail: bytes, *, n: int, width: int,
               rule: StopRule, normalize: bool = False) -> Steps[list[Found]]:
    """`beam_search` as step requests (see batch.py)."""
    state, logits = start
    logits = logits[None]
    paths, results = [_Path(0.0, tail)], _Results()
    log_typed = float("-inf") if tail else 0.0
    for _ in range(_step_limit(tail, rule)):
        log_probs = _step_log_probs(logits, paths, table)
        log_typed = _log_add(log_typed, _log_retyped(log_probs, paths, table))
        totals = torch.tensor([p.log_prob for p in paths])[:, None] + log_probs
        survivors: dict[tuple[bytes, bytes], _Path] = {}
        parents, tokens = [], []
        for total, parent, token_id in _top_entries(totals, 2 * width):
            if total == float("-inf"):
                break
            step_log_prob = min(0.0, total - paths[parent].log_prob)  # a difference of sums can round above 0
            path = paths[parent].extend(token_id, table.token_bytes[token_id], step_log_prob)
            text = rule.finished_text(path)
            if text is not None:
                results.add(text, path)
            elif (path.tail, path.out) in survivors:  # same text so far: one path carries both
                kept = survivors[(path.tail, path.out)]
                kept.log_prob = _log_add(kept.log_prob, path.log_prob)
            elif len(survivors) < width:
                survivors[(path.tail, path.out)] = path
                parents.append(parent)
                tokens.append(token_id)
        paths = list(survivors.values())
        if not paths or (not normalize and max(p.log_prob for p in paths) < results.nth_best_log_prob(n)):
            break
        stepped = yield StepRequest(tokens, select_state(state, torch.tensor(parents)))
        logits, state = stepped.logits, stepped.state
    return results.ranked(n, normalize, log_typed)


def sample_steps(start: tuple[State, torch.Tensor], table: TokenTable, tail: bytes, *, n: int, rule: StopRule,
                 sampling: Sampling, generator: torch.Generator) -> Steps[list[Found]]:
    """`n` sampled completions as step requests (see batch.py), fewer if some come out the same, most likely first;
    the engine draws every row's next token. Probabilities are the model's own, not the temperature-adjusted ones
    the samples were drawn from."""
    state, logits = start
    state = expand_state(state, n)
    paths, results = [_Path(0.0, tail) for _ in range(n)], _Results()
    uniforms = Uniforms(generator)  # the rows take their numbers in turn
    draws = [Draw(sampling, uniforms, table.drawable(path.tail, path.out)) for path in paths]
    stepped = yield StepRequest([], state, draws, logits=logits.expand(n, -1))
    state, tokens, log_probs = stepped.state, stepped.tokens, stepped.token_log_probs
    for _ in range(_step_limit(tail, rule)):
        keep, next_tokens, next_paths = [], [], []
        for row, (path, token_id, log_prob) in enumerate(zip(paths, tokens, log_probs)):
            path = path.extend(token_id, table.token_bytes[token_id], log_prob)
            text = rule.finished_text(path)
            if text is not None:
                results.add(text, path, add_up=False)  # the same sample drawn twice is one event
            else:
                keep.append(row)
                next_tokens.append(token_id)
                next_paths.append(path)
        paths = next_paths
        if not paths:
            break
        draws = [Draw(sampling, uniforms, table.drawable(path.tail, path.out)) for path in paths]
        stepped = yield StepRequest(next_tokens, select_state(state, torch.tensor(keep)), draws)
        state, tokens, log_probs = stepped.state, stepped.tokens, stepped.token_log_probs
    return results.ranked(n, normalize=False)
