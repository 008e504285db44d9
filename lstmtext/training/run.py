"""A training run, start to end: `prepare` (read the corpus, learn or take a tokenizer, choose the sizes, build the
model), `fit` (the loop, with Ctrl-C and checkpoints), `save` (the best weights and what the run was).

Nothing is written unless training succeeds, so a failed run never replaces a good model. Started by torchrun,
every process trains on its share of the batch and only rank 0 saves.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from ..core.bundle import Bundle, save_bundle
from ..core.config import ModelConfig, softmax_cutoffs
from ..core.corpus import batchify, check_length, encode_corpus, held_out_count, hold_out_tail, scoring_streams
from ..core.device import pick_device, seed_everything
from ..core.model import RecurrentLM, open_gates
from ..core.model_file import read_model
from ..core.model_header import ModelHeader
from ..core.softmax import AdaptiveDecoder
from ..core.store import ModelStore
from ..core.textfile import CorpusInfo, inspect_corpus, lines_before
from ..core.tokenizer import Tokenizer
from ..core.tokenizer_training import train_tokenizer
from ..decoding.reading import progress_sample
from ..errors import TrainingInterrupted
from ..options import ModelShape, TrainConfig
from ..options.adaptation import default_adaptation
from ..version import __version__
from . import distributed
from .adaptation import Adapter
from .checkpoint import Checkpoint, checkpoint_to_resume, save_checkpoint
from .hooks import Faults, Runtime, TrainHooks, TrainingData
from .loop import Trainer
from .memory import check_fits, free_memory, training_memory
from .plan import PreparedRun, RunPlan, SavedRun, TrainRequest, checkpoint_path
from .progress import StopRequested, TrainObserver, TrainOutcome
from .scoring import LN2
from .signals import StopSignals
from .sizing import layer_lr_decay, peak_learning_rate, plan_sizes
from .start import Start, choose_start


def train_model(corpus: Path, request: TrainRequest, store: ModelStore, observer: TrainObserver,
                faults: Faults | None = None) -> SavedRun | None:
    """Prepare, fit and save; None on processes other than rank 0."""
    started = time.monotonic()
    run = prepare(corpus, request, store)
    for note in run.notes:
        observer.on_note(note)
    outcome = fit(run, observer, faults or Faults())
    return save(run, outcome, time.monotonic() - started, observer) if outcome is not None else None


def prepare(corpus: Path, request: TrainRequest, store: ModelStore) -> PreparedRun:
    info = inspect_corpus(corpus)
    checkpoint = (checkpoint_to_resume(checkpoint_path(request.destination), info.sha256) if request.resume
                  else None)
    plan, ids, start_note, initial_weights = _plan(request, info, checkpoint, store)
    training = plan.training
    seed_everything(training.seed)
    device, ranks = pick_device(training.device), None
    if distributed.launched_by_torchrun():
        ranks, device = distributed.start(device)
    check_fits(training_memory(plan.model, training.batch_size, training.seq_len), *free_memory(device))
    train_ids, val_ids = hold_out_tail(ids, held_out_count(len(ids), training.val_fraction, training.eval_tokens))
    network = RecurrentLM(plan.model)
    if ranks is not None and not ranks.is_main:  # its own dropout draws; DDP copies rank 0's initial weights
        seed_everything(training.seed + ranks.rank)
    if initial_weights is not None:
        network.load_saved_weights(initial_weights)
    else:
        _start_new_weights(network, train_ids, training)
    streams, val_streams = batchify(train_ids, training.batch_size), scoring_streams(val_ids, training.seq_len)
    chars_per_token = len(plan.tokenizer.decode(val_streams.ravel())) / val_streams.size
    data = TrainingData(distributed.shard_streams(streams, ranks) if ranks else streams, val_streams,
                        chars_per_token)
    notes = tuple(note for note in (str(plan.precision), start_note, plan.sizing) if note)
    return PreparedRun(request, plan, info, len(ids), network, data, Runtime(device, training.precision, ranks),
                       checkpoint, notes)


def _start_new_weights(network: RecurrentLM, train_ids: np.ndarray, training: TrainConfig) -> None:
    """What a new model knows before its first step: an adaptive softmax's tokens ranked by their frequency in
    the training text; with `chrono_init`, the gates opened."""
    if isinstance(network.decoder, AdaptiveDecoder):
        counts = np.bincount(train_ids, minlength=network.config.vocab_size)
        network.decoder.rank_by_frequency(torch.from_numpy(counts))
    if training.chrono_init:
        open_gates(network, training.seq_len, torch.Generator().manual_seed(training.seed))


def _plan(request: TrainRequest, info: CorpusInfo, checkpoint: Checkpoint | None, store: ModelStore
          ) -> tuple[RunPlan, np.ndarray, str | None, dict | None]:
    """The run's plan, the corpus's token ids, a note on where the run starts from and the weights it starts
    with: a checkpoint (its own plan; its weights are restored later), a model to fine-tune (its tokenizer,
    shape and weights), or nothing (a new tokenizer, sizes chosen, new weights)."""
    if checkpoint is not None:
        plan = RunPlan.from_checkpoint(checkpoint)
        return plan, encode_corpus(info, plan.tokenizer, store.token_cache_dir), (
            f"resuming at step {checkpoint.header['position']['step']:,} from "
            f"{checkpoint_path(request.destination)} with the settings it started with"), None
    start = choose_start(info, request.base, request.tokenizer, request.shape, request.training, store)
    if start.base is not None:
        base = read_model(start.base)
        config = base.network.config
        shape = ModelShape(config.cell, config.layers, config.hidden_size, config.embed_size, config.tie_weights)
        ids = encode_corpus(info, base.tokenizer, store.token_cache_dir)
        plan = _new_plan(base.tokenizer, replace(request, shape=shape), ids, info, config.softmax_cutoffs,
                         start=start)
        return plan, ids, (
            f"{start.reason}; its {base.tokenizer.level} tokenizer and its "
            f"{config.layers}×{config.hidden_size} {config.cell.upper()} are kept"), base.network.weights_for_saving()
    # Learned from the text before the held-out end only, so that validation meets words it never saw as new text
    # does: a word vocabulary learned on all of tinyshakespeare read its held-out end 21% too well.
    training_part = lines_before(info.path, math.ceil(info.chars * (1 - request.training.val_fraction)))
    tokenizer = train_tokenizer(training_part, request.tokenizer)
    ids = encode_corpus(info, tokenizer, store.token_cache_dir)
    return _new_plan(tokenizer, request, ids, info, start=start), ids, start.reason or None, None


def _new_plan(tokenizer: Tokenizer, request: TrainRequest, ids: np.ndarray, corpus: CorpusInfo,
              cutoffs: tuple[int, ...] | None = None, start: Start | None = None) -> RunPlan:
    """Sizes chosen for what the request leaves open (see sizing.py); the output layer from the vocabulary's size
    unless `cutoffs` (a model fine-tuned keeps its own) says."""
    training, shape = request.training, request.shape
    held_out = held_out_count(len(ids), training.val_fraction, training.eval_tokens)
    train_tokens = len(ids) - held_out
    fine_tuning = start is not None and start.base is not None
    precision, sizing = plan_sizes(tokenizer.level, tokenizer.vocab_size, train_tokens, corpus.chars / len(ids),
                                   training, shape.hidden_size, shape.layers, request.regularization, fine_tuning)
    check_length(train_tokens, held_out, sizing.seq_len, corpus.path)
    training = replace(training, seq_len=sizing.seq_len, batch_size=sizing.batch_size, epochs=sizing.epochs,
                       lr=training.lr or peak_learning_rate(sizing.hidden_size, fine_tuning, sizing.passes),
                       layer_lr_decay=training.layer_lr_decay or layer_lr_decay(fine_tuning),
                       precision=precision.precision)
    if cutoffs is None:
        cutoffs = softmax_cutoffs(tokenizer.vocab_size, tokenizer.level)
    config = ModelConfig(vocab_size=tokenizer.vocab_size, cell=shape.cell, layers=sizing.layers,
                         hidden_size=sizing.hidden_size, embed_size=shape.embed_size or sizing.hidden_size,
                         tie_weights=shape.tie_weights, softmax_cutoffs=cutoffs, regularization=sizing.regularization)
    return RunPlan(tokenizer, training, config, sizing.reason, precision, start)


def fit(run: PreparedRun, observer: TrainObserver, faults: Faults) -> TrainOutcome | None:
    """Train; Ctrl-C stops after the step with a checkpoint to resume from. None on ranks other than 0."""
    plan, is_main = run.plan, run.runtime.ranks is None or run.runtime.ranks.is_main

    def write(snapshot: Checkpoint) -> None:
        save_checkpoint(run.checkpoint_path, replace(
            snapshot, tokenizer_blobs=plan.tokenizer.blobs(),
            header={**snapshot.header, "plan": plan.to_dict(run.corpus.sha256)}))

    with StopSignals() as signals:
        hooks = TrainHooks(observer, progress_sample(plan.tokenizer, plan.training.sample_length),
                           write if is_main else None, signals.received, faults)
        try:
            outcome = _run_trainer(run, hooks)
        except StopRequested as stop:
            raise TrainingInterrupted(stop.step, str(run.checkpoint_path)) from None
        except KeyboardInterrupt:  # a second Ctrl-C: no new checkpoint, but the last one is whole
            if run.checkpoint_path.is_file():
                raise TrainingInterrupted(None, str(run.checkpoint_path)) from None
            raise
        finally:
            distributed.stop()
    return outcome if is_main else None


def _run_trainer(run: PreparedRun, hooks: TrainHooks) -> TrainOutcome:
    """The trainer (and its DDP wrapper) lives only here, so it is gone before the process group is destroyed."""
    trainer = Trainer(run.network, run.plan.training, run.data, run.runtime, hooks)
    if run.checkpoint is not None:
        trainer.restore(run.checkpoint)
    return trainer.run()


def save(run: PreparedRun, outcome: TrainOutcome, seconds: float, observer: TrainObserver) -> SavedRun:
    """Write the best weights (having learned the held-out tail, unless told not to) to the destination and drop
    the checkpoint: the run is finished."""
    network = run.network
    network.load_state_dict(outcome.best_weights)
    held_out = run.data.val_streams.ravel()  # the rows are consecutive pieces: in text order
    learned, expected = None, outcome.best.bits_per_char
    if run.plan.training.learn_held_out:
        adaptation = default_adaptation(run.plan.tokenizer.level)
        observer.on_note(f"learning the held-out end of the corpus ({len(held_out):,} tokens) now that "
                         f"validation is done")
        reading = Adapter(network, adaptation).read(held_out)
        # Each token scored before it is learned, by a model that knows all the text before it: what the saved
        # model, which knows all of it, will meet in the text that comes next.
        expected = float(reading.nats.mean()) / run.data.val_chars_per_token / LN2
        learned = {"tokens": len(held_out), "bits_per_char": expected, "adaptation": adaptation.to_dict()}
    network = network.cpu().eval()
    for parameter in network.parameters():
        parameter.requires_grad_(True)  # adaptation froze the lower layers
    written = _model_header(run, outcome, seconds)
    written["metrics"]["held_out_bits_per_char"] = expected
    written["held_out"] = {"tokens": len(held_out), "learned": learned}
    header = ModelHeader.from_dict(written)
    save_bundle(run.request.destination,
                Bundle(network.weights_for_saving(), header.to_dict(), run.plan.tokenizer.blobs()))
    run.checkpoint_path.unlink(missing_ok=True)
    return SavedRun(network, run.plan.tokenizer, header, outcome)


def _model_header(run: PreparedRun, outcome: TrainOutcome, seconds: float) -> dict:
    """What a saved model says about itself: its settings, its corpus, how it was trained and how well."""
    plan, info = run.plan, run.corpus
    return {
        "lstmtext_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": plan.model.to_dict(),
        "tokenizer": {"level": plan.tokenizer.level, "vocab_size": plan.tokenizer.vocab_size},
        "training": plan.training.to_dict(),
        "adaptation": default_adaptation(plan.tokenizer.level).to_dict(),
        "corpus": {"name": info.path.name, "bytes": info.bytes, "chars": info.chars, "sha256": info.sha256,
                   "tokens": int(run.tokens)},
        "metrics": {"val_loss": outcome.best.val_loss, "val_perplexity": outcome.best.perplexity,
                    "val_bits_per_char": outcome.best.bits_per_char, "best_step": outcome.best.step},
        "base": plan.start.header() if plan.start else None,
        "run": {"steps": outcome.steps, "tokens_seen": outcome.tokens_seen, "train_seconds": outcome.elapsed,
                "total_seconds": seconds, "device": str(run.runtime.device), "precision": plan.training.precision,
                "parameters": run.network.parameter_count(), "sizing": plan.sizing},
    }
