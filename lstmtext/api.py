"""The public Python API: `load()` and `LanguageModel` (training: trainer.py).

    import lstmtext
    from lstmtext.options import TrainConfig
    lm = lstmtext.train("corpus.txt", training=TrainConfig(max_time=60)).model
    lm = lstmtext.load()                      # the default model, or a name, or a path
    for completion in lm.complete("When there is fi", n=3):   # "re, there is smoke." ...
        print(completion.text, completion.probability)
    print(lm.suggest("When there is fi"))     # the single best ghost-text continuation

Options are the frozen types of `lstmtext.options`, passed whole or as keyword changes to their defaults
(`lm.complete(prefix, CompletionOptions(n=5))` or `lm.complete(prefix, n=5)`). Prints and draws nothing. Each
search also comes as step requests (`complete_steps`, `continuation_steps`) that an `Engine` runs batched with
other requests' (engine.py).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .core.bundle import Bundle, save_bundle
from .core.cache import NeuralCache
from .core.config import ModelConfig
from .core.corpus import encode_corpus
from .core.model import RecurrentLM
from .core.model_file import read_model
from .core.model_header import AdaptedRecord, ModelHeader
from .core.store import ModelStore
from .core.textfile import check_text, inspect_corpus, readable_copy
from .core.tokenizer import Tokenizer
from .decoding.batch import Steps, run_steps
from .decoding.continuation import OnPiece, continuation_steps, telling_text
from .decoding.healing import TokenTable
from .decoding.inference import CachedStepper, Stepper
from .decoding.prompt_scores import score_text
from .decoding.reading import LINE_START, generate_text, reading_context, seeded_generator, start_reading
from .decoding.search import Found, beam_search, beam_steps, sample_steps
from .decoding.stopping import NEXT_TOKEN, StopRule
from .engine import Engine
from .errors import CorpusError
from .lab.activations import Inspection, inspect_text
from .lab.export import ExportReport, export_model
from .options import (
    CONTINUATION_CHARS,
    CompletionOptions,
    ContinuationOptions,
    GenerationOptions,
    InspectOptions,
    completion_options,
    generation_options,
)
from .options.adaptation import AdaptOptions, default_adaptation, session_adaptation
from .options.checks import changed
from .results import Completion, Continuation, Evaluation, TokenScore, TokenStep
from .session import Session
from .training.adaptation import Adapter
from .training.scoring import LN2, text_nll


class LanguageModel:
    """A trained model and its tokenizer, ready to complete, generate and evaluate text."""

    def __init__(self, model: RecurrentLM, tokenizer: Tokenizer, header: ModelHeader, path: Path | None = None,
                 cache_dir: Path | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.header = header
        self.path = path
        self.cache_dir = cache_dir or ModelStore().token_cache_dir
        self.device = next(model.parameters()).device

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @functools.cached_property
    def _stepper(self) -> Stepper:
        return Stepper(self.model)

    @functools.cached_property
    def _tokens(self) -> TokenTable:
        return TokenTable(self.tokenizer)

    def _completion(self, prefix: str, found: Found, retyped: bytes) -> Completion:
        tokens = tuple(TokenScore(self._tokens.token_bytes[t].decode("utf-8", "backslashreplace"), lp)
                       for t, lp in zip(found.token_ids, found.log_probs))
        typed = retyped[max(0, len(retyped) - len(prefix.encode())):]  # not the reading context
        return Completion(prefix, found.text, found.probability, tokens, typed.decode("utf-8", "replace"))

    @property
    def chars_per_token(self) -> float:
        return self.header.corpus.chars_per_token if self.header.corpus else 1.0

    def complete(self, prefix: str, options: CompletionOptions | None = None, **changes) -> list[Completion]:
        """The most likely distinct continuations of `prefix` (see `CompletionOptions`; `changes` are its fields,
        the sampling ones given flat, `sample=True` to sample). A prefix that ends inside a word is continued
        inside that word, whatever the tokenizer level."""
        return run_steps(self._stepper, self.complete_steps(prefix, options, **changes))

    def complete_steps(self, prefix: str, options: CompletionOptions | None = None, **changes) -> Steps:
        """`complete` as step requests, for an `Engine` to run batched with other requests (see engine.py);
        the options are checked now, the prompt is read at the first step."""
        options = completion_options(options, **changes)
        return self._completion_steps(check_text(prefix, "the prompt"), options)

    def _completion_steps(self, prefix: str, options: CompletionOptions) -> Steps:
        tail, start = start_reading(self._stepper, self.tokenizer, prefix)
        rule = StopRule(options.until, options.max_tokens)
        if options.sampling is not None:
            found = yield from sample_steps(start, self._tokens, tail, n=options.n, rule=rule,
                                            sampling=options.sampling,
                                            generator=seeded_generator(options.sampling.seed))
        else:
            found = yield from beam_steps(start, self._tokens, tail, n=options.n, width=options.beam, rule=rule,
                                          normalize=options.normalize)
        return [self._completion(prefix, f, tail) for f in found]

    def continuation(self, prompt: str, options: ContinuationOptions | None = None, *,
                     on_text: Callable[[str], None] | None = None, on_piece: OnPiece | None = None,
                     **changes) -> Continuation:
        """One continuation of `prompt`, token by token, as OpenAI's completions give it (see
        `ContinuationOptions`; `changes` are its fields): `on_text(piece)` gets the text as it is written,
        `on_piece(piece, tokens)` the text with the tokens whose text starts in it."""
        return run_steps(self._stepper, self.continuation_steps(prompt, options, on_text=on_text, on_piece=on_piece,
                                                                **changes))

    def continuation_steps(self, prompt: str, options: ContinuationOptions | None = None, *,
                           on_text: Callable[[str], None] | None = None, on_piece: OnPiece | None = None,
                           **changes) -> Steps:
        """`continuation` as step requests, for an `Engine` (see `complete_steps`)."""
        options = changed(options, ContinuationOptions, changes)
        if on_text is not None:
            on_piece = telling_text(on_text, on_piece)
        return self._continuation_steps(check_text(prompt, "the prompt"), options, on_piece)

    def _continuation_steps(self, prompt: str, options: ContinuationOptions, on_piece: OnPiece | None) -> Steps:
        if options.max_tokens is None:
            options = dataclasses.replace(options, max_tokens=self.tokens_for_chars(CONTINUATION_CHARS))
        tail, start = start_reading(self._stepper, self.tokenizer, prompt, finish_word=options.finish_word)
        generator = seeded_generator(options.sampling.seed) if options.sampling is not None else None
        return (yield from continuation_steps(prompt, start, self._tokens, tail, options, generator, on_piece))

    def score(self, text: str, *, top: int = 0) -> tuple[TokenStep, ...]:
        """Each token of `text` with its log-probability given what precedes it (read as a prompt is) and the
        `top` likeliest tokens in its place (OpenAI's `echo` + `logprobs`)."""
        return score_text(self.model, self.tokenizer, self._tokens, check_text(text, "the text"), top)

    def tokens_for_chars(self, chars: int) -> int:
        """About how many of this model's tokens `chars` characters of its text take (at least 1)."""
        return max(1, math.ceil(chars / self.chars_per_token))

    def engine(self, *, batching: bool = True, on_step: Callable[[int], None] | None = None) -> Engine:
        """A continuous-batching engine over this model (see engine.py): requests submitted from any thread as
        `complete_steps` / `continuation_steps` are stepped together. `on_step(rows)` is told each step's size."""
        return Engine(self._stepper, batching=batching, on_step=on_step)

    def suggest(self, prefix: str, *, max_chars: int = 32) -> str:
        """The single best short continuation of `prefix` (ghost text): to the end of the sentence and never past
        the end of the line, at most about `max_chars` characters, without trailing whitespace; "" when the
        model's best guess is a line break."""
        return run_steps(self._stepper, self.suggest_steps(prefix, max_chars=max_chars))

    def suggest_steps(self, prefix: str, *, max_chars: int = 32) -> Steps:
        """`suggest` as step requests, for an `Engine` (see `complete_steps`)."""
        return self._suggestion_steps(check_text(prefix, "the prompt"), self.tokens_for_chars(max_chars))

    def _suggestion_steps(self, prefix: str, max_tokens: int) -> Steps:
        tail, start = start_reading(self._stepper, self.tokenizer, prefix)
        found = yield from beam_steps(start, self._tokens, tail, n=1, width=2, rule=StopRule("sentence", max_tokens),
                                      normalize=False)
        return found[0].text.split("\n", 1)[0].rstrip() if found else ""

    def next_tokens(self, prefix: str, n: int = CompletionOptions.n) -> list[Completion]:
        """The `n` most likely next pieces of text after `prefix` (one token each, or the rest of a half-typed
        word's token), most likely first."""
        tail, start = start_reading(self._stepper, self.tokenizer, prefix)
        found = beam_search(self._stepper, start, self._tokens, tail, n=n, width=CompletionOptions(n=n).beam,
                            rule=StopRule(NEXT_TOKEN, 1))
        return [self._completion(prefix, f, tail) for f in found]

    def generate(self, prompt: str = "", options: GenerationOptions | None = None, **changes) -> Iterator[str]:
        """Sample text after `prompt` (see `GenerationOptions`; `changes` are its fields, the sampling ones given
        flat), yielding it as it is produced. The same seed gives the same text."""
        options = generation_options(options, **changes)
        return generate_text(self._stepper, self._tokens, self.tokenizer, prompt, options.length, options.sampling)

    def inspect(self, text: str, options: InspectOptions | None = None, **changes) -> Inspection:
        """What the LSTM does at each token of `text` (see `InspectOptions`)."""
        options = changed(options, InspectOptions, changes)
        check_text(text, "the text")
        context = self.tokenizer.encode(reading_context(text))
        return inspect_text(self.model, self.tokenizer, context, text, show=options.show, layer=options.layer,
                            units=list(options.units) or None, count=options.count)

    @property
    def adaptation(self) -> AdaptOptions:
        """How this model learns from what it reads: the settings stored in its file when it was trained (or
        the defaults for its tokenizer level, for a model from before they were stored)."""
        return self.header.adaptation or default_adaptation(self.tokenizer.level)

    def evaluate(self, path: str | os.PathLike, *, adapt: bool = False, adaptation: AdaptOptions | None = None,
                 progress: Callable[[int, int], None] | None = None) -> Evaluation:
        """Perplexity and bits/nats per character of a text file (or a pipe) under this model. With `adapt`,
        the model learns from the text as it reads it (dynamic evaluation, see `AdaptOptions`; default: this
        model's `adaptation`), every token scored by weights that have seen only the text before it; this
        model itself is not changed. `progress(tokens_done, tokens)` is called as the adapting scoring goes."""
        with readable_copy(path, self.cache_dir.parent) as readable:
            info = inspect_corpus(readable)
            ids = encode_corpus(info, self.tokenizer, self.cache_dir)
        if len(ids) < 2:
            raise CorpusError(f"{path} is too short to evaluate (fewer than 2 tokens)", "pass a longer text")
        started = time.perf_counter()
        adaptation = (adaptation or self.adaptation) if adapt else None
        nats, scored = text_nll(self.model, ids, self.header.seq_len or 64, adaptation, progress)
        seconds = time.perf_counter() - started
        nats_per_token = nats / max(scored, 1)
        nats_per_char = nats_per_token * len(ids) / info.chars
        return Evaluation(nats_per_char / LN2, nats_per_char, math.exp(min(nats_per_token, 50.0)), len(ids),
                          info.chars, round(seconds, 3), adaptation)

    def session(self, adaptation: AdaptOptions | None = None, *, adapting: bool = True) -> Session:
        """A writing session over this model: it learns from the text it reads (`Session.read`), in the
        background, and completes with what it has learned (see session.py). `adaptation`: default this
        model's own, with the cache heard more (`options.adaptation.session_adaptation`)."""
        return Session(self, adaptation or session_adaptation(self.adaptation), adapting=adapting)

    def adapted(self, texts: dict[str, str], adaptation: AdaptOptions | None = None, *,
                progress: Callable[[int, int], None] | None = None) -> LanguageModel:
        """A new model: this one after learning from `texts` (name → text, each read once from a line start, in
        order, by the rule of `evaluate(adapt=True)`); its header says what it learned from. This model is not
        changed. `progress(tokens_read, tokens)` is called as it goes."""
        adaptation = adaptation or self.adaptation
        adapter = Adapter(copy.deepcopy(self.model), adaptation)
        encoded = {name: self.tokenizer.encode(reading_context(text) + check_text(text, name))
                   for name, text in texts.items()}
        adapter.read_all(list(encoded.values()), progress)
        learned = tuple({"name": name, "chars": len(texts[name]), "tokens": len(ids)} for name, ids in encoded.items())
        record = AdaptedRecord(self.path.name if self.path else None, learned, adapter.steps, adaptation)
        return LanguageModel(adapter.model, self.tokenizer, self.header.with_adapted(record), None, self.cache_dir)

    def with_network(self, network: RecurrentLM, cache: NeuralCache | None = None) -> LanguageModel:
        """A sibling model with other weights of the same shape (the same tokenizer and header), ready to step;
        with `cache`, its predictions mix in that neural cache."""
        sibling = LanguageModel(network, self.tokenizer, self.header, self.path, self.cache_dir)
        sibling.__dict__["_tokens"] = self._tokens
        sibling.__dict__["_stepper"] = CachedStepper(network, cache) if cache is not None else Stepper(network)
        return sibling

    def export(self, path: str | os.PathLike, fmt: str, sample_text: str = "When there is fire") -> ExportReport:
        """Write this model as ONNX or TorchScript (see lab/export.py), traced on `sample_text` and checked on it."""
        token_ids = self.tokenizer.encode(LINE_START) + self.tokenizer.encode(sample_text)
        return export_model(self.model, self.header.to_dict(), self.tokenizer.blobs(), Path(path), fmt, token_ids)

    def save(self, path: str | os.PathLike) -> None:
        save_bundle(Path(path), Bundle(self.model.weights_for_saving(), self.header.to_dict(), self.tokenizer.blobs()))


def load(model: str | os.PathLike | None = None, *, store: ModelStore | None = None) -> LanguageModel:
    """Load a model by store name or path; with no argument, $LSTMTEXT_MODEL or the default model."""
    store = store or ModelStore()
    saved = read_model(store.resolve(str(model) if model is not None else None))
    return LanguageModel(saved.network, saved.tokenizer, saved.header, saved.path, store.token_cache_dir)
