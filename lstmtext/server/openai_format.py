"""OpenAI's completions wire format: one /v1/completions answer, whole (`Answer.body`) or as server-sent events
(`Answer.events`), its choices submitted to a model's engine."""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections.abc import AsyncIterator

from .. import Continuation, Engine, Job, LanguageModel
from ..errors import LstmtextError
from .metrics import Metrics
from .requests import ApiError, Completions


def submit(engine: Engine, steps_of, prompt: str, options, **more) -> Job:
    """A request's steps on the engine; the library's refusal of it as a 400."""
    try:
        return engine.submit(steps_of(prompt, options, **more))
    except LstmtextError as error:
        raise ApiError.refusing(error, "prompt") from None


class Answer:
    """One /v1/completions answer: its choices in OpenAI's shape, whole or as server-sent events."""

    def __init__(self, name: str, model: LanguageModel, asked: Completions) -> None:
        self.name, self.model, self.asked = name, model, asked
        self.id, self.created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
        self.choice_prompts = [prompt for prompt in asked.prompts for _ in range(asked.n)]

    def body(self, results: list[Continuation]) -> dict:
        choices = [self._choice(index, result) for index, result in enumerate(results)]
        prompt_tokens = sum(len(self.model.tokenizer.encode(prompt)) for prompt in self.asked.prompts)
        completion_tokens = sum(len(result.tokens) for result in results)
        return {**self._envelope(choices), "usage": {"prompt_tokens": prompt_tokens,
                                                    "completion_tokens": completion_tokens,
                                                    "total_tokens": prompt_tokens + completion_tokens}}

    def _envelope(self, choices: list[dict]) -> dict:
        return {"id": self.id, "object": "text_completion", "created": self.created, "model": self.name,
                "choices": choices}

    def _choice(self, index: int, result: Continuation) -> dict:
        prompt = self.choice_prompts[index]
        shown = prompt if self.asked.echo else ""
        return {"index": index, "text": shown + result.text, "finish_reason": result.finish_reason,
                "logprobs": None if self.asked.options[index].logprobs is None else _logprobs(result, len(prompt))}

    def submit(self, engine: Engine, queue: asyncio.Queue | None = None) -> list[Job]:
        """Submit every choice (all or none); with `queue`, their text pieces and finishes arrive on it as
        (choice, piece) and (choice, future)."""
        loop, jobs = asyncio.get_running_loop(), []
        try:
            for index, (prompt, options) in enumerate(zip(self.choice_prompts, self.asked.options)):
                tell = functools.partial(_put, loop, queue, index)
                job = submit(engine, self.model.continuation_steps, prompt, options,
                              **({"on_text": tell} if queue is not None else {}))
                if queue is not None:
                    job.future.add_done_callback(tell)
                jobs.append(job)
        except ApiError:
            for job in jobs:
                job.cancel()
            raise
        return jobs

    async def events(self, jobs: list[Job], queue: asyncio.Queue, metrics: Metrics) -> AsyncIterator[str]:
        """Server-sent events: text as it is written, each choice's finish, then [DONE]."""
        try:
            if self.asked.echo:
                for index, prompt in enumerate(self.choice_prompts):
                    yield _event(self._envelope([_piece(index, prompt)]))
            finished = 0
            while finished < len(jobs):
                index, item = await queue.get()
                if isinstance(item, str):
                    yield _event(self._envelope([_piece(index, item)]))
                else:
                    finished += 1
                    yield _event(self._finish(index, item, metrics))
            yield "data: [DONE]\n\n"
        finally:
            for job in jobs:
                job.cancel()  # a client gone mid-stream frees its rows at the next step

    def _finish(self, index: int, future, metrics: Metrics) -> dict:
        if future.cancelled():
            return ApiError(503, "the server stopped this completion").body()
        error = future.exception()
        if isinstance(error, LstmtextError):
            return ApiError.refusing(error).body()
        if error is not None:
            return ApiError(500, str(error)).body()
        result = future.result()
        metrics.tokens.labels(self.name).inc(len(result.tokens))
        return self._envelope([{**_piece(index, ""), "finish_reason": result.finish_reason}])


def _put(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue, index: int, item) -> None:
    """From the engine's thread: a choice's text piece or finished future, onto the event loop's queue."""
    loop.call_soon_threadsafe(queue.put_nowait, (index, item))


def _piece(index: int, text: str) -> dict:
    return {"index": index, "text": text, "logprobs": None, "finish_reason": None}


def _event(payload: dict) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def _logprobs(result: Continuation, start: int) -> dict:
    return {"tokens": [token.text for token in result.tokens],
            "token_logprobs": [token.log_prob for token in result.tokens],
            "top_logprobs": [{top.text: top.log_prob for top in token.top} for token in result.tokens],
            "text_offset": [start + token.offset for token in result.tokens]}
