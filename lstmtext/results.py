"""What the model API returns: completions with their token paths, and evaluations of a text."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .options.adaptation import AdaptOptions


@dataclass(frozen=True)
class TokenScore:
    text: str  # the token's text (bytes that are not whole characters shown as \xNN)
    log_prob: float


@dataclass(frozen=True)
class Completion:
    prompt: str
    text: str  # what follows the prompt
    probability: float  # given the prompt (see `search`); completions returned together sum to at most 1
    tokens: tuple[TokenScore, ...]  # the most likely token path, starting with any that re-type the prompt's end
    retyped: str = ""  # the end of the prompt those first tokens re-type (token healing)

    def to_dict(self) -> dict:
        return {"text": self.text, "probability": self.probability,
                "tokens": [asdict(token) for token in self.tokens]}


@dataclass(frozen=True)
class TokenStep:
    text: str  # what the token added to the continuation
    log_prob: float  # the model's, not the temperature-adjusted one it was drawn with
    top: tuple[TokenScore, ...]  # the most likely tokens in its place, if asked for
    offset: int  # where its text starts in the continuation


@dataclass(frozen=True)
class Continuation:
    prompt: str
    text: str  # what follows the prompt (a half-typed last word's end first)
    finish_reason: str  # "stop": a stop string came (not included); "length": max_tokens were written
    tokens: tuple[TokenStep, ...]


@dataclass(frozen=True)
class Evaluation:
    bits_per_char: float
    nats_per_char: float
    perplexity: float
    tokens: int
    chars: int
    seconds: float = 0.0  # how long the scoring took (the text already tokenized)
    adaptation: AdaptOptions | None = None  # how the model learned as it read, if it did

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        values = asdict(self)
        values["tokens_per_second"] = round(self.tokens_per_second)
        if self.adaptation is None:
            values.pop("adaptation")
        return values
