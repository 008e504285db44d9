"""The models a server serves, each with its continuous-batching engine, and the page's writing sessions; how a
request waits for its jobs (dropping them when its client goes away) and how the library's refusals become 400s."""

from __future__ import annotations

import asyncio

from fastapi import Request

from .. import Engine, Job, LanguageModel
from ..errors import LstmtextError
from ..options import ServeOptions
from .metrics import Metrics
from .requests import ApiError
from .sessions import PageSessions

_LOOK_SECONDS = 0.02  # how often a waiting request looks whether its client is gone: the page drops stale ones


class LoadedModels:
    """The loaded models, each with its engine, and the writing sessions opened on them."""

    def __init__(self, models: dict[str, LanguageModel], options: ServeOptions, metrics: Metrics) -> None:
        self.models, self.options = models, options
        self.engines = {name: model.engine(batching=options.batching,
                                           on_step=metrics.batch_rows.labels(name).observe)
                        for name, model in models.items()}
        for name, engine in self.engines.items():
            metrics.active.labels(name).set_function(lambda engine=engine: engine.active)
        self.sessions = PageSessions()

    def pick(self, name: str | None) -> tuple[str, LanguageModel, Engine]:
        name = name if name is not None else next(iter(self.models))
        if name not in self.models:
            raise ApiError(404, f"model '{name}' is not loaded here — use one of: {', '.join(self.models)} "
                           "(GET /v1/models)", "model", code="model_not_found")
        return name, self.models[name], self.engines[name]

    def close(self) -> None:
        self.sessions.close_all()
        for engine in self.engines.values():
            engine.close()


def refusing(method, text: str, param: str, *args, **kwargs):
    """`method(text, ...)`, the library's refusal of it as a 400 naming `param`."""
    try:
        return method(text, *args, **kwargs)
    except LstmtextError as error:
        raise ApiError.refusing(error, param) from None


async def results(jobs: list[Job], request: Request) -> list:
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
