"""lstmtext's own endpoints, beside OpenAI's: ranked completions (`/v1/complete`), ghost text (`/v1/suggest`),
what the LSTM does as it reads (`/v1/inspect`), and the writing page's sessions (`/v1/sessions`): the first two
answer from a page's session when the request names one, else through the model's engine."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .loaded import LoadedModels, refusing, results
from .openai_format import submit
from .requests import (
    CompleteBody,
    InspectBody,
    ReadBody,
    SessionBody,
    SuggestBody,
    complete_request,
    inspect_request,
    parse,
    read_body,
    suggest_request,
)


def add_own_routes(guarded: APIRouter, loaded: LoadedModels) -> None:
    options = loaded.options

    @guarded.post("/v1/complete")
    async def complete(request: Request) -> Response:
        body = parse(CompleteBody, await read_body(request, options))
        completion_options = complete_request(body, options)
        if body.session is not None:
            page = loaded.sessions.get(body.session)
            name, found = page.name, await page.answer(
                "complete", lambda: refusing(page.session.complete, body.prompt, "prompt", completion_options))
        else:
            name, model, engine = loaded.pick(body.model)
            found = (await results([submit(engine, model.complete_steps, body.prompt, completion_options)],
                                   request))[0]
        return JSONResponse({"model": name, "prompt": body.prompt,
                             "completions": [completion.to_dict() for completion in found],
                             "retyped": found[0].retyped if found else ""})

    @guarded.post("/v1/suggest")
    async def suggest(request: Request) -> Response:
        body = parse(SuggestBody, await read_body(request, options))
        suggest_request(body, options)
        if body.session is not None:
            page = loaded.sessions.get(body.session)
            name, text = page.name, await page.answer(
                "suggest", lambda: refusing(page.session.suggest, body.prompt, "prompt", max_chars=body.max_chars))
        else:
            name, model, engine = loaded.pick(body.model)
            job = submit(engine, model.suggest_steps, body.prompt, max_chars=body.max_chars)
            text = (await results([job], request))[0]
        return JSONResponse({"model": name, "prompt": body.prompt, "text": text})

    @guarded.post("/v1/inspect")
    async def inspect(request: Request) -> Response:
        body = parse(InspectBody, await read_body(request, options))
        name, model, _ = loaded.pick(body.model)
        inspected = await asyncio.to_thread(refusing, model.inspect, body.text, "text",
                                            inspect_request(body, options))
        return JSONResponse({"model": name, **inspected.to_dict()})

    _add_session_routes(guarded, loaded)


def _add_session_routes(guarded: APIRouter, loaded: LoadedModels) -> None:
    options = loaded.options

    @guarded.post("/v1/sessions")
    async def start(request: Request) -> Response:
        body = parse(SessionBody, await read_body(request, options))
        name, model, _ = loaded.pick(body.model)
        key = await asyncio.to_thread(loaded.sessions.start, name, model)
        return JSONResponse({"id": key, "model": name}, status_code=201)

    @guarded.post("/v1/sessions/{key}/read")
    async def read(key: str, request: Request) -> Response:
        body = parse(ReadBody, await read_body(request, options))
        page = loaded.sessions.get(key)
        refusing(page.session.read, body.text, "text")
        return JSONResponse({"id": key, "learned_texts": page.session.learned_texts})

    @guarded.delete("/v1/sessions/{key}")
    async def close(key: str) -> Response:
        loaded.sessions.get(key)
        await asyncio.to_thread(loaded.sessions.close, key)
        return JSONResponse({"id": key, "closed": True})
