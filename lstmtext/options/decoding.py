"""What a request to a model may ask: sampling, completion and generation options, and their limits. No torch.

Every interface (the CLI, the REPL, the API's keyword arguments) builds these and hands them down; each default
is written here once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .checks import (
    check_at_least_one,
    check_at_most,
    check_choice,
    check_finite,
    check_positive,
    check_seed,
    require_option,
)

UNTIL = ("sentence", "line", "word", "none")  # where a completion stops

MAX_COMPLETIONS = 100
MAX_BEAM_WIDTH = 256
MAX_COMPLETION_TOKENS = 1000
MAX_STOPS = 4  # stop sequences in one request, as OpenAI's API allows
MAX_LOGPROBS = 5  # alternatives shown with each token, as OpenAI's API allows
# A prompt longer than this is read from its last line or word break within this many characters: an LSTM's
# memory is far shorter, and reading a whole book before every completion would take minutes.
MAX_PROMPT_CHARS = 20_000


@dataclass(frozen=True)
class Sampling:
    """How a token is drawn: temperature (below 1 safer, above 1 wilder), then only the `top_k` most likely
    tokens and the smallest set covering `top_p` of the probability; the same `seed` gives the same draws."""

    temperature: float = 0.8
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        check_positive("temperature", self.temperature, 0.8)
        require_option(self.top_k is None or self.top_k >= 1, "top_k", "{name} {value} must be at least 1",
                       "use e.g. {example}, or leave it out", value=self.top_k, example=40)
        check_finite("top_p", self.top_p, 0.9)
        require_option(self.top_p is None or 0 < self.top_p <= 1, "top_p", "{name} {value} is outside (0, 1]",
                       "use e.g. {example}, or leave it out", value=self.top_p, example=0.9)
        check_seed("seed", self.seed)


@dataclass(frozen=True)
class CompletionOptions:
    """The `n` most likely continuations by beam search (or, with `sampling`, `n` sampled ones), each ending at the
    end of the sentence, line or word (`until`) or after `max_tokens` tokens. `normalize` ranks by probability
    per token. `beam_width` None: `beam`, twice `n` and at least 4."""

    n: int = 3
    until: str = "sentence"
    max_tokens: int = 80
    beam_width: int | None = None
    normalize: bool = False
    sampling: Sampling | None = None

    def __post_init__(self) -> None:
        check_choice("until", self.until, UNTIL)
        check_at_least_one("n", self.n, 5)
        check_at_least_one("max_tokens", self.max_tokens, 40)
        require_option(self.beam_width is None or self.beam_width >= self.n, "beam_width",
                       "{name} {value} is smaller than {names[n]} {n}", "use {example} or more, or leave it out",
                       value=self.beam_width, n=self.n, example=self.n)
        check_at_most("n", self.n, MAX_COMPLETIONS)
        check_at_most("beam_width", self.beam_width, MAX_BEAM_WIDTH)
        check_at_most("max_tokens", self.max_tokens, MAX_COMPLETION_TOKENS)

    @property
    def beam(self) -> int:
        """The beam width searched: twice the completions asked for, so that merged and cut-short paths still
        leave n distinct ones."""
        return self.beam_width or max(2 * self.n, 4)


CONTINUATION_CHARS = 64  # a continuation's default length: OpenAI's 16 tokens of English, at every level


@dataclass(frozen=True)
class ContinuationOptions:
    """One continuation of a prompt, a token at a time: sampled (`sampling`), or the most likely token at each
    step (`sampling` None); at most `max_tokens` tokens (None: as many as `CONTINUATION_CHARS` characters take
    at the model's level), ending before the first of the `stop` strings it writes; with `logprobs`, each token
    comes with that many of the most likely tokens in its place. `finish_word`: a prompt that ends inside a word
    may be continued inside it (False: the prompt is whole, as a chat message is, and the continuation starts
    after its last word, with a space, a line break or punctuation)."""

    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    sampling: Sampling | None = Sampling()
    logprobs: int | None = None
    finish_word: bool = True

    def __post_init__(self) -> None:
        if self.max_tokens is not None:
            check_at_least_one("max_tokens", self.max_tokens, 16)
            check_at_most("max_tokens", self.max_tokens, MAX_COMPLETION_TOKENS)
        require_option(isinstance(self.stop, tuple) and all(isinstance(s, str) and s for s in self.stop), "stop",
                       "{name} must be non-empty strings", "pass e.g. {example}", example="\\n")
        check_at_most("stop", len(self.stop), MAX_STOPS)
        require_option(self.logprobs is None or 0 <= self.logprobs <= MAX_LOGPROBS, "logprobs",
                       "{name} {value} is outside 0 to {most}", "pass e.g. {example}", value=self.logprobs,
                       most=MAX_LOGPROBS, example=1)


@dataclass(frozen=True)
class GenerationOptions:
    """`length` tokens sampled after a prompt."""

    length: int = 200
    sampling: Sampling = Sampling()

    def __post_init__(self) -> None:
        check_at_least_one("length", self.length, 200)


SAMPLING_FIELDS = tuple(field.name for field in fields(Sampling))


def completion_options(base: CompletionOptions | None = None, /, *, sample: bool | None = None,
                       **changes: object) -> CompletionOptions:
    """`base` (default: the defaults) with `changes` made, where the sampling fields (temperature, top_k, top_p,
    seed) may be given flat; `sample` turns sampling on or off. A sampling field given without sampling is
    refused, naming it (it would change nothing). Options handed down whole are used as they are (checked once,
    when made)."""
    base = base or CompletionOptions()
    if not changes and sample is None:
        return base
    sampled = base.sampling is not None if sample is None else sample
    given = next((name for name in SAMPLING_FIELDS if name in changes), None)
    require_option(sampled or given is None, given, "{name} applies only to sampled completions",
                   "turn on {names[sample]}, or leave {name} out")
    sampling = _sampling(base.sampling or Sampling(), changes)
    return replace(base, sampling=sampling if sampled else None, **changes)


def generation_options(base: GenerationOptions | None = None, /, **changes: object) -> GenerationOptions:
    """`base` (default: the defaults) with `changes` made, the sampling fields given flat."""
    base = base or GenerationOptions()
    if not changes:
        return base
    return replace(base, sampling=_sampling(base.sampling, changes), **changes)


def _sampling(base: Sampling, changes: dict[str, object]) -> Sampling:
    """`base` with the sampling fields among `changes` (taken out of them) applied."""
    return replace(base, **{name: changes.pop(name) for name in SAMPLING_FIELDS if name in changes})
