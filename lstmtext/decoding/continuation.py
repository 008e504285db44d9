"""One continuation of a prompt, a token at a time, as OpenAI's completions API gives it: sampled or greedy,
ending at `max_tokens` or before a stop string, each token with its log-probability and the likeliest tokens in
its place, and the text handed out as it is written — never a piece that may turn out to begin a stop string.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

import torch

from ..core.model import State
from ..options import ContinuationOptions
from ..results import Continuation, TokenScore, TokenStep
from .batch import StepRequest, Steps
from .drawing import Draw, Uniforms
from .healing import TokenTable, advance
from .stopping import StopWatch

OnPiece = Callable[[str, tuple[TokenStep, ...]], None]


def continuation_steps(prompt: str, start: tuple[State, torch.Tensor], table: TokenTable, tail: bytes,
                       options: ContinuationOptions, generator: torch.Generator | None,
                       on_piece: OnPiece | None = None) -> Steps[Continuation]:
    """The continuation as step requests (see batch.py); `on_piece(text, tokens)` is called with each piece of
    text as soon as it is sure to be part of the result, and the tokens whose text starts in it: the pieces and
    their tokens add up to the result's text and tokens."""
    state, logits = start
    decoder = codecs.getincrementaldecoder("utf-8")("replace")  # nothing to replace: see TokenTable.writable
    watch, text, shown, steps, pending = StopWatch(options.stop), "", 0, [], b""
    free = Draw(options.sampling, Uniforms(generator) if generator is not None else None)
    stepped = yield StepRequest([], state, [_first_draw(free, table, tail, prompt, options)], logits=logits[None])
    while True:
        token_id, log_prob = stepped.tokens[0], stepped.token_log_probs[0]
        log_probs = stepped.log_probs if options.logprobs else None
        tail, added = advance(tail, table.token_bytes[token_id])
        if added:
            top = alternatives(table, log_probs[0], options.logprobs) if options.logprobs else ()
            steps.append(TokenStep(shown_bytes(added), log_prob, top, len(text)))
            text += decoder.decode(added)
            pending = decoder.getstate()[0]  # a character begun in byte pieces: finished past max_tokens
        cut = watch.cut(text) if options.stop else None
        finished = "stop" if cut is not None else "length" if len(steps) >= options.max_tokens and not pending else None
        text = text[:cut] if cut is not None else text
        visible = len(text) if finished or not options.stop else watch.safe(text)
        if on_piece is not None and visible > shown:
            on_piece(text[shown:visible], tuple(step for step in steps if shown <= step.offset < visible))
            shown = visible
        if finished:
            kept = tuple(step for step in steps if step.offset < len(text) or not step.text)
            return Continuation(prompt, text, finished, kept)
        stepped = yield StepRequest([token_id], stepped.state, [_draw(free, table, tail, pending)])


def telling_text(on_text: Callable[[str], None], on_piece: OnPiece | None) -> OnPiece:
    """An `on_piece` that tells `on_text` the text, then `on_piece` (if any) the text and its tokens."""
    def tell(piece: str, tokens: tuple[TokenStep, ...]) -> None:
        on_text(piece)
        if on_piece is not None:
            on_piece(piece, tokens)

    return tell


def _first_draw(free: Draw, table: TokenTable, tail: bytes, prompt: str, options: ContinuationOptions) -> Draw:
    """The first token's draw: a whole prompt's last word is not continued (`finish_word` False)."""
    first = _draw(free, table, tail, b"")
    if options.finish_word or not prompt[-1:].isalnum():
        return first
    breaking = first.allowed & table.word_breaks
    return Draw(first.sampling, first.uniforms, breaking) if bool(breaking.any()) else first


def _draw(free: Draw, table: TokenTable, tail: bytes, pending: bytes) -> Draw:
    return Draw(free.sampling, free.uniforms, table.drawable(tail, pending))


def alternatives(table: TokenTable, log_probs: torch.Tensor, count: int) -> tuple[TokenScore, ...]:
    """The `count` likeliest tokens under `log_probs` (V,), likeliest first."""
    best = torch.topk(log_probs, min(count, log_probs.numel()))
    return tuple(TokenScore(shown_bytes(table.token_bytes[i]), lp)
                 for lp, i in zip(best.values.tolist(), best.indices.tolist()))


def shown_bytes(data: bytes) -> str:
    """A token's bytes as text, those that are not whole characters as \\xNN."""
    return data.decode("utf-8", "backslashreplace")
