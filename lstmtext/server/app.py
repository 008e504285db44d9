"""The HTTP app: OpenAI-compatible completions, chat completions and model list, lstmtext's own endpoints
(own_routes.py), the writing page (page.py), health and metrics, over one continuous-batching engine per model
(loaded.py, engine.py). Uses only the public API and option types.

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

from .. import LanguageModel, __version__
from ..options import CONTINUATION_CHARS, ServeOptions
from .chat import ChatBody, chat_request
from .loaded import LoadedModels, results
from .metrics import CONTENT_TYPE, Metrics
from .openai_format import Answer
from .openai_requests import CompletionsBody, completions_request
from .own_routes import add_own_routes
from .page import add_page
from .requests import ApiError, parse, read_body
from .shapes import CHAT, TEXT

log = logging.getLogger("lstmtext.server")
_ENDPOINTS = ("/v1/completions", "/v1/chat/completions", "/v1/complete", "/v1/suggest", "/v1/inspect", "/v1/models",
              "/health", "/metrics", "/")


def create_app(models: dict[str, LanguageModel], options: ServeOptions = ServeOptions()) -> FastAPI:
    """The app serving `models` (name → model; the first is the default) within `options`' limits."""
    if not models:
        raise ValueError("create_app needs at least one model")
    metrics = Metrics()
    loaded = LoadedModels(models, options, metrics)

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
                "active_requests": sum(engine.active for engine in loaded.engines.values()),
                "writing_sessions": len(loaded.sessions.open)}

    _add_openai_routes(guarded, loaded, metrics)
    add_own_routes(guarded, loaded)

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


def _add_openai_routes(guarded: APIRouter, loaded: LoadedModels, metrics: Metrics) -> None:
    options = loaded.options

    async def openai_answer(request: Request, body_type, to_request, shape) -> Response:
        body = parse(body_type, await read_body(request, options))
        name, model, engine = loaded.pick(body.model)
        answer = Answer(name, model, to_request(body, options, model.tokens_for_chars(CONTINUATION_CHARS)), shape)
        await answer.score_prompts()
        if answer.asked.stream:
            queue = asyncio.Queue()
            jobs = answer.submit(engine, queue)
            return StreamingResponse(answer.events(jobs, queue, metrics), media_type="text/event-stream")
        jobs = answer.submit(engine)
        found = await results(jobs, request) if jobs else answer.unwritten()
        metrics.tokens.labels(name).inc(sum(len(result.tokens) for result in found))
        return JSONResponse(answer.body(found))

    @guarded.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await openai_answer(request, CompletionsBody, completions_request, TEXT)

    @guarded.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await openai_answer(request, ChatBody, chat_request, CHAT)


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
