"""The public Python API: `train()`, `load()`, `train_tokenizer()` and `LanguageModel`.

    import lstmtext
    lm = lstmtext.train("corpus.txt", max_time=60).model
    lm = lstmtext.load()                      # the default model, or a name, or a path
    for completion in lm.complete("When there is fi", n=3):   # "re, there is smoke." ...
        print(completion.text, completion.probability)
    print(lm.suggest("When there is fi"))     # the single best ghost-text continuation

Prints and draws nothing: progress goes to an optional observer (see `train.TrainObserver`).
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .training import distributed
from .lab.activations import Inspection, inspect_text
from .core.bundle import Bundle, load_bundle, save_bundle
from .training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint as write_checkpoint
from .core.config import (DEFAULT_LAYERS, MAX_PROMPT_CHARS, ModelConfig, Regularization, TokenizerConfig, TrainConfig,
                     check_completion_options, check_inspect_options, check_model_options, check_regularization,
                     check_fits, check_seed, choose_sizes, peak_learning_rate, require_at_least_one,
                     training_memory)
from .core.corpus import batchify, bptt_windows, check_length, encode_corpus, held_out_count, hold_out
from .core.device import (PrecisionChoice, choose_precision, one_thread, pick_device, precisions_to_measure,
                     seed_everything, use_cpu_threads)  # use_cpu_threads: for the interfaces (cli/common.py)
from .errors import BadInput, BadModelFile, CorpusError, TrainingInterrupted
from .lab.export import ExportReport, export_model
from .decoding.sampling import Sampling, sample_stream
from .decoding.healing import SplitPrefix, TokenTable, split_prefix
from .decoding.inference import Stepper
from .core.machine import available_memory
from .core.model import RecurrentLM, State
from .decoding.search import NEXT_TOKEN, Found, StopRule, beam_search, default_beam_width, sample_completions
from .core.store import ModelStore, default_model_name
from .core.tokenizer import (Tokenizer, TokenizerStats, tokenizer_from_blobs, tokenizer_stats,
                        train_tokenizer as learn_tokenizer)
from .training.signals import StopSignals
from .core.files import check_output_file
from .core.textfile import CorpusInfo, check_text, inspect_corpus, iter_lines, readable_copy
from .training.loop import (LN2, QuietObserver, StopRequested, Trainer, TrainObserver, probe_speed, stream_nll,
                       training_speed)

_LINE_START = "\n"
_EVAL_BATCH = 16


@dataclass(frozen=True)
class TokenScore:
    text: str  # the token's text (bytes that are not whole characters shown as \xNN)
    log_prob: float


@dataclass(frozen=True)
class Completion:
    prompt: str
    text: str  # what follows the prompt
    probability: float  # given the prompt (see `search`); completions returned together sum to at most 1
    tokens: tuple[TokenScore, ...]  # the most likely token path, starting with any that re-type the prompt's end
    retyped: str = ""  # the end of the prompt those first tokens re-type (token healing)

    def to_dict(self) -> dict:
        return {"text": self.text, "probability": self.probability,
                "tokens": [asdict(token) for token in self.tokens]}


@dataclass(frozen=True)
class Evaluation:
    bits_per_char: float
    nats_per_char: float
    perplexity: float
    tokens: int
    chars: int

    def to_dict(self) -> dict:
        return asdict(self)


class LanguageModel:
    """A trained model and its tokenizer, ready to complete, generate and evaluate text."""

    def __init__(self, model: RecurrentLM, tokenizer: Tokenizer, header: dict, path: Path | None = None,
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

    def _start(self, prefix: str) -> tuple[bytes, tuple[State, torch.Tensor]]:
        """The typed end of `prefix` still to re-type, and the model's state after the rest of it."""
        prefix = readable_end(check_text(prefix, "the prompt"))
        text = _reading_context(prefix) + prefix
        split = split_prefix(text, self.tokenizer) if prefix else SplitPrefix(self.tokenizer.encode(text), b"")
        return split.tail, self._stepper.prime(split.head_ids or self.tokenizer.encode(_LINE_START))

    def _completion(self, prefix: str, found: Found, retyped: bytes) -> Completion:
        tokens = tuple(TokenScore(self._tokens.token_bytes[t].decode("utf-8", "backslashreplace"), lp)
                       for t, lp in zip(found.token_ids, found.log_probs))
        typed = retyped[max(0, len(retyped) - len(prefix.encode())):]  # not the reading context
        return Completion(prefix, found.text, found.probability, tokens, typed.decode("utf-8", "replace"))

    @property
    def chars_per_token(self) -> float:
        corpus = self.header.get("corpus", {})
        return corpus["chars"] / corpus["tokens"] if corpus.get("tokens") else 1.0

    def complete(self, prefix: str, *, n: int = 3, until: str = "sentence", max_tokens: int = 80,
                 beam_width: int | None = None, normalize: bool = False, sample: bool = False,
                 temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                 seed: int | None = None) -> list[Completion]:
        """The `n` most likely distinct continuations of `prefix`, by beam search (or `n` sampled ones), each
        ending at the end of the sentence, line or word (`until`) or after `max_tokens` tokens. A prefix that
        ends inside a word is continued inside that word, whatever the tokenizer level."""
        check_completion_options(n, until, max_tokens, beam_width)
        check_seed("seed", seed)
        width = beam_width or default_beam_width(n)
        sampling = Sampling(temperature, top_k, top_p)  # checked even when not sampling: a typo is still a typo
        tail, start = self._start(prefix)
        rule = StopRule(until, max_tokens)
        if sample:
            found = sample_completions(self._stepper, start, self._tokens, tail, n=n, rule=rule, sampling=sampling,
                                       generator=_generator(seed))
        else:
            found = beam_search(self._stepper, start, self._tokens, tail, n=n, width=width, rule=rule,
                                normalize=normalize)
        return [self._completion(prefix, f, tail) for f in found]

    def suggest(self, prefix: str, *, max_chars: int = 32) -> str:
        """The single best short continuation of `prefix` (ghost text): to the end of the sentence and never past
        the end of the line, at most about `max_chars` characters, without trailing whitespace; "" when the
        model's best guess is a line break."""
        max_tokens = max(1, math.ceil(max_chars / self.chars_per_token))
        tail, start = self._start(prefix)
        found = beam_search(self._stepper, start, self._tokens, tail, n=1, width=2,
                            rule=StopRule("sentence", max_tokens))
        return found[0].text.split("\n", 1)[0].rstrip() if found else ""

    def next_tokens(self, prefix: str, n: int = 5) -> list[Completion]:
        """The `n` most likely next pieces of text after `prefix` (one token each, or the rest of a half-typed
        word's token), most likely first."""
        require_at_least_one("-n", n, 5)
        tail, start = self._start(prefix)
        found = beam_search(self._stepper, start, self._tokens, tail, n=n, width=default_beam_width(n),
                            rule=StopRule(NEXT_TOKEN, 1))
        return [self._completion(prefix, f, tail) for f in found]

    def generate(self, prompt: str = "", *, length: int = 200, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, seed: int | None = None) -> Iterator[str]:
        """Sample `length` tokens after `prompt`, yielding text as it is produced. The same seed gives the
        same text."""
        require_at_least_one("--length", length, 200)
        check_seed("seed", seed)
        sampling = Sampling(temperature, top_k, top_p)
        tail, start = self._start(prompt)
        return one_thread(sample_stream(self._stepper, start, self._tokens, tail, length=length,
                                        sampling=sampling, generator=_generator(seed)))

    def inspect(self, text: str, *, show: str = "forget", layer: int | None = None, units: list[int] | None = None,
                count: int = 3) -> Inspection:
        """What the LSTM does at each token of `text`: `show` (a gate, the candidate, the cell or the hidden state)
        for the given `units` of `layer` (1 is the bottom; default the top), or for the `count` most telling ones."""
        check_inspect_options(show, layer, units or [], count)
        check_text(text, "the text")
        context = self.tokenizer.encode(_reading_context(text))
        return inspect_text(self.model, self.tokenizer, context, text, show=show, layer=layer, units=units,
                            count=count)

    def evaluate(self, path: str | os.PathLike) -> Evaluation:
        """Perplexity and bits/nats per character of a text file (or a pipe) under this model."""
        with readable_copy(path, self.cache_dir.parent) as readable:
            info = inspect_corpus(readable)
            ids = encode_corpus(info, self.tokenizer, self.cache_dir)
        if len(ids) < 2:
            raise CorpusError(f"{path} is too short to evaluate (fewer than 2 tokens)", "pass a longer text")
        seq_len = self.header.get("training", {}).get("seq_len") or 64
        streams = batchify(ids, max(1, min(_EVAL_BATCH, len(ids) // (seq_len + 1))))
        nats, scored = stream_nll(self.model, bptt_windows(streams, seq_len), self.device, "fp32")
        nats_per_token = nats / max(scored, 1)
        nats_per_char = nats_per_token * len(ids) / info.chars
        return Evaluation(nats_per_char / LN2, nats_per_char, math.exp(min(nats_per_token, 50.0)), len(ids),
                          info.chars)

    def export(self, path: str | os.PathLike, fmt: str, sample_text: str = "When there is fire") -> ExportReport:
        """Write this model as ONNX or TorchScript (see export.py), traced on `sample_text` and checked on it."""
        token_ids = self.tokenizer.encode(_LINE_START) + self.tokenizer.encode(sample_text)
        return export_model(self.model, self.header, self.tokenizer.blobs(), Path(path), fmt, token_ids)

    def save(self, path: str | os.PathLike) -> None:
        save_bundle(Path(path), Bundle(self.model.weights_for_saving(), self.header, self.tokenizer.blobs()))

    def sample_text(self, length: int, seed: int = 0) -> str:
        """A short sample (temperature 0.8) for progress displays."""
        return "".join(self.generate("", length=length, temperature=0.8, seed=seed))


def readable_end(prompt: str) -> str:
    """The end of `prompt` the model reads: all of it, or for a prompt over `MAX_PROMPT_CHARS` characters what
    follows its first line break (else word break) within the last `MAX_PROMPT_CHARS`."""
    if len(prompt) <= MAX_PROMPT_CHARS:
        return prompt
    end = prompt[-MAX_PROMPT_CHARS:]
    for separator in ("\n", " "):
        cut = end.find(separator)
        if cut != -1:
            return end[cut + 1:]
    return end


def _reading_context(prefix: str) -> str:
    """What the model reads before a prompt: a line break, as at the start of a paragraph, or a space when the
    prompt starts with a lowercase letter, a fragment from the middle of a sentence (so that "my" is read as
    the word " my" the model knows, not as a word glued to whatever came before)."""
    return " " if prefix[:1].islower() else _LINE_START


def _generator(seed: int | None) -> torch.Generator:
    generator = torch.Generator()
    generator.manual_seed(seed if seed is not None else int.from_bytes(os.urandom(4), "little"))
    return generator


def load(model: str | os.PathLike | None = None, *, store: ModelStore | None = None) -> LanguageModel:
    """Load a model by store name or path; with no argument, $LSTMTEXT_MODEL or the default model."""
    store = store or ModelStore()
    path = store.resolve(str(model) if model is not None else None)
    bundle = load_bundle(path)
    try:
        config = ModelConfig.from_dict(bundle.header["model"])
        tokenizer = tokenizer_from_blobs(bundle.header["tokenizer"]["level"], bundle.tokenizer_blobs)
        network = RecurrentLM(config)
        network.load_saved_weights(bundle.weights)
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        raise BadModelFile(f"{path} is damaged or incomplete ({type(error).__name__}: {error})",
                           "retrain the model with `lstmtext train`") from None
    broken = [name for name, tensor in bundle.weights.items()
              if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if broken:
        raise BadModelFile(f"{path} has weights that are not finite numbers (NaN or infinity) in {broken[0]}",
                           "use an earlier copy of the model, or train it again")
    return LanguageModel(network, tokenizer, bundle.header, path, store.token_cache_dir)


def train_tokenizer(corpus: str | os.PathLike, config: TokenizerConfig = TokenizerConfig(), *,
                    store: ModelStore | None = None) -> tuple[Tokenizer, TokenizerStats]:
    """Learn a tokenizer from a corpus file and measure it on that corpus."""
    store = store or ModelStore()
    with readable_copy(corpus, store.cache_dir) as readable:
        info = inspect_corpus(readable)
        tokenizer = learn_tokenizer(iter_lines(info.path), config)
        ids = encode_corpus(info, tokenizer, store.token_cache_dir)
    return tokenizer, tokenizer_stats(tokenizer, np.bincount(ids, minlength=tokenizer.vocab_size), info.chars)


@dataclass(frozen=True)
class TrainResult:
    model: LanguageModel
    path: Path
    name: str | None
    val_loss: float
    bits_per_char: float
    steps: int
    elapsed: float


@dataclass(frozen=True)
class _RunPlan:
    """What a training run trains: its tokenizer and its settings, resolved (sizes chosen)."""

    tokenizer: Tokenizer
    training: TrainConfig  # its precision resolved: never "auto"
    model: ModelConfig
    sizing: str
    precision: PrecisionChoice

    def to_dict(self, corpus_sha256: str) -> dict:
        return {"level": self.tokenizer.level, "training": self.training.to_dict(), "model": self.model.to_dict(),
                "sizing": self.sizing, "precision_reason": self.precision.reason, "corpus_sha256": corpus_sha256}

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> "_RunPlan":
        saved = checkpoint.header["plan"]
        training = TrainConfig(**saved["training"])
        reason = saved.get("precision_reason", "chosen")
        precision = PrecisionChoice(training.precision, f"{reason}, when the run began")
        if training.precision == "auto":  # a checkpoint from before precisions were resolved in the plan
            precision = choose_precision("auto", pick_device(training.device))
            training = replace(training, precision=precision.precision)
        return cls(tokenizer_from_blobs(saved["level"], checkpoint.tokenizer_blobs), training,
                   ModelConfig.from_dict(saved["model"]), saved["sizing"], precision)


def checkpoint_path(model_path: Path) -> Path:
    """Where a run that saves to `model_path` keeps its checkpoint."""
    return model_path.with_suffix(".ckpt")


def train(corpus: str | os.PathLike, *, tokenizer: TokenizerConfig = TokenizerConfig(),
          training: TrainConfig = TrainConfig(), cell: str = "lstm", layers: int | None = None,
          hidden_size: int | None = None, embed_size: int | None = None,
          regularization: Regularization = Regularization(), tie_weights: bool = True, resume: bool = False,
          init_from: str | os.PathLike | None = None,
          name: str | None = None, out: str | os.PathLike | None = None, store: ModelStore | None = None,
          observer: TrainObserver | None = None) -> TrainResult | None:
    """Tokenize `corpus`, train a model on it and save it: to `out` if given, else into the store under
    `name` (default: the corpus file's stem), which then becomes the default model. Nothing is written
    unless training succeeds, so a failed run never replaces a good model. Checkpoints go beside the model
    (`checkpoint_path`); `resume` continues the run from there with the settings it started with.
    `init_from` (a model name or path) fine-tunes that model: its tokenizer and shape are kept, its weights
    are the starting point. Started by torchrun, every process trains on its share of the batch and only
    rank 0 reports and saves (the others return None). `corpus` may be a pipe: it is read once into a
    temporary file."""
    store = store or ModelStore()
    if out is None:
        name = name if name is not None else default_model_name(corpus)
    with readable_copy(corpus, store.cache_dir) as readable:
        return _train(readable, tokenizer=tokenizer, training=training, cell=cell, layers=layers,
                      hidden_size=hidden_size, embed_size=embed_size, regularization=regularization,
                      tie_weights=tie_weights, resume=resume, init_from=init_from, name=name, out=out, store=store,
                      observer=observer)


def _train(corpus: Path, *, tokenizer: TokenizerConfig, training: TrainConfig, cell: str, layers: int | None,
           hidden_size: int | None, embed_size: int | None, regularization: Regularization, tie_weights: bool,
           resume: bool, init_from: str | os.PathLike | None, name: str | None, out: str | os.PathLike | None,
           store: ModelStore, observer: TrainObserver | None) -> TrainResult | None:
    is_main = distributed.is_main_process()
    observer = observer if observer is not None and is_main else QuietObserver()
    started = time.monotonic()
    check_model_options(cell, layers, hidden_size, embed_size)
    check_regularization(regularization)
    destination = Path(out) if out is not None else store.path_for(name)
    check_output_file(destination, "--out" if out is not None else "the model file")
    info = inspect_corpus(corpus)
    if resume and init_from is not None:
        raise BadInput("--resume and --init-from both given", "--resume goes on with a run; --init-from starts one")
    checkpoint = _checkpoint_to_resume(checkpoint_path(destination), info.sha256) if resume else None
    base = load(init_from, store=store) if init_from is not None else None
    if checkpoint is not None:
        plan = _RunPlan.from_checkpoint(checkpoint)
        ids = encode_corpus(info, plan.tokenizer, store.token_cache_dir)
        start_note = (f"resuming at step {checkpoint.header['position']['step']:,} from "
                      f"{checkpoint_path(destination)} with the settings it started with")
    elif base is not None:
        shape = base.config
        ids = encode_corpus(info, base.tokenizer, store.token_cache_dir)
        plan = _plan_run(base.tokenizer, training, ids, info, cell=shape.cell, layers=shape.layers,
                         hidden_size=shape.hidden_size, embed_size=shape.embed_size,
                         regularization=regularization, tie_weights=shape.tie_weights)
        start_note = (f"fine-tuning {base.path}: its {base.tokenizer.level} tokenizer and its "
                      f"{shape.layers}×{shape.hidden_size} {shape.cell.upper()} are kept")
    else:
        text_tokenizer = learn_tokenizer(iter_lines(info.path), tokenizer)
        ids = encode_corpus(info, text_tokenizer, store.token_cache_dir)
        plan = _plan_run(text_tokenizer, training, ids, info, cell=cell, layers=layers, hidden_size=hidden_size,
                         embed_size=embed_size, regularization=regularization, tie_weights=tie_weights)
        start_note = None
    training, precision = plan.training, plan.training.precision
    seed_everything(training.seed)
    device = pick_device(training.device)
    ranks = None
    if distributed.launched_by_torchrun():
        ranks, device = distributed.start(device)
    check_fits(training_memory(plan.model, training.batch_size, training.seq_len), *_free_memory(device))
    for note in (str(plan.precision), start_note, plan.sizing):
        if note:
            observer.on_note(note)

    network = RecurrentLM(plan.model)
    if ranks is not None and not ranks.is_main:  # its own dropout draws; DDP copies rank 0's initial weights
        seed_everything(training.seed + ranks.rank)
    if base is not None:
        network.load_saved_weights(base.model.weights_for_saving())
    streams, val_streams = hold_out(batchify(ids, training.batch_size),
                                    held_out_count(len(ids), training.val_fraction, training.eval_tokens))
    chars_per_token = len(plan.tokenizer.decode(val_streams.ravel())) / val_streams.size

    def sample(model: RecurrentLM) -> str:
        return LanguageModel(model, plan.tokenizer, {}, cache_dir=store.token_cache_dir).sample_text(
            training.sample_length)

    def save_checkpoint(snapshot: Checkpoint) -> None:
        write_checkpoint(checkpoint_path(destination), replace(
            snapshot, tokenizer_blobs=plan.tokenizer.blobs(),
            header={**snapshot.header, "plan": plan.to_dict(info.sha256)}))

    with StopSignals() as signals:
        try:
            trainer = Trainer(network, training, distributed.shard_streams(streams, ranks) if ranks else streams,
                              val_streams, chars_per_token, device, precision, sample, observer,
                              save_checkpoint if is_main else None, signals.received, ranks)
            if checkpoint is not None:
                trainer.restore(checkpoint)
            outcome = trainer.run()
        except StopRequested as stop:
            raise TrainingInterrupted(stop.step, str(checkpoint_path(destination))) from None
        except KeyboardInterrupt:  # a second Ctrl-C: no new checkpoint, but the last one is whole
            if checkpoint_path(destination).is_file():
                raise TrainingInterrupted(None, str(checkpoint_path(destination))) from None
            raise
        finally:
            distributed.stop()
    if not is_main:
        return None  # rank 0 saves the model
    network.load_state_dict(outcome.best_weights)
    header = _model_header(plan, info, len(ids), outcome, {
        "total_seconds": time.monotonic() - started, "device": str(device), "precision": precision,
        "parameters": network.parameter_count(), "sizing": plan.sizing})
    result_model = LanguageModel(network.cpu().eval(), plan.tokenizer, header, destination, store.token_cache_dir)
    result_model.save(destination)
    checkpoint_path(destination).unlink(missing_ok=True)  # the run is finished: nothing left to resume
    if name is not None:
        store.set_default(name)
    return TrainResult(result_model, destination, name, outcome.best.val_loss, outcome.best.bits_per_char,
                       outcome.steps, outcome.elapsed)


def _model_header(plan: _RunPlan, info, tokens: int, outcome, run: dict) -> dict:
    """What a saved model says about itself: its settings, its corpus, how it was trained and how well."""
    return {
        "lstmtext_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": plan.model.to_dict(),
        "tokenizer": {"level": plan.tokenizer.level, "vocab_size": plan.tokenizer.vocab_size},
        "training": plan.training.to_dict(),
        "corpus": {"name": info.path.name, "bytes": info.bytes, "chars": info.chars, "sha256": info.sha256,
                   "tokens": int(tokens)},
        "metrics": {"val_loss": outcome.best.val_loss, "val_perplexity": outcome.best.perplexity,
                    "val_bits_per_char": outcome.best.bits_per_char, "best_step": outcome.best.step},
        "run": {"steps": outcome.steps, "tokens_seen": outcome.tokens_seen, "train_seconds": outcome.elapsed,
                **run},
    }


def _plan_run(text_tokenizer: Tokenizer, training: TrainConfig, ids: np.ndarray, corpus: CorpusInfo, *, cell: str,
              layers: int | None, hidden_size: int | None, embed_size: int | None,
              regularization: Regularization, tie_weights: bool) -> _RunPlan:
    """Choose the sizes a new run leaves open, from the corpus's token ids, the budget and, for a time
    budget, this machine's measured speed (not under torchrun, where every process must choose alike)."""
    held_out = held_out_count(len(ids), training.val_fraction, training.eval_tokens)
    train_tokens = len(ids) - held_out
    precision, speed = _precision_and_speed(training, text_tokenizer.vocab_size, layers or DEFAULT_LAYERS)
    sizing = choose_sizes(text_tokenizer.level, train_tokens, training, hidden_size, layers, regularization,
                          speed, corpus.chars / len(ids), text_tokenizer.vocab_size, distributed.world_size())
    check_length(train_tokens, held_out, sizing.seq_len, corpus.path)
    training = replace(training, seq_len=sizing.seq_len, batch_size=sizing.batch_size, epochs=sizing.epochs,
                       lr=training.lr or peak_learning_rate(sizing.hidden_size), precision=precision.precision)
    config = ModelConfig(vocab_size=text_tokenizer.vocab_size, cell=cell, layers=sizing.layers,
                         hidden_size=sizing.hidden_size, embed_size=embed_size or sizing.hidden_size,
                         tie_weights=tie_weights, **sizing.regularization)
    return _RunPlan(text_tokenizer, training, config, sizing.reason, precision)


def _free_memory(device: torch.device) -> tuple[int | None, str]:
    """Bytes free for training on `device`, and what to call the place."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0], f"the GPU ({device})"
    return available_memory(), "this machine"


def _precision_and_speed(training: TrainConfig, vocab_size: int, layers: int
                         ) -> tuple[PrecisionChoice, Callable[[int], float] | None]:
    """The precision to train in, and for a time budget this machine's training speed in it (tokens/s as a
    function of the hidden size). One probe serves both; none runs under torchrun, where every process must
    choose alike."""
    device = pick_device(training.device)
    candidates = precisions_to_measure(training.precision, device)
    wants_speed = training.max_time is not None
    if distributed.launched_by_torchrun() or not (candidates or wants_speed):
        return choose_precision(training.precision, device), None
    if candidates:
        measured = probe_speed(device, layers, candidates)
        precision = choose_precision(training.precision, device, measured)
    else:
        precision = choose_precision(training.precision, device)
        measured = probe_speed(device, layers, (precision.precision,))
    speed = training_speed(measured[precision.precision], vocab_size, layers) if wants_speed else None
    return precision, speed


def _checkpoint_to_resume(path: Path, corpus_sha256: str) -> Checkpoint:
    if not path.is_file():
        raise BadInput(f"there is no checkpoint to resume at {path}",
                       "run the same command without --resume to start training")
    checkpoint = load_checkpoint(path)
    processes = checkpoint.header.get("processes", 1)
    if processes != distributed.world_size():
        raise BadInput(f"the checkpoint {path} was written by {processes} training process(es), this run has "
                       f"{distributed.world_size()}", f"resume with the same number of processes ({processes})")
    if checkpoint.header.get("plan", {}).get("corpus_sha256") != corpus_sha256:
        raise CorpusError(f"the corpus is not the one the checkpoint {path} was trained on",
                          "resume with the same corpus file, or start again without --resume")
    return checkpoint
