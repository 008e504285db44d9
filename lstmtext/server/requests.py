"""What the server's endpoints accept: JSON bodies checked by pydantic (no type is coerced: "10" is not 10), then
turned into the library's option types, which check the values. Every failure is an `ApiError` that the app
answers in OpenAI's error shape."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import Request
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import ClientDisconnect

from ..errors import LstmtextError
from ..options import MAX_SEED, CompletionOptions, ContinuationOptions, Sampling, ServeOptions, completion_options


class ApiError(Exception):
    """A request the server refuses: HTTP `status`, a message that says how to fix it, the parameter at fault."""

    def __init__(self, status: int, message: str, param: str | None = None, kind: str = "invalid_request_error",
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.kind, self.code = status, message, param, kind, code

    @classmethod
    def refusing(cls, error: LstmtextError, param: str | None = None) -> ApiError:
        """The library's refusal (a bad option, prompt or text) as a 400 naming the option at fault."""
        return cls(400, str(error), error.field or param)

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class CompletionsBody(_Strict):
    """OpenAI's `POST /v1/completions` (the fields an LSTM can honour; others are ignored, as llama.cpp does)."""

    model: str | None = None
    prompt: str | list[str] = ""
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    n: int = 1
    stop: str | list[str] | None = None
    seed: int | None = None
    echo: bool = False
    logprobs: int | None = None
    stream: bool = False


class CompleteBody(_Strict):
    """lstmtext's own `POST /v1/complete`: ranked completions (see `CompletionOptions`)."""

    model: str | None = None
    prompt: str
    n: int = CompletionOptions.n
    until: str = CompletionOptions.until
    max_tokens: int = CompletionOptions.max_tokens
    beam_width: int | None = None
    normalize: bool = False
    sample: bool = False
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Completions:
    model: str | None
    prompts: list[str]
    options: list[ContinuationOptions]  # one per choice: prompt-major, then n
    echo: bool
    stream: bool

    @property
    def n(self) -> int:
        return len(self.options) // len(self.prompts)


async def read_body(request: Request, options: ServeOptions) -> bytes:
    """The request body, refused as soon as it is larger than the server takes, or when it pauses for longer than
    `options.body_seconds`."""
    limit = options.max_request_bytes
    too_large = ApiError(413, f"the request is larger than {limit:,} bytes — send a shorter prompt "
                              "(the model reads only the end of a long one)", "prompt")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    stream = request.stream()
    try:
        while True:
            chunk = await asyncio.wait_for(anext(stream, None), options.body_seconds)
            if chunk is None:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, f"the request's body stopped arriving for {options.body_seconds:g} s — send it at once",
                       "prompt") from None
    except ClientDisconnect:  # not the server's failure: nobody is left to answer
        raise ApiError(499, "the client went away before its request was read") from None


def parse(body_type: type[_Strict], body: bytes) -> _Strict:
    try:
        return body_type.model_validate_json(body or b"{}")
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"] if not isinstance(part, int) or len(first["loc"]) > 1)
        if first["type"] == "json_invalid":
            raise ApiError(400, "the body is not valid JSON — send a JSON object, e.g. "
                           '{"prompt": "When there is", "max_tokens": 16}') from None
        raise ApiError(400, f"{where or 'the body'}: {first['msg']} — see the OpenAI completions API",
                       param=where or None) from None


def completions_request(body: CompletionsBody, limits: ServeOptions) -> Completions:
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    _check(bool(prompts), "prompt is an empty list", "send a string or a list of strings", "prompt")
    for prompt in prompts:
        _check(len(prompt) <= limits.max_prompt_chars, f"prompt is {len(prompt):,} characters long",
               f"send {limits.max_prompt_chars:,} or fewer (the model reads only the end of a long one)", "prompt")
    _check(1 <= body.n and body.n * len(prompts) <= limits.max_n, f"n × prompts is {body.n * len(prompts)}",
           f"ask for 1 to {limits.max_n} completions in one request", "n")
    max_tokens = ContinuationOptions.max_tokens if body.max_tokens is None else body.max_tokens
    _check(1 <= max_tokens <= limits.max_tokens, f"max_tokens {max_tokens} is outside 1 to {limits.max_tokens}",
           f"ask for 1 to {limits.max_tokens} tokens (the server's limit: serve --max-tokens)", "max_tokens")
    _check(body.temperature is None or body.temperature >= 0, f"temperature {body.temperature} is below 0",
           "pass 0 (most likely tokens) to 2", "temperature")
    _check(body.seed is None or 0 <= body.seed <= MAX_SEED, f"seed {body.seed} is outside 0 to 2^63-1",
           "pass e.g. 1337", "seed")
    stops = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    greedy = body.temperature == 0
    options = [_continuation(max_tokens, stops, body, None if greedy or body.seed is None
                             else (body.seed + choice) % (MAX_SEED + 1), greedy)
               for _ in prompts for choice in range(body.n)]
    return Completions(body.model, prompts, options, body.echo, body.stream)


def _continuation(max_tokens: int, stops: tuple[str, ...], body: CompletionsBody, seed: int | None,
                  greedy: bool) -> ContinuationOptions:
    with _as_api_error():
        sampling = None if greedy else Sampling(**_given(temperature=body.temperature, top_p=body.top_p,
                                                          top_k=body.top_k, seed=seed))
        return ContinuationOptions(max_tokens, stops, sampling, body.logprobs)


def complete_request(body: CompleteBody, limits: ServeOptions) -> CompletionOptions:
    _check(len(body.prompt) <= limits.max_prompt_chars, f"prompt is {len(body.prompt):,} characters long",
           f"send {limits.max_prompt_chars:,} or fewer", "prompt")
    _check(body.max_tokens <= limits.max_tokens, f"max_tokens {body.max_tokens} is over {limits.max_tokens}",
           f"ask for {limits.max_tokens} or fewer (the server's limit: serve --max-tokens)", "max_tokens")
    _check(body.n <= limits.max_n, f"n {body.n} is over {limits.max_n}", f"ask for {limits.max_n} or fewer", "n")
    sampling = _given(temperature=body.temperature, top_k=body.top_k, top_p=body.top_p, seed=body.seed)
    with _as_api_error():
        return completion_options(n=body.n, until=body.until, max_tokens=body.max_tokens,
                                  beam_width=body.beam_width, normalize=body.normalize, sample=body.sample,
                                  **sampling)


def _given(**values: object) -> dict[str, object]:
    """The values the body set (its fields default to None)."""
    return {name: value for name, value in values.items() if value is not None}


def _check(condition: bool, problem: str, fix: str, param: str | None) -> None:
    if not condition:
        raise ApiError(400, f"{problem} — {fix}", param)


class _as_api_error:
    """The library's option errors as 400s, naming the option."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if isinstance(error, LstmtextError):
            raise ApiError.refusing(error) from None
        return False
