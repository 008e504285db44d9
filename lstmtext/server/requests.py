"""What the server's endpoints accept: JSON bodies checked by pydantic (no type is coerced: "10" is not 10), then
turned into the library's option types, which check the values. Every failure is an `ApiError` that the app
answers in OpenAI's error shape."""

from __future__ import annotations

import asyncio

from fastapi import Request
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import ClientDisconnect

from ..errors import LstmtextError
from ..options import CompletionOptions, EditorOptions, InspectOptions, ServeOptions, completion_options

MAX_SUGGESTION_CHARS = 200


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


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class CompleteBody(Strict):
    """lstmtext's own `POST /v1/complete`: ranked completions (see `CompletionOptions`)."""

    model: str | None = None
    session: str | None = None  # as in SuggestBody
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


class SuggestBody(Strict):
    """lstmtext's own `POST /v1/suggest`: ghost text, the single best short continuation (`LanguageModel.suggest`)."""

    model: str | None = None
    session: str | None = None  # a page's writing session (POST /v1/sessions): answered with what it learned
    prompt: str
    max_chars: int = EditorOptions.ghost_chars


class SessionBody(Strict):
    """`POST /v1/sessions`: a writing session on a model, which learns from what it reads."""

    model: str | None = None


class ReadBody(Strict):
    """`POST /v1/sessions/{id}/read`: text for the session to learn from (in the background)."""

    text: str


class InspectBody(Strict):
    """lstmtext's own `POST /v1/inspect`: what the LSTM does at each token of a text (see `InspectOptions`)."""

    model: str | None = None
    text: str
    show: str = InspectOptions.show
    layer: int | None = None
    units: list[int] = []
    count: int = InspectOptions.count


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


def parse(body_type: type[Strict], body: bytes) -> Strict:
    try:
        return body_type.model_validate_json(body or b"{}")
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"] if not isinstance(part, int) or len(first["loc"]) > 1)
        if first["type"] == "json_invalid":
            raise ApiError(400, "the body is not valid JSON — send a JSON object, e.g. "
                           '{"prompt": "When there is", "max_tokens": 16}') from None
        if first["type"] == "extra_forbidden":
            raise ApiError(400, f"{where} is not a field lstmtext serve takes here — leave it out (docs/serve.md "
                           "lists the fields)", where, code="unsupported_parameter") from None
        raise ApiError(400, f"{where or 'the body'}: {first['msg']} — see the OpenAI completions API",
                       param=where or None) from None


def complete_request(body: CompleteBody, limits: ServeOptions) -> CompletionOptions:
    check_length(body.prompt, limits, "prompt")
    check(body.max_tokens <= limits.max_tokens, f"max_tokens {body.max_tokens} is over {limits.max_tokens}",
           f"ask for {limits.max_tokens} or fewer (the server's limit: serve --max-tokens)", "max_tokens")
    check(body.n <= limits.max_n, f"n {body.n} is over {limits.max_n}", f"ask for {limits.max_n} or fewer", "n")
    sampling = given(temperature=body.temperature, top_k=body.top_k, top_p=body.top_p, seed=body.seed)
    with as_api_error():
        return completion_options(n=body.n, until=body.until, max_tokens=body.max_tokens,
                                  beam_width=body.beam_width, normalize=body.normalize, sample=body.sample,
                                  **sampling)


def inspect_request(body: InspectBody, limits: ServeOptions) -> InspectOptions:
    check_length(body.text, limits, "text")
    with as_api_error():
        return InspectOptions(body.show, body.layer, tuple(body.units), body.count)


def suggest_request(body: SuggestBody, limits: ServeOptions) -> None:
    check_length(body.prompt, limits, "prompt")
    check(1 <= body.max_chars <= MAX_SUGGESTION_CHARS, f"max_chars {body.max_chars} is outside 1 to "
          f"{MAX_SUGGESTION_CHARS}", f"ask for 1 to {MAX_SUGGESTION_CHARS} characters of ghost text", "max_chars")


def given(**values: object) -> dict[str, object]:
    """The values the body set (its fields default to None)."""
    return {name: value for name, value in values.items() if value is not None}


def check_length(text: str, limits: ServeOptions, param: str) -> None:
    """Refuse a prompt or text longer than the server takes (`ServeOptions.max_prompt_chars`)."""
    reads_end = " (the model reads only the end of a long one)" if param == "prompt" else ""
    check(len(text) <= limits.max_prompt_chars, f"{param} is {len(text):,} characters long",
          f"send {limits.max_prompt_chars:,} or fewer{reads_end}", param)


def check(condition: bool, problem: str, fix: str, param: str | None) -> None:
    if not condition:
        raise ApiError(400, f"{problem} — {fix}", param)


class as_api_error:
    """The library's option errors as 400s, naming the option."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if isinstance(error, LstmtextError):
            raise ApiError.refusing(error) from None
        return False
