"""OpenAI's wire format for one completions or chat answer, whole (`Answer.body`) or as server-sent events
(`Answer.events`), its choices submitted to a model's engine. How a choice looks is the `Shape`'s (shapes.py)."""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections.abc import AsyncIterator

from .. import Continuation, Engine, Job, LanguageModel, TokenStep
from ..errors import LstmtextError
from .metrics import Metrics
from .openai_requests import Completions
from .requests import ApiError
from .shapes import Shape


def submit(engine: Engine, steps_of, prompt: str, *args, **more) -> Job:
    """A request's steps (`steps_of(prompt, ...)`) on the engine; the library's refusal of it as a 400."""
    try:
        return engine.submit(steps_of(prompt, *args, **more))
    except LstmtextError as error:
        raise ApiError.refusing(error, "prompt") from None


class Answer:
    """One answer: its choices in the `shape`'s form, whole or as server-sent events."""

    def __init__(self, name: str, model: LanguageModel, asked: Completions, shape: Shape) -> None:
        self.name, self.model, self.asked, self.shape = name, model, asked, shape
        self.id, self.created = f"{shape.id_prefix}-{uuid.uuid4().hex}", int(time.time())
        self.choice_prompts = [prompt for prompt in asked.prompts for _ in range(asked.n)]
        self.prompt_scores: dict[str, tuple[TokenStep, ...]] = {}

    async def score_prompts(self) -> None:
        """With `echo` and `logprobs`: each prompt's tokens scored (off the event loop)."""
        if self.asked.prompt_logprobs is None:
            return
        for prompt in dict.fromkeys(self.asked.prompts):
            try:
                self.prompt_scores[prompt] = await asyncio.to_thread(self.model.score, prompt,
                                                                     top=self.asked.prompt_logprobs)
            except LstmtextError as error:
                raise ApiError.refusing(error, "prompt") from None

    def body(self, results: list[Continuation]) -> dict:
        choices = [self.shape.choice(index, self._shown(index) + result.text, result.finish_reason,
                                     self._logprobs(index, result.tokens))
                   for index, result in enumerate(results)]
        return {**self._envelope(choices, self.shape.whole_object), "usage": self._usage(results)}

    def _usage(self, results: list[Continuation]) -> dict:
        prompt_tokens = sum(len(self.model.tokenizer.encode(prompt)) for prompt in self.asked.prompts)
        completion_tokens = sum(len(result.tokens) for result in results)
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens}

    def _envelope(self, choices: list[dict], kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.name, "choices": choices}

    def _chunk(self, choices: list[dict]) -> dict:
        chunk = self._envelope(choices, self.shape.chunk_object)
        return {**chunk, "usage": None} if self.asked.include_usage else chunk

    def _shown(self, index: int) -> str:
        return self.choice_prompts[index] if self.asked.echo else ""

    def _logprobs(self, index: int, tokens: tuple[TokenStep, ...], *, with_prompt: bool = True) -> dict | None:
        """The logprobs of `tokens` of choice `index` (with the echoed prompt's first), None when not asked."""
        if self.asked.options[index].logprobs is None:
            return None
        prompt = self.choice_prompts[index]
        scored = self.prompt_scores.get(prompt, ()) if with_prompt else ()
        return self.shape.logprobs(scored, tokens, len(self._shown(index)))

    def submit(self, engine: Engine, queue: asyncio.Queue | None = None) -> list[Job]:
        """Submit every choice (all or none; none when nothing is to be written); with `queue`, their pieces and
        finishes arrive on it as (choice, (text, tokens)) and (choice, future)."""
        loop, jobs = asyncio.get_running_loop(), []
        if not self.asked.max_tokens:
            return jobs
        try:
            for index, (prompt, options) in enumerate(zip(self.choice_prompts, self.asked.options)):
                tell = functools.partial(_put, loop, queue, index)
                job = submit(engine, self.model.continuation_steps, prompt, options,
                             **({"on_piece": lambda text, tokens, tell=tell: tell((text, tokens))}
                                if queue is not None else {}))
                if queue is not None:
                    job.future.add_done_callback(tell)
                jobs.append(job)
        except ApiError:
            for job in jobs:
                job.cancel()
            raise
        return jobs

    def unwritten(self) -> list[Continuation]:
        """Each choice's continuation when nothing is written (max_tokens 0: the prompt scored only)."""
        return [Continuation(prompt, "", "length", ()) for prompt in self.choice_prompts]

    async def events(self, jobs: list[Job], queue: asyncio.Queue, metrics: Metrics) -> AsyncIterator[str]:
        """Server-sent events: each choice's start, text as it is written, each choice's finish, the usage when
        asked for, then [DONE]."""
        try:
            for index in range(len(self.choice_prompts)):
                start = self.shape.start(index, self._shown(index), self._logprobs(index, ()))
                if start is not None:
                    yield _event(self._chunk([start]))
            results: list[Continuation] = []
            async for event in self._written(jobs, queue, metrics, results):
                yield event
            if self.asked.include_usage:
                yield _event({**self._envelope([], self.shape.chunk_object),
                              "usage": self._usage(results or self.unwritten())})
            yield "data: [DONE]\n\n"
        finally:
            for job in jobs:
                job.cancel()  # a client gone mid-stream frees its rows at the next step

    async def _written(self, jobs: list[Job], queue: asyncio.Queue, metrics: Metrics,
                       results: list[Continuation]) -> AsyncIterator[str]:
        if not jobs:
            for index in range(len(self.choice_prompts)):
                yield _event(self._chunk([self.shape.finish(index, "length")]))
            return
        finished = 0
        while finished < len(jobs):
            index, item = await queue.get()
            if isinstance(item, tuple):
                text, tokens = item
                logprobs = self._logprobs(index, tokens, with_prompt=False)
                yield _event(self._chunk([self.shape.piece(index, text, logprobs)]))
            else:
                finished += 1
                yield _event(self._finish(index, item, metrics, results))

    def _finish(self, index: int, future, metrics: Metrics, results: list[Continuation]) -> dict:
        if future.cancelled():
            return ApiError(503, "the server stopped this completion").body()
        error = future.exception()
        if isinstance(error, LstmtextError):
            return ApiError.refusing(error).body()
        if error is not None:
            return ApiError(500, str(error)).body()
        result = future.result()
        results.append(result)
        metrics.tokens.labels(self.name).inc(len(result.tokens))
        return self._chunk([self.shape.finish(index, result.finish_reason)])


def _put(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue, index: int, item) -> None:
    """From the engine's thread: a choice's piece or finished future, onto the event loop's queue."""
    loop.call_soon_threadsafe(queue.put_nowait, (index, item))


def _event(payload: dict) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
