"""The HTTP app: OpenAI-compatible completions, chat completions and model list, lstmtext's own ranked
completions and inspection, the writing page (page.py), health and metrics, over one continuous-batching engine
per model (engine.py). Uses only the public API and option types.

Every refusal is a 4xx in OpenAI's error shape ({"error": {"message", "type", "param", "code"}}); a request
whose client goes away is dropped from its batch at the next step.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from .. import Engine, Job, LanguageModel, __version__
from ..errors import LstmtextError
from ..options import CONTINUATION_CHARS, ServeOptions
from .chat import ChatBody, chat_request
from .metrics import CONTENT_TYPE, Metrics
from .openai_format import Answer, submit
from .openai_requests import CompletionsBody, completions_request
from .page import add_page
from .requests import (
    ApiError,
    CompleteBody,
    InspectBody,
    SuggestBody,
    complete_request,
    inspect_request,
    parse,
    read_body,
    suggest_request,
)
from .shapes import CHAT, TEXT

log = logging.getLogger("lstmtext.server")
_LOOK_SECONDS = 0.02  # how often a waiting request looks whether its client is gone: the page drops stale ones
_ENDPOINTS = ("/v1/completions", "/v1/chat/completions", "/v1/complete", "/v1/suggest", "/v1/inspect", "/v1/models",
              "/health", "/metrics", "/")


class _Models:
    """The loaded models, each with its engine."""

    def __init__(self, models: dict[str, LanguageModel], options: ServeOptions, metrics: Metrics) -> None:
        self.models, self.options = models, options
        self.engines = {name: model.engine(batching=options.batching,
                                           on_step=metrics.batch_rows.labels(name).observe)
                        for name, model in models.items()}
        for name, engine in self.engines.items():
            metrics.active.labels(name).set_function(lambda engine=engine: engine.active)

    def pick(self, name: str | None) -> tuple[str, LanguageModel, Engine]:
        name = name if name is not None else next(iter(self.models))
        if name not in self.models:
            raise ApiError(404, f"model '{name}' is not loaded here — use one of: {', '.join(self.models)} "
                           "(GET /v1/models)", "model", code="model_not_found")
        return name, self.models[name], self.engines[name]

    def close(self) -> None:
        for engine in self.engines.values():
            engine.close()


def create_app(models: dict[str, LanguageModel], options: ServeOptions = ServeOptions()) -> FastAPI:
    """The app serving `models` (name → model; the first is the default) within `options`' limits."""
    if not models:
        raise ValueError("create_app needs at least one model")
    metrics = Metrics()
    loaded = _Models(models, options, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        loaded.close()

    app = FastAPI(title="lstmtext", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    _add_error_answers(app)
    if options.cors:
        app.add_middleware(CORSMiddleware, allow_origins=list(options.cors), allow_methods=["GET", "POST"],
                           allow_headers=["authorization", "content-type"])
    app.add_middleware(_Observed, metrics=metrics)
    add_page(app)
    guarded = APIRouter(dependencies=[Depends(_key_check(options.api_key))] if options.api_key else [])

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "models": list(models),
                "active_requests": sum(engine.active for engine in loaded.engines.values())}

    _add_openai_routes(guarded, loaded, metrics)
    _add_own_routes(guarded, loaded)

    @guarded.get("/metrics")
    async def exposition() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    @guarded.get("/v1/models")
    async def model_list() -> dict:
        return {"object": "list", "data": [_model_entry(name, model) for name, model in models.items()]}

    @guarded.get("/v1/models/{name}")
    async def model_entry(name: str) -> dict:
        return _model_entry(name, loaded.pick(name)[1])

    app.include_router(guarded)
    return app


def _add_openai_routes(guarded: APIRouter, loaded: _Models, metrics: Metrics) -> None:
    options = loaded.options

    async def answer(request: Request, body_type, to_request, shape) -> Response:
        body = parse(body_type, await read_body(request, options))
        name, model, engine = loaded.pick(body.model)
        answer = Answer(name, model, to_request(body, options, model.tokens_for_chars(CONTINUATION_CHARS)), shape)
        await answer.score_prompts()
        if answer.asked.stream:
            queue = asyncio.Queue()
            jobs = answer.submit(engine, queue)
            return StreamingResponse(answer.events(jobs, queue, metrics), media_type="text/event-stream")
        jobs = answer.submit(engine)
        results = await _results(jobs, request) if jobs else answer.unwritten()
        metrics.tokens.labels(name).inc(sum(len(result.tokens) for result in results))
        return JSONResponse(answer.body(results))

    @guarded.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await answer(request, CompletionsBody, completions_request, TEXT)

    @guarded.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await answer(request, ChatBody, chat_request, CHAT)


def _add_own_routes(guarded: APIRouter, loaded: _Models) -> None:
    """lstmtext's own endpoints: ranked completions, ghost text, what the LSTM does as it reads."""
    options = loaded.options

    @guarded.post("/v1/complete")
    async def complete(request: Request) -> Response:
        body = parse(CompleteBody, await read_body(request, options))
        completion_options = complete_request(body, options)
        name, model, engine = loaded.pick(body.model)
        found = (await _results([submit(engine, model.complete_steps, body.prompt, completion_options)],
                                request))[0]
        return JSONResponse({"model": name, "prompt": body.prompt,
                             "completions": [completion.to_dict() for completion in found],
                             "retyped": found[0].retyped if found else ""})

    @guarded.post("/v1/suggest")
    async def suggest(request: Request) -> Response:
        body = parse(SuggestBody, await read_body(request, options))
        suggest_request(body, options)
        name, model, engine = loaded.pick(body.model)
        job = submit(engine, model.suggest_steps, body.prompt, max_chars=body.max_chars)
        text = (await _results([job], request))[0]
        return JSONResponse({"model": name, "prompt": body.prompt, "text": text})

    @guarded.post("/v1/inspect")
    async def inspect(request: Request) -> Response:
        body = parse(InspectBody, await read_body(request, options))
        name, model, _ = loaded.pick(body.model)
        inspected = await asyncio.to_thread(_refusing, model.inspect, body.text, "text",
                                            inspect_request(body, options))
        return JSONResponse({"model": name, **inspected.to_dict()})


def _refusing(method, text: str, param: str, *args, **kwargs):
    """`method(text, ...)`, the library's refusal of it as a 400 naming `param`."""
    try:
        return method(text, *args, **kwargs)
    except LstmtextError as error:
        raise ApiError.refusing(error, param) from None


async def _results(jobs: list[Job], request: Request) -> list:
    """The jobs' results, once all are done; if the client goes away first, the jobs are dropped."""
    gathered = asyncio.gather(*(asyncio.wrap_future(job.future) for job in jobs))
    try:
        while True:
            done, _ = await asyncio.wait({gathered}, timeout=_LOOK_SECONDS)
            if done:
                return gathered.result()
            if await request.is_disconnected():
                raise ApiError(499, "the client closed the connection")
    except LstmtextError as error:
        raise ApiError.refusing(error) from None
    finally:
        for job in jobs:
            job.cancel()


def _model_entry(name: str, model: LanguageModel) -> dict:
    try:
        created = int(model.path.stat().st_mtime) if model.path else 0
    except OSError:
        created = 0
    return {"id": name, "object": "model", "owned_by": "lstmtext", "created": created}


def _key_check(api_key: str):
    async def check(request: Request) -> None:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
            raise ApiError(401, "missing or wrong API key — send the header Authorization: Bearer <key> (the key "
                                "`lstmtext serve` was started with)", kind="authentication_error",
                           code="invalid_api_key")

    return check


def _add_error_answers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def refused(_request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(HTTPException)
    async def not_here(_request: Request, error: HTTPException) -> JSONResponse:
        message = {404: "no such endpoint — see GET /v1/models, POST /v1/completions, POST /v1/chat/completions, "
                        "POST /v1/complete",
                   405: "this endpoint does not take that method"}.get(error.status_code, str(error.detail))
        return JSONResponse(ApiError(error.status_code, message).body(), status_code=error.status_code)

    @app.exception_handler(Exception)
    async def failed(_request: Request, error: Exception) -> JSONResponse:
        log.exception("request failed")
        return JSONResponse(ApiError(500, f"internal error: {error}", kind="server_error").body(), status_code=500)


class _Observed:
    """Counts every request by endpoint and status and times it to its last byte (streams included)."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]

        async def observed(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            endpoint = scope["path"] if scope["path"] in _ENDPOINTS else "other"
            self.metrics.requests.labels(endpoint, str(status[0])).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
