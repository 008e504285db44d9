"""How likely the model finds a given text, token by token: each token's log-probability and the likeliest tokens
in its place, as OpenAI's `echo` + `logprobs` report a prompt's (the way OpenAI-style tools score text)."""

from __future__ import annotations

import torch

from ..core.model import RecurrentLM
from ..core.tokenizer import Tokenizer
from ..results import TokenStep
from .continuation import alternatives, shown_bytes
from .healing import TokenTable
from .reading import LINE_START, reading_context

_WINDOW = 512  # tokens read at once: the (T, V) log-probabilities of a long text never all at once


@torch.inference_mode()
def score_text(model: RecurrentLM, tokenizer: Tokenizer, table: TokenTable, text: str, top: int = 0
               ) -> tuple[TokenStep, ...]:
    """Each token of `text` (read after `reading_context`, as a prompt is) with its log-probability given
    everything before it and, with `top`, the `top` likeliest tokens in its place; offsets are characters of
    `text`. A token that also holds the reading context's space is shown without it."""
    context = reading_context(text)
    primer = [] if context == LINE_START else tokenizer.encode(LINE_START)
    ids = primer + tokenizer.encode(context + text)
    context_bytes = sum(len(table.token_bytes[i]) for i in primer) + len(context.encode())
    device = next(model.parameters()).device
    steps, state, at = [], None, 0
    for start in range(0, len(ids) - 1, _WINDOW):
        window = torch.tensor([ids[start:start + _WINDOW + 1]], device=device)
        logits, state = model(window[:, :-1], state)
        log_probs = torch.log_softmax(logits[0].float(), dim=-1).cpu()
        for row, token_id in enumerate(window[0, 1:].tolist()):
            piece = table.token_bytes[token_id]
            at += len(piece) if start + row else len(table.token_bytes[ids[0]]) + len(piece)  # the first: + ids[0]
            if at > context_bytes:
                steps.append(_step(text, table, piece, at, context_bytes, log_probs[row], token_id, top))
    return tuple(steps)


def _step(text: str, table: TokenTable, piece: bytes, end: int, context_bytes: int, log_probs: torch.Tensor,
          token_id: int, top: int) -> TokenStep:
    own = piece[max(0, len(piece) - (end - context_bytes)):]  # without the context's part
    start = end - context_bytes - len(own)
    offset = len(text.encode()[:start].decode("utf-8", "ignore"))
    likeliest = alternatives(table, log_probs, top) if top else ()
    return TokenStep(shown_bytes(own), float(log_probs[token_id]), likeliest, offset)
