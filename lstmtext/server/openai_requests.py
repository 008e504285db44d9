"""What OpenAI's `POST /v1/completions` and `POST /v1/chat/completions` accept, turned into one `Completions`: the
prompts and one `ContinuationOptions` per choice. A field of OpenAI's that lstmtext does not implement is refused
(400, naming it) unless it is given the value that changes nothing; a field OpenAI does not have is refused too."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import MAX_SEED, ContinuationOptions, Sampling, ServeOptions
from .requests import ApiError, Strict, as_api_error, check, check_length, given


class StreamOptions(Strict):
    include_usage: bool = False


class OpenAIBody(Strict):
    """The fields both endpoints take."""

    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    n: int = 1
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None  # who asked, for the provider's records: nothing to do here
    logit_bias: dict[str, float] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None

    def refuse_unimplemented(self) -> None:
        """A 400 naming the first field given a value that would change the answer if it were implemented."""
        for field in sorted(self.model_fields_set):
            value = getattr(self, field)
            if field in _UNIMPLEMENTED and value is not None and not _UNIMPLEMENTED[field](value, self):
                raise ApiError(400, f"{field} is not implemented by lstmtext serve — leave it out", field,
                               code="unsupported_parameter")


class CompletionsBody(OpenAIBody):
    """OpenAI's `POST /v1/completions`."""

    prompt: str | list[str] = ""
    echo: bool = False
    logprobs: int | None = None
    best_of: int | None = None
    suffix: str | None = None


_UNIMPLEMENTED = {  # field → whether a value of it changes nothing
    "logit_bias": lambda value, _: not value,
    "presence_penalty": lambda value, _: value == 0,
    "frequency_penalty": lambda value, _: value == 0,
    "best_of": lambda value, body: value == body.n,
    "suffix": lambda value, _: value == "",
    "tools": lambda value, _: not value,
    "functions": lambda value, _: not value,
    "tool_choice": lambda value, _: value in ("none", "auto"),
    "response_format": lambda value, _: value == {"type": "text"},
}


@dataclass(frozen=True)
class Completions:
    model: str | None
    prompts: list[str]
    options: list[ContinuationOptions]  # one per choice: prompt-major, then n
    max_tokens: int  # 0: nothing is written (the prompts are only scored)
    echo: bool = False
    prompt_logprobs: int | None = None  # with echo: the prompt's tokens scored, with this many alternatives
    stream: bool = False
    include_usage: bool = False

    @property
    def n(self) -> int:
        return len(self.options) // len(self.prompts)


def completions_request(body: CompletionsBody, limits: ServeOptions, default_max_tokens: int) -> Completions:
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    check(bool(prompts), "prompt is an empty list", "send a string or a list of strings", "prompt")
    max_tokens, options = continuation_options(body, limits, default_max_tokens, prompts, body.logprobs,
                                               least=0 if body.echo else 1)
    return Completions(body.model, prompts, options, max_tokens, body.echo, body.logprobs if body.echo else None,
                       body.stream, bool(body.stream_options and body.stream_options.include_usage))


def continuation_options(body: OpenAIBody, limits: ServeOptions, default_max_tokens: int, prompts: list[str],
                         logprobs: int | None, *, least: int = 1, finish_word: bool = True
                         ) -> tuple[int, list[ContinuationOptions]]:
    """The length asked for (default: about `CONTINUATION_CHARS` characters) and each choice's options."""
    body.refuse_unimplemented()
    for prompt in prompts:
        check_length(prompt, limits, "prompt")
    check(1 <= body.n and body.n * len(prompts) <= limits.max_n, f"n × prompts is {body.n * len(prompts)}",
          f"ask for 1 to {limits.max_n} completions in one request", "n")
    max_tokens = min(default_max_tokens, limits.max_tokens) if body.max_tokens is None else body.max_tokens
    check(least <= max_tokens <= limits.max_tokens, f"max_tokens {max_tokens} is outside {least} to "
          f"{limits.max_tokens}", f"ask for 1 to {limits.max_tokens} tokens (the server's limit: serve --max-tokens"
          f"{'; 0 with echo scores the prompt only' if least == 0 else ''})", "max_tokens")
    check(body.temperature is None or body.temperature >= 0, f"temperature {body.temperature} is below 0",
          "pass 0 (most likely tokens) to 2", "temperature")
    check(body.seed is None or 0 <= body.seed <= MAX_SEED, f"seed {body.seed} is outside 0 to 2^63-1",
          "pass e.g. 1337", "seed")
    stops = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    greedy = body.temperature == 0
    options = [_continuation(max(max_tokens, 1), stops, body, logprobs, None if greedy or body.seed is None
                             else (body.seed + choice) % (MAX_SEED + 1), greedy, finish_word)
               for _ in prompts for choice in range(body.n)]
    return max_tokens, options


def _continuation(max_tokens: int, stops: tuple[str, ...], body: OpenAIBody, logprobs: int | None,
                  seed: int | None, greedy: bool, finish_word: bool) -> ContinuationOptions:
    with as_api_error():
        sampling = None if greedy else Sampling(**given(temperature=body.temperature, top_p=body.top_p,
                                                         top_k=body.top_k, seed=seed))
        return ContinuationOptions(max_tokens, stops, sampling, logprobs, finish_word)

