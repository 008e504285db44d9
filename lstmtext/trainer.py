"""Training from the Python API: `train()` (checks, then training/run.py) and `train_tokenizer()`.

    import lstmtext
    from lstmtext.options import TrainConfig
    result = lstmtext.train("corpus.txt", training=TrainConfig(max_time=60))
    print(result.bits_per_char)               # what to expect on new text
    result.model.complete("When there is fi")
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .api import LanguageModel
from .core.corpus import encode_corpus
from .core.files import atomic_write
from .core.machine import keep_freed_memory
from .core.store import ModelStore
from .core.textfile import inspect_corpus, iter_lines, readable_copy
from .core.tokenizer import Tokenizer
from .core.tokenizer_stats import TokenizerStats, tokenizer_stats
from .core.tokenizer_training import train_tokenizer as learn_tokenizer
from .errors import OptionError
from .options import BASE_AUTO, ModelShape, Regularization, TokenizerConfig, TrainConfig
from .options.checks import changed
from .training import distributed
from .training.hooks import Faults
from .training.plan import TrainRequest
from .training.progress import QuietObserver, TrainObserver
from .training.run import train_model


def train_tokenizer(corpus: str | os.PathLike, config: TokenizerConfig = TokenizerConfig(), *,
                    store: ModelStore | None = None) -> tuple[Tokenizer, TokenizerStats]:
    """Learn a tokenizer from a corpus file and measure it on that corpus."""
    store = store or ModelStore()
    with readable_copy(corpus, store.cache_dir) as readable:
        info = inspect_corpus(readable)
        tokenizer = learn_tokenizer(iter_lines(info.path), config)
        ids = encode_corpus(info, tokenizer, store.token_cache_dir)
    return tokenizer, tokenizer_stats(tokenizer, np.bincount(ids, minlength=tokenizer.vocab_size), info.chars)


def save_tokenizer(tokenizer: Tokenizer, path: str | os.PathLike) -> list[Path]:
    """Write `tokenizer` as SentencePiece model files: `path`, and beside it `STEM.PART.SUFFIX` for each further
    part (a word-level tokenizer's character fallback). Each file is written whole or not at all. Returns the
    paths written."""
    path, written = Path(path), []
    for part, blob in tokenizer.blobs().items():
        written.append(path if part == "main" else path.with_name(f"{path.stem}.{part}{path.suffix}"))
        atomic_write(written[-1], blob)
    return written


@dataclass(frozen=True)
class TrainResult:
    model: LanguageModel
    path: Path
    name: str | None
    val_loss: float  # nats per token of the best weights on the held-out end, as validated
    bits_per_char: float  # what to expect on new text: the held-out end read as it was learned, if it was
    validated_bits_per_char: float  # val_loss per character, in bits
    steps: int
    elapsed: float


def train(corpus: str | os.PathLike, shape: ModelShape | None = None, *,
          tokenizer: TokenizerConfig = TokenizerConfig(), training: TrainConfig = TrainConfig(),
          regularization: Regularization = Regularization(), resume: bool = False,
          base: str | os.PathLike = BASE_AUTO, init_from: str | os.PathLike | None = None, name: str | None = None,
          out: str | os.PathLike | None = None, store: ModelStore | None = None,
          observer: TrainObserver | None = None, faults: Faults | None = None,
          **shape_changes) -> TrainResult | None:
    """Tokenize `corpus`, train a model of `shape` (`shape_changes`: its fields, e.g. `layers=2`) on it and save
    it: to `out` if given, else into the store under `name` (default: the corpus file's stem), which then
    becomes the default model. Nothing is written unless training succeeds. Checkpoints go beside the model;
    `resume` continues the run from there with the settings it started with. `base` is where the run starts:
    "auto" (the built-in model, where it reads this corpus better than a model of its own is likely to: see
    training/start.py), "none" (from nothing: a tokenizer of its own, sizes chosen) or a model (a name or path) to
    fine-tune, its tokenizer and shape kept; `init_from` is another name for the last. Started by torchrun, only
    rank 0 reports and saves (the others return None). `corpus` may be a pipe (read once into a temporary file) or
    a folder (its text files joined). `faults`: for tests, see `training.hooks.Faults`."""
    shape = changed(shape, ModelShape, shape_changes)
    store = store or ModelStore()
    destination, name = store.training_destination(corpus, name, out)
    if init_from is not None:
        if str(base) != BASE_AUTO:
            raise OptionError("init_from", "{name} and {names[base]} both given", "pass one: they mean the same")
        base = init_from
    if resume and str(base) != BASE_AUTO:
        raise OptionError("resume", "{name} and {names[base]} both given",
                          "{name} goes on with a run; {names[base]} starts one")
    request = TrainRequest(tokenizer, training, shape, regularization, destination, resume, str(base))
    observer = observer if observer is not None and distributed.is_main_process() else QuietObserver()
    keep_freed_memory()
    with readable_copy(corpus, store.cache_dir) as readable:
        saved = train_model(readable, request, store, observer, faults)
    if saved is None:
        return None  # rank 0 saves the model
    if name is not None:
        store.set_default(name)
    model = LanguageModel(saved.network, saved.tokenizer, saved.header, destination, store.token_cache_dir)
    best = saved.outcome.best
    return TrainResult(model, destination, name, best.val_loss, saved.header.metrics.held_out_bits_per_char,
                       best.bits_per_char, saved.outcome.steps, saved.outcome.elapsed)
