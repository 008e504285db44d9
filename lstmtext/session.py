"""A writing session: a model that learns from the text as it is written and completes with what it has learned.

    session = lstmtext.load().session()
    session.read("The wizard Zorbulax came down the hill.")   # learned in the background
    session.suggest("Then Zor")                                  # never waits for the learning

Learning runs on a worker thread, on a private copy of the weights (see `training.adaptation`); when a text has
been learned, a new snapshot of the weights becomes the one that answers. So a suggestion never waits for
learning and never reads weights halfway through a step: it is answered by the last finished snapshot.

`close()` (or leaving `with lm.session() as session:`) stops the worker, abandoning a text being learned at its
next step. A session left open is closed when the interpreter exits: a worker still inside torch when the
process ends aborts it ("terminate called without an active exception", status 134).
"""

from __future__ import annotations

import atexit
import copy
import functools
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import torch

from .core.textfile import check_text
from .decoding.reading import reading_context
from .options import CompletionOptions, GenerationOptions
from .options.adaptation import MAX_CONTEXT_CHARS, AdaptOptions
from .training.adaptation import Adapter

_FORGET = object()
_STOP = object()


class Session:
    """Reads text (`read`), learns from it when `adapting`, and completes (`complete`, `suggest`, `next_tokens`,
    `generate`) with the weights learned so far. `forget()` goes back to the trained model."""

    def __init__(self, model, options: AdaptOptions, *, adapting: bool = True) -> None:
        self.trained = model  # a LanguageModel, never changed
        self.options = options
        self.adapting = adapting
        self.learned_texts = 0
        self.error: Exception | None = None  # the last text that could not be learned, if any
        self._current = model
        self._learner = Adapter(copy.deepcopy(model.model), options)
        self._generation = 0  # `forget` starts a new one; texts queued before it are not learned
        self._queue: queue.Queue = queue.Queue()
        self._stopping = threading.Event()  # set by `close`: what is being learned is abandoned at its next step
        self._worker = threading.Thread(target=self._work, name="lstmtext-adaptation", daemon=True)
        self._worker.start()
        # Holds the worker, never the session, so that an open session is still closed at exit.
        self._stop_at_exit = functools.partial(_stop_worker, self._queue, self._worker, self._stopping)
        atexit.register(self._stop_at_exit)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def model(self):
        """The LanguageModel answering now: the trained one, or the last snapshot of the learned weights."""
        return self._current

    @property
    def path(self) -> Path | None:
        """The trained model's file."""
        return self.trained.path

    def read(self, text: str, *, wait: bool = False) -> None:
        """Learn from `text` (a line, a paragraph or a document, read from a line start; its last
        `MAX_CONTEXT_CHARS` characters) unless adaptation is off. In the background unless `wait`."""
        check_text(text, "the text to learn from")
        if self.adapting and text.strip() and not self._stopping.is_set():
            self._queue.put((self._generation, text[-MAX_CONTEXT_CHARS:]))
        if wait:
            self.wait()

    def wait(self) -> None:
        """Until everything read so far has been learned; raises what stopped a text from being learned."""
        if not self._stopping.is_set():  # once closed, nothing more is learned
            self._queue.join()
        error, self.error = self.error, None
        if error is not None:
            raise error

    def forget(self) -> None:
        """Back to the trained weights at once; texts read before and not yet learned are dropped."""
        self._generation += 1
        self._current = self.trained
        self.learned_texts = 0
        if not self._stopping.is_set():
            self._queue.put((self._generation, _FORGET))

    def close(self) -> None:
        """Stop the worker (a text being learned is abandoned at its next step) and wait for it; the session
        answers with what it learned before, and reads without learning from then on. Closing twice is harmless."""
        self.adapting = False
        self._stop_at_exit()
        atexit.unregister(self._stop_at_exit)

    def complete(self, prefix: str, options: CompletionOptions | None = None, **changes) -> list:
        return self._current.complete(prefix, options, **changes)

    def suggest(self, prefix: str, *, max_chars: int = 32) -> str:
        return self._current.suggest(prefix, max_chars=max_chars)

    def next_tokens(self, prefix: str, n: int = CompletionOptions.n) -> list:
        return self._current.next_tokens(prefix, n)

    def generate(self, prompt: str = "", options: GenerationOptions | None = None, **changes) -> Iterator[str]:
        return self._current.generate(prompt, options, **changes)

    def _work(self) -> None:
        torch.set_num_threads(1)  # this thread's own: the other cores stay free for the suggestions
        while True:
            generation, item = self._queue.get()
            try:
                if item is _STOP:
                    return
                if item is _FORGET:
                    self._learner.forget()
                elif generation == self._generation and not self._stopping.is_set():
                    self._learn(generation, item)
            except Exception as error:  # a worker that died would leave `wait` waiting forever
                self.error = error
            finally:
                self._queue.task_done()

    def _learn(self, generation: int, text: str) -> None:
        trained = self.trained
        self._learner.read(trained.tokenizer.encode(reading_context(text) + text), stop=self._stopping)
        if self._stopping.is_set():
            return  # abandoned halfway: no snapshot of a text half learned
        cache = self._learner.cache
        snapshot = trained.with_network(copy.deepcopy(self._learner.model), cache.copy() if cache else None)
        if generation == self._generation:  # not forgotten meanwhile
            self._current = snapshot
            self.learned_texts += 1


def _stop_worker(work: queue.Queue, worker: threading.Thread, stopping: threading.Event) -> None:
    """Ask a session's worker to stop, abandoning what it learns, and wait until it has."""
    if worker.is_alive():
        stopping.set()
        work.put((None, _STOP))
        worker.join()
