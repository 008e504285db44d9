"""Continuous batching: one thread steps every active request of a model together.

Requests are searches written as step generators (decoding/batch.py: `LanguageModel.complete_steps`,
`continuation_steps`), submitted from any thread. Between two steps the engine admits new requests (reading
their prompts), and drops finished and cancelled ones; each step joins the streams of every active request into
one batch, runs the model once, and draws every sampled stream's next token in one pass. A request's error is
its own: it fails that request's future, never the engine. With `batching` off, requests are stepped one at a
time (the baseline `make bench` compares against).

    engine = lstmtext.load().engine()
    job = engine.submit(model.continuation_steps("When there is", options))
    print(job.future.result().text)
    engine.close()
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future

import torch

from .decoding.batch import Stepped, StepRequest, Steps, join_states, split_state
from .decoding.drawing import draw_tokens
from .decoding.inference import Stepper

MAX_BATCH_ROWS = 512  # streams in one step: more waits for the next step


class Job:
    """A submitted request: `future` gets its result or its error; `cancel()` drops it before its next step."""

    def __init__(self, steps: Steps) -> None:
        self.steps, self.future = steps, Future()
        self.request: StepRequest | None = None
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    @property
    def rows(self) -> int:
        return self.request.rows

    def advance(self, stepped: Stepped | None) -> bool:
        """Hand the search its step (None: start it); False once it has finished or failed."""
        try:
            self.request = next(self.steps) if stepped is None else self.steps.send(stepped)
            return True
        except StopIteration as done:
            self.future.set_result(done.value)
        except Exception as error:  # the request's own failure, reported to its caller
            self.future.set_exception(error)
        return False


class Engine:
    """Continuous batching over one model's `Stepper` (see the module docstring); `LanguageModel.engine()`
    makes one."""

    def __init__(self, stepper: Stepper, *, batching: bool = True, on_step: Callable[[int], None] | None = None,
                 max_rows: int = MAX_BATCH_ROWS) -> None:
        self._stepper, self.batching, self._on_step, self._max_rows = stepper, batching, on_step, max_rows
        self._incoming: list[Job] = []
        self._active: list[Job] = []
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="lstmtext-engine", daemon=True)
        self._thread.start()

    @property
    def active(self) -> int:
        """Requests being stepped now."""
        return len(self._active)

    def submit(self, steps: Steps) -> Job:
        job = Job(steps)
        with self._wake:
            if self._closed:
                steps.close()
                job.future.set_exception(RuntimeError("the engine is closed"))
                return job
            self._incoming.append(job)
            self._wake.notify()
        return job

    def close(self) -> None:
        """Finish the requests in flight, then stop; later submissions fail."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        # One CPU thread: the steps are small, and a second thread would wait for a core that the server's
        # event loop (or its clients) holds.
        torch.set_num_threads(1)
        with torch.inference_mode():
            while self._next_jobs():
                self._active = [job for job in self._active if not self._dropped(job)]
                for group in self._groups():
                    self._step_or_isolate(group)

    def _next_jobs(self) -> bool:
        """Admit the requests submitted since the last step; False when closed and nothing is left."""
        with self._wake:
            while not self._incoming and not self._active and not self._closed:
                self._wake.wait()
            incoming, self._incoming = self._incoming, []
        self._active += [job for job in incoming if not self._dropped(job) and job.advance(None)]
        return bool(self._active) or not self._closed

    @staticmethod
    def _dropped(job: Job) -> bool:
        if job.cancelled:
            job.steps.close()
            job.future.cancel()
        return job.cancelled

    def _groups(self) -> list[list[Job]]:
        if not self.batching:
            return [[job] for job in self._active]
        groups, rows = [[]], 0
        for job in self._active:
            if rows + job.rows > self._max_rows and groups[-1]:
                groups.append([])
                rows = 0
            groups[-1].append(job)
            rows += job.rows
        return [group for group in groups if group]

    def _step(self, group: list[Job]) -> None:
        requests = [job.request for job in group]
        sizes = [request.rows for request in requests]
        starts = [0, *itertools.accumulate(sizes)][:-1]
        logits, states = self._model_step(requests)
        drawing = [(start, size) for request, start, size in zip(requests, starts, sizes) if request.draws]
        drawn = None
        if drawing:
            rows = (torch.cat([torch.arange(start, start + size) for start, size in drawing])
                    if len(drawing) < len(requests) else slice(None))
            drawn = draw_tokens(logits[rows], [draw for request in requests if request.draws
                                               for draw in request.draws])
        drawn_start, finished = 0, set()
        for job, start, size, job_state in zip(group, starts, sizes, states):
            drawn_rows = slice(0)
            if job.request.draws:
                drawn_rows, drawn_start = slice(drawn_start, drawn_start + size), drawn_start + size
            if not job.advance(Stepped(logits, slice(start, start + size), job_state, drawn, drawn_rows)):
                finished.add(id(job))
        self._active = [job for job in self._active if id(job) not in finished]

    def _model_step(self, requests: list[StepRequest]) -> tuple[torch.Tensor, list]:
        """One model step for the requests that feed tokens; the others (a first draw from a prompt's logits)
        keep their state and bring their logits. Logits (rows, V) and states in the requests' order."""
        feeding = [request for request in requests if request.logits is None]
        if feeding:
            tokens = torch.tensor([token for request in feeding for token in request.tokens])
            logits, state = self._stepper.step(tokens, join_states([request.state for request in feeding]))
            if self._on_step is not None:
                self._on_step(len(tokens))
            if len(feeding) == len(requests):
                return logits, split_state(state, [request.rows for request in requests])
            stepped = zip(logits.split([request.rows for request in feeding]),
                          split_state(state, [request.rows for request in feeding]))
        parts = [next(stepped) if request.logits is None else (request.logits, request.state)
                 for request in requests]
        return torch.cat([part for part, _ in parts]), [state for _, state in parts]

    def _step_or_isolate(self, group: list[Job]) -> None:
        """Step the group; if the step fails, step its requests one by one so that only the culprit fails."""
        try:
            self._step(group)
        except Exception as error:  # a failed step fails its requests, never the engine
            if len(group) == 1:
                self._fail(group, error)
                return
            for job in group:
                self._step_or_isolate([job])

    def _fail(self, group: list[Job], error: Exception) -> None:
        for job in group:
            job.steps.close()
            if not job.future.done():
                job.future.set_exception(error)
        failed = {id(job) for job in group}
        self._active = [job for job in self._active if id(job) not in failed]

