"""Turning next-token distributions into text: sampling (temperature, top-k, top-p), greedy completion,
stop rules, and streaming decoded text as tokens arrive. Prints nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from .errors import BadInput
from .model import RecurrentLM, State

UNTIL = ("sentence", "line", "word", "none")
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?]")


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise BadInput(f"temperature {self.temperature} must be positive", "use e.g. --temperature 0.8")
        if self.top_k is not None and self.top_k < 1:
            raise BadInput(f"top-k {self.top_k} must be at least 1", "use e.g. --top-k 40, or leave it out")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise BadInput(f"top-p {self.top_p} is outside (0, 1]", "use e.g. --top-p 0.9, or leave it out")


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
    probabilities = torch.softmax(filtered_logits(logits, sampling), dim=-1)
    return int(torch.multinomial(probabilities, 1, generator=generator).item())


class Stepper:
    """Feeds a model one token at a time, keeping its recurrent state."""

    def __init__(self, model: RecurrentLM, device: torch.device) -> None:
        self.model, self.device = model, device
        self.state: State = None

    @torch.no_grad()
    def feed(self, ids: list[int]) -> torch.Tensor:
        """Run `ids` through the model and return the next-token logits (V,)."""
        tokens = torch.tensor([ids], dtype=torch.long, device=self.device)  # (1, T)
        logits, self.state = self.model(tokens, self.state)  # (1, T, V)
        return logits[0, -1].float()


class TextStream:
    """Decodes a growing token list and hands out only the new text, holding back half a UTF-8 character
    (decoding pieces one at a time would also lose SentencePiece's leading space marks)."""

    def __init__(self, decode: Callable[[list[int]], str]) -> None:
        self.decode, self.ids, self.text = decode, [], ""

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        text = self.decode(self.ids)
        if text.endswith("\ufffd"):
            return ""
        new, self.text = text[len(self.text):], text
        return new


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


@dataclass(frozen=True)
class Continuation:
    text: str
    token_ids: list[int]
    log_probs: list[float]

    @property
    def probability(self) -> float:
        return math.exp(sum(self.log_probs))


def continue_text(stepper: Stepper, logits: torch.Tensor, decode: Callable[[list[int]], str], *,
                  max_tokens: int, until: str, sampling: Sampling | None = None,
                  generator: torch.Generator | None = None) -> Continuation:
    """Extend from `logits` greedily (or by sampling) until the `until` rule or `max_tokens`."""
    stream = TextStream(decode)
    ids: list[int] = []
    log_probs: list[float] = []
    for _ in range(max_tokens):
        token = int(torch.argmax(logits)) if sampling is None else sample_token(logits, sampling, generator)
        log_probs.append(float(torch.log_softmax(logits, dim=-1)[token]))
        ids.append(token)
        stream.push(token)
        cut = cut_point(stream.text, until)
        if cut is not None:
            return Continuation(stream.text[:cut], ids, log_probs)
        logits = stepper.feed([token])
    return Continuation(stream.decode(ids), ids, log_probs)


def sample_stream(stepper: Stepper, logits: torch.Tensor, decode: Callable[[list[int]], str], *, length: int,
                  sampling: Sampling, generator: torch.Generator) -> Iterator[str]:
    """Sample `length` tokens, yielding text as soon as it decodes."""
    stream = TextStream(decode)
    for index in range(length):
        token = sample_token(logits, sampling, generator)
        if new := stream.push(token):
            yield new
        if index + 1 < length:
            logits = stepper.feed([token])
    tail = stream.decode(stream.ids)[len(stream.text):]
    if tail:
        yield tail
